"""Metrics from predictions, written with numpy so that the same functions compute a
point estimate and, vectorised over a leading axis, a thousand bootstrap resamples.

Count-based classification metrics are functions of the confusion matrix; the rest are
functions of sorted scores (ROC AUC, average precision) or of per-row losses. Every
function here is checked against scikit-learn's own in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cml_py.train.predictions import Encoded, Predictions, encode

EPS = float(np.finfo(np.float64).eps)


MAX_PER_CLASS_STATS = 1000
"""Above this many classes, per-class metrics get point values but no intervals: their
bootstrap would hold classes × resamples numbers per metric and say little."""


def confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(np.float64)


def class_counts(
    y: np.ndarray, pred: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, support, predicted) per class — everything the count metrics
    need, in O(n + k) memory rather than a k × k confusion matrix (10,000 classes would
    be 800 MB, and a thousand resamples of it 745 GiB)."""
    hit = y == pred
    return (
        np.bincount(y[hit], minlength=k).astype(np.float64),
        np.bincount(y, minlength=k).astype(np.float64),
        np.bincount(pred, minlength=k).astype(np.float64),
    )


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0, as scikit-learn's zero_division=0."""
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def count_metrics(
    tp: np.ndarray,
    support: np.ndarray,
    predicted: np.ndarray,
    labels: tuple[str, ...],
    *,
    per_class: bool = True,
) -> dict[str, np.ndarray]:
    """Metrics from per-class counts `[..., class]` (as `class_counts` gives, or stacked
    over bootstrap resamples); each value has the shape of `tp[..., 0]`.

    Macro averages run over every label seen in y_true or y_pred (scikit-learn's default
    labels); balanced accuracy over the labels present in y_true, as scikit-learn does.
    """
    total = support.sum(axis=-1)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * tp, support + predicted)
    present = support > 0
    out: dict[str, np.ndarray] = {
        "accuracy": _safe_div(tp.sum(axis=-1), total),
        "balanced_accuracy": _safe_div((recall * present).sum(axis=-1), present.sum(axis=-1)),
        "precision_macro": precision.mean(axis=-1),
        "recall_macro": recall.mean(axis=-1),
        "f1_macro": f1.mean(axis=-1),
        "precision_weighted": _safe_div((precision * support).sum(axis=-1), total),
        "recall_weighted": _safe_div((recall * support).sum(axis=-1), total),
        "f1_weighted": _safe_div((f1 * support).sum(axis=-1), total),
    }
    if per_class:
        for i, label in enumerate(labels):
            out[f"per_class.{label}.precision"] = precision[..., i]
            out[f"per_class.{label}.recall"] = recall[..., i]
            out[f"per_class.{label}.f1"] = f1[..., i]
    return out


@dataclass(frozen=True)
class ScoreGroups:
    """Rows grouped by distinct score (ascending), with positives and negatives per group.

    One sort serves ROC AUC, average precision, the bootstrap's histograms and DeLong's
    placement values, which is what keeps a million rows fast.
    """

    values: np.ndarray  # distinct scores, ascending
    group: np.ndarray  # per row: index into `values`
    pos: np.ndarray  # positives per group
    neg: np.ndarray  # negatives per group


def score_groups(positive: np.ndarray, score: np.ndarray) -> ScoreGroups:
    values, group = np.unique(score, return_inverse=True)
    pos = np.bincount(group, weights=positive, minlength=len(values))
    neg = np.bincount(group, minlength=len(values)) - pos
    return ScoreGroups(values, group, pos, neg)


def auc_from_hist(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """ROC AUC (Mann–Whitney, ties count one half) from per-group counts in ascending
    score order; vectorised over leading axes."""
    below = np.cumsum(neg, axis=-1) - neg
    return _safe_div((pos * (below + 0.5 * neg)).sum(axis=-1), pos.sum(axis=-1) * neg.sum(axis=-1))


def ap_from_hist(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Average precision, Σ (R_k − R_{k−1}) P_k over distinct thresholds (scikit-learn's
    definition), from per-group counts in ascending score order."""
    pos_d, neg_d = pos[..., ::-1], neg[..., ::-1]
    tp = np.cumsum(pos_d, axis=-1)
    precision = _safe_div(tp, tp + np.cumsum(neg_d, axis=-1))
    return _safe_div((pos_d * precision).sum(axis=-1), pos.sum(axis=-1))


def roc_auc(positive: np.ndarray, score: np.ndarray, groups: ScoreGroups | None = None) -> float:
    g = groups or score_groups(positive, score)
    if g.pos.sum() == 0 or g.neg.sum() == 0:
        return math.nan
    return float(auc_from_hist(g.pos, g.neg))


def average_precision(
    positive: np.ndarray, score: np.ndarray, groups: ScoreGroups | None = None
) -> float:
    g = groups or score_groups(positive, score)
    if g.pos.sum() == 0:
        return math.nan
    return float(ap_from_hist(g.pos, g.neg))


def scored_classes(enc: Encoded) -> list[int]:
    """Classes that get a one-vs-rest score metric: the positive class of a binary task,
    else every class present in y_true but not alone in it."""
    if len(enc.labels) == 2:
        return [1]
    n = len(enc.y)
    counts = np.bincount(enc.y, minlength=len(enc.labels))
    return [i for i in range(len(enc.labels)) if 0 < counts[i] < n]


def log_loss_rows(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per-row log loss; scores are normalised per row first, so they need not sum to 1
    exactly (a CSV rounds them). A row whose sum overflows (1e308 twice) is normalised
    by its largest score first: the same shares, where the plain sum would give p = 0."""
    with np.errstate(over="ignore"):
        totals = scores.sum(axis=1)
    p = _safe_div(scores[np.arange(len(y)), y], totals)
    overflowed = np.flatnonzero(np.isinf(totals))
    if len(overflowed):
        rows = scores[overflowed] / scores[overflowed].max(axis=1, keepdims=True)
        p[overflowed] = rows[np.arange(len(overflowed)), y[overflowed]] / rows.sum(axis=1)
    losses: np.ndarray = -np.log(np.clip(p, EPS, 1 - EPS))
    return losses


def classification_metrics(
    enc: Encoded,
    groups: dict[int, ScoreGroups] | None = None,
    losses: np.ndarray | None = None,
) -> dict[str, float]:
    """All classification metrics; `groups` (per scored class) and `losses` (the rows'
    log loss), when the caller has them already, are not computed twice."""
    k = len(enc.labels)
    values = {
        name: float(v)
        for name, v in count_metrics(*class_counts(enc.y, enc.pred, k), enc.labels).items()
    }
    if enc.scores is not None and k >= 2:
        classes = scored_classes(enc)
        if groups is None:
            groups = {c: score_groups(enc.y == c, enc.scores[:, c]) for c in classes}
        if classes:
            aucs = [roc_auc(enc.y == c, enc.scores[:, c], groups[c]) for c in classes]
            aps = [average_precision(enc.y == c, enc.scores[:, c], groups[c]) for c in classes]
            values["roc_auc"] = float(np.mean(aucs))
            values["average_precision"] = float(np.mean(aps))
        if losses is None:
            losses = log_loss_rows(enc.y, enc.scores)
        values["log_loss"] = float(losses.mean())
    return {name: v for name, v in values.items() if not math.isnan(v)}


def overflow_ok() -> np.errstate:
    """Regression values near float64's limit (1e308) overflow to inf, and inf - inf to
    NaN: the metrics then say inf (RMSE, MAE), -inf or nothing (R²), as any non-finite
    metric is reported, with no numpy warning on stderr."""
    return np.errstate(over="ignore", invalid="ignore")


def regression_sums(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-row terms whose sums determine every regression metric (see regression_from_sums)."""
    with overflow_ok():
        err = pred - y
        nonzero = y != 0
        ape = np.zeros_like(y)
        np.divide(np.abs(err), np.abs(y), out=ape, where=nonzero)
        return np.stack(
            [err * err, np.abs(err), ape, nonzero.astype(np.float64), y, y * y, np.ones_like(y)],
            axis=-1,
        )


def regression_from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """RMSE, MAE, R² and MAPE from summed per-row terms (vectorised over leading axes).

    MAPE is taken over rows whose target is not zero: a zero target has no percentage
    error, and scikit-learn's epsilon turns it into a meaningless 1e15.
    """
    se, ae, ape, nonzero, y, y2, n = (sums[..., i] for i in range(7))
    with overflow_ok():
        ss_tot = y2 - y * y / n
        out = {
            "rmse": np.sqrt(se / n),
            "mae": ae / n,
            "r2": np.where(ss_tot > 0, 1 - se / np.where(ss_tot > 0, ss_tot, 1), np.nan),
            "mape": np.where(nonzero > 0, ape / np.where(nonzero > 0, nonzero, 1), np.nan),
        }
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    with overflow_ok():
        totals = regression_sums(y, pred).sum(axis=0)
    values = regression_from_sums(totals)
    return {name: float(v) for name, v in values.items() if not math.isnan(float(v))}


def evaluate(predictions: Predictions) -> dict[str, float]:
    """Every metric that the predictions support, by flat dotted name."""
    if predictions.task == "regression":
        return regression_metrics(predictions.y_true, predictions.y_pred)
    (enc,) = encode(predictions)
    return classification_metrics(enc)


def mean_metrics(per_seed: list[dict[str, float]]) -> dict[str, float]:
    """Each metric's mean over the seeds that have it all (`train.repeats`)."""
    if len(per_seed) == 1:
        return per_seed[0]
    names = [name for name in per_seed[0] if all(name in m for m in per_seed)]
    return {name: math.fsum(m[name] for m in per_seed) / len(per_seed) for name in names}


def nest(flat: dict[str, float]) -> dict[str, Any]:
    """`per_class.1.f1` → {"per_class": {"1": {"f1": …}}} for a readable metrics.json.

    A class label is one key whatever it holds: labels `a` and `a.f1` would otherwise
    need `per_class.a.f1` to be both a number and a mapping (a crash), and `1.5` would
    be nested as class 1's `5`. Read back (flattened with dots), the names are the same.
    """
    tree: dict[str, Any] = {}
    for name, value in flat.items():
        node = tree
        parts = name.split(".")
        if parts[0] == "per_class" and len(parts) > 3:
            parts = [parts[0], ".".join(parts[1:-1]), parts[-1]]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree
