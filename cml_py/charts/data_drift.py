"""The columns that drift most: main's distribution beside this PR's, one panel each.

Numbers as histograms on shared bins (the middle 99% of both sides, the tails counted in
the edge bins), categories as bars of shares (top categories, the rest as "other").
main grey, this PR blue, as in every chart; each title carries the column's PSI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cml_py.charts import style
from cml_py.charts.data import Chart

NAME, TITLE = "data_drift", "Data drift: the columns that moved most"
COLUMNS = 3


@style.styled
def data_drift(series: Sequence[Any], thresholds: Mapping[str, float] | None = None) -> Chart:
    """`series`: cml_py.data.compare.DriftSeries, worst first (at most 6 are drawn)."""
    drawn = [s for s in series if s.base and s.head]
    # The PR's values: a column with values near float64's limit has bins too wide to lay
    # out (their widths overflow); it is left out of the chart, with a note.
    left_out = [s for s in drawn if s.kind == "number" and not _plottable(s.edges)]
    shown = [s for s in drawn if s not in left_out][:6]
    note = ""
    if left_out:
        names = [f"{s.dataset}.{s.column}" for s in left_out]
        note = (
            f"{style.listed(names)} left out: values beyond ±{style.PLOT_LIMIT:g} cannot be plotted"
        )
    if not shown:
        return Chart(NAME, TITLE, note=note or "no column drifted")
    rows = -(-len(shown) // COLUMNS)
    cols = min(COLUMNS, len(shown))
    fig, axes = style.figure(rows, cols, height=2.6 * rows + 0.4)
    several = len({s.dataset for s in shown}) > 1
    for ax, item in zip(axes.flat, shown, strict=False):
        if item.kind == "number":
            edges = np.asarray(item.edges)
            widths = np.diff(edges)
            for (label, colour), values, alpha in (
                (style.SIDES[0], item.base, 0.55),
                (style.SIDES[1], item.head, 0.55),
            ):
                ax.bar(
                    edges[:-1],
                    values,
                    width=widths,
                    align="edge",
                    color=colour,
                    alpha=alpha,
                    label=label,
                )
            ax.set_ylabel("share of rows")
        else:
            positions = np.arange(len(item.labels))
            width = 0.4
            ax.bar(positions - width / 2, item.base, width, color=style.MAIN, label="main")
            ax.bar(positions + width / 2, item.head, width, color=style.HEAD, label="this PR")
            ax.set_xticks(positions, [style.text(label, 12) for label in item.labels], rotation=45)
            ax.set_ylabel("share of rows")
        name = f"{item.dataset}.{item.column}" if several else item.column
        threshold = (thresholds or {}).get(item.dataset)
        flag = " ▲" if threshold is not None and item.psi >= threshold else ""
        ax.set_title(f"{style.text(name, 28)} · PSI {item.psi:.4g}{flag}")
        ax.grid(axis="x", visible=False)
    for ax in list(axes.flat)[len(shown) :]:
        ax.set_visible(False)
    axes.flat[0].legend(loc="best")
    fig.suptitle(TITLE)
    return Chart(NAME, TITLE, fig, note)


def _plottable(edges: Sequence[float]) -> bool:
    values = np.asarray(edges, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        widths = np.diff(values)
    return style.plottable(values) and bool(np.all(np.isfinite(widths)))
