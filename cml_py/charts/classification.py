"""ROC and precision-recall curves overlaid, and confusion matrices side by side."""

from __future__ import annotations

import numpy as np

from cml_py.charts import style
from cml_py.charts.data import Chart, ChartData, Side

MAX_CONFUSION_CLASSES = 20
MAX_ANNOTATED_CLASSES = 10  # beyond this, hundreds of numbers cost more than they tell
MAX_ANNOTATED_SHARES = 6
"""Above this, the by-class panels show their shares as colour only: the counts beside
them carry the numbers, and 400 numbers (10 classes, 4 panels) took matplotlib 0.6 s
to lay out and draw, twice the time of any other chart."""
CURVE_SAMPLE = 200_000


def _curve_points(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, ...]:
    """(fpr, tpr, recall, precision) at every distinct threshold, highest score first."""
    order = np.argsort(-score, kind="mergesort")
    s, pos = score[order], positive[order].astype(np.float64)
    last = np.r_[s[1:] != s[:-1], True]
    tp = np.cumsum(pos)[last]
    fp = np.cumsum(1.0 - pos)[last]
    total_pos, total_neg = max(tp[-1], 1.0), max(fp[-1], 1.0)
    tpr = np.r_[0.0, tp / total_pos]
    fpr = np.r_[0.0, fp / total_neg]
    precision = np.r_[1.0, tp / np.maximum(tp + fp, 1.0)]
    recall = tpr
    return fpr, tpr, recall, precision


def _binary_view(data: ChartData, side: Side) -> tuple[np.ndarray, np.ndarray] | None:
    """(positive, score): the positive class of a binary task, micro-averaged otherwise.

    Above 200,000 points a fixed random sample of rows draws the curve: at 800 pixels
    wide it is indistinguishable from the full curve, and sorting stays cheap."""
    if side.scores is None:
        return None
    y, scores = side.y, side.scores
    limit = CURVE_SAMPLE if len(data.labels) == 2 else CURVE_SAMPLE // len(data.labels)
    if len(y) > limit:
        rows = np.random.default_rng(0).choice(len(y), limit, replace=False)
        y, scores = y[rows], scores[rows]
    if len(data.labels) == 2:
        return y == 1, scores[:, 1]
    onehot = np.zeros_like(scores, dtype=bool)
    onehot[np.arange(len(y)), y] = True
    return onehot.ravel(), scores.ravel()


def _reported(data: ChartData, name: str) -> tuple[float | None, float | None]:
    """(main, this PR) of a metric as the report shows it, so a legend never disagrees
    with the table beside it."""
    from cml_py.model import is_finite_number

    for row in data.rows:
        if row.name == name:
            base = float(row.base) if row.has_base and is_finite_number(row.base) else None
            head = float(row.head) if row.has_head and is_finite_number(row.head) else None
            return base, head
    return None, None


def _or(reported: float | None, drawn: float) -> float:
    return drawn if reported is None else reported


def _areas(
    fpr: np.ndarray, tpr: np.ndarray, recall: np.ndarray, precision: np.ndarray
) -> tuple[float, float]:
    """(area under the ROC curve, average precision) of the drawn points."""
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    ap = float(np.sum(np.diff(recall) * precision[1:]))
    return auc, ap


@style.styled
def roc_pr(data: ChartData) -> Chart:
    name, title = "roc_pr", "ROC and precision-recall curves"
    sides = [
        (label, colour, side)
        for (label, colour), side in zip(style.SIDES, (data.base, data.head), strict=True)
        if side is not None
    ]
    candidates = [(label, colour, _binary_view(data, side)) for label, colour, side in sides]
    views = [(label, colour, view) for label, colour, view in candidates if view is not None]
    if not views:
        return Chart(name, title, note="no predicted probabilities (proba_<class> columns)")
    fig, axes = style.figure(1, 2)
    roc, pr = axes[0, 0], axes[0, 1]
    binary = len(data.labels) == 2
    suffix = "" if binary else " (micro-average over classes)"
    reported = {"main": 0, "this PR": 1}
    auc_rows, ap_rows = _reported(data, "roc_auc"), _reported(data, "average_precision")
    for label, colour, (positive, score) in views:
        fpr, tpr, recall, precision = _curve_points(positive, score)
        auc, ap = _areas(fpr, tpr, recall, precision)
        if binary:  # the report's own numbers: one value per metric in the whole comment
            auc = _or(auc_rows[reported[label]], auc)
            ap = _or(ap_rows[reported[label]], ap)
        kind = "" if binary else "micro "
        step = style.thin(len(fpr))
        roc.plot(fpr[step], tpr[step], color=colour, label=f"{label} ({kind}AUC {auc:.3f})", lw=1.6)
        pr.plot(
            recall[step],
            precision[step],
            color=colour,
            label=f"{label} ({kind}AP {ap:.3f})",
            linewidth=1.6,
            drawstyle="steps-post",
        )
    roc.plot([0, 1], [0, 1], color=style.NEUTRAL, linestyle=":", linewidth=0.8)
    roc.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title="ROC" + suffix,
    )
    pr.set(
        xlabel="recall",
        ylabel="precision",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title="Precision-recall" + suffix,
    )
    for ax in (roc, pr):
        style.legend_outside(ax)
    return Chart(name, title, fig)


@style.styled
def confusion(data: ChartData) -> Chart:
    name, title = "confusion", "Confusion matrices"
    sides = [
        (label, side)
        for (label, _), side in zip(style.SIDES, (data.base, data.head), strict=True)
        if side is not None
    ]
    k = len(data.labels)
    if not sides or k == 0:
        return Chart(name, title, note="no classification predictions")
    if k > MAX_CONFUSION_CLASSES:
        return Chart(name, title, note=f"{k} classes are too many to read as a matrix")
    panel = min(3.2 + 0.2 * k, 5.2)
    fig, axes = style.figure(len(sides), 2, height=panel * len(sides), width=2 * panel + 0.6)
    ticks = [style.text(label, 12) for label in data.labels]
    for row, (label, side) in enumerate(sides):
        counts = np.bincount(side.y * k + side.pred, minlength=k * k).reshape(k, k)
        totals = counts.sum(axis=1, keepdims=True)
        normalised = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
        for col, (matrix, kind) in enumerate(((counts, "counts"), (normalised, "by true class"))):
            ax = axes[row, col]
            ax.grid(False)
            ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
            if k <= (MAX_ANNOTATED_CLASSES if kind == "counts" else MAX_ANNOTATED_SHARES):
                for i in range(k):
                    for j in range(k):
                        value = matrix[i, j]
                        text = f"{value:d}" if kind == "counts" else f"{value:.2f}"
                        ax.text(
                            j,
                            i,
                            text,
                            ha="center",
                            va="center",
                            fontsize=7 if k <= 6 else 6,
                            color="white" if normalised[i, j] > 0.6 else "#24292f",
                            in_layout=False,  # inside its cell: the layout need not measure
                        )
            # Class names on the outer edges only (the panels share both axes): half as
            # many labels to read, and to lay out and draw.
            bottom, left = row == len(sides) - 1, col == 0
            ax.set_xticks(range(k), ticks if bottom else [], rotation=45 if k > 6 else 0)
            ax.set_yticks(range(k), ticks if left else [])
            ax.set(
                xlabel="predicted" if bottom else "",
                ylabel="true" if left else "",
                title=f"{label}: {kind}",
            )
    return Chart(name, title, fig)
