"""Regression: predicted against actual, and the distribution of residuals."""

from __future__ import annotations

import numpy as np

from cml_py.charts import style
from cml_py.charts.data import Chart, ChartData, Side


def _sides(data: ChartData) -> list[tuple[str, str, Side]]:
    return [
        (label, colour, side)
        for (label, colour), side in zip(style.SIDES, (data.base, data.head), strict=True)
        if side is not None
    ]


@style.styled
def predicted_vs_actual(data: ChartData) -> Chart:
    name, title = "predicted_vs_actual", "Predicted against actual"
    sides = _sides(data)
    if not sides:
        return Chart(name, title, note="no regression predictions")
    fig, axes = style.figure(height=5.0, width=6.0)
    ax = axes[0, 0]
    lo = min(float(min(s.y.min(), s.pred.min())) for _, _, s in sides)
    hi = max(float(max(s.y.max(), s.pred.max())) for _, _, s in sides)
    for label, colour, side in sides:
        rng = np.random.default_rng(0)
        idx = np.arange(len(side.y))
        if len(idx) > style.MAX_POINTS:
            idx = rng.choice(idx, style.MAX_POINTS, replace=False)
        ax.scatter(
            side.y[idx], side.pred[idx], s=6, alpha=0.45, color=colour, label=label, linewidths=0
        )
    ax.plot([lo, hi], [lo, hi], color=style.NEUTRAL, linestyle=":", linewidth=0.8)
    ax.set(xlabel="actual", ylabel="predicted", title=title)
    style.legend_outside(ax)
    return Chart(name, title, fig)


@style.styled
def residuals(data: ChartData) -> Chart:
    name, title = "residuals", "Residuals (predicted − actual)"
    sides = _sides(data)
    if not sides:
        return Chart(name, title, note="no regression predictions")
    fig, axes = style.figure()
    ax = axes[0, 0]
    all_residuals = np.concatenate([s.pred - s.y for _, _, s in sides])
    edges = np.histogram_bin_edges(all_residuals, bins=50)
    for label, colour, side in sides:
        ax.hist(
            side.pred - side.y,
            bins=edges,
            histtype="step",
            linewidth=1.6,
            color=colour,
            label=label,
        )
    ax.axvline(0, color=style.NEUTRAL, linewidth=0.8)
    ax.set(xlabel="residual", ylabel="rows", title=title)
    style.legend_outside(ax)
    return Chart(name, title, fig)
