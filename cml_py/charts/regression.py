"""Regression: predicted against actual, and the distribution of residuals."""

from __future__ import annotations

import numpy as np

from cml_py.charts import style
from cml_py.charts.data import Chart, ChartData, Side


def _sides(data: ChartData) -> tuple[list[tuple[str, str, Side]], str]:
    """The sides to draw, and a note naming those left out: predictions beyond what a
    chart can lay out (finite, but near float64's limit) are hostile data, not a reason
    to fail the report."""
    sides, left_out = [], []
    for (label, colour), side in zip(style.SIDES, (data.base, data.head), strict=True):
        if side is None:
            continue
        if style.plottable(side.y, side.pred):
            sides.append((label, colour, side))
        else:
            left_out.append(label)
    note = ""
    if left_out:
        note = (
            f"{' and '.join(left_out)} left out: y_true or y_pred beyond "
            f"±{style.PLOT_LIMIT:g} cannot be plotted"
        )
    elif not sides:
        note = "no regression predictions"
    return sides, note


@style.styled
def predicted_vs_actual(data: ChartData) -> Chart:
    name, title = "predicted_vs_actual", "Predicted against actual"
    sides, note = _sides(data)
    if not sides:
        return Chart(name, title, note=note)
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
    return Chart(name, title, fig, note)


@style.styled
def residuals(data: ChartData) -> Chart:
    name, title = "residuals", "Residuals (predicted − actual)"
    sides, note = _sides(data)
    if not sides:
        return Chart(name, title, note=note)
    fig, axes = style.figure()
    ax = axes[0, 0]
    all_residuals = np.concatenate([s.pred - s.y for _, _, s in sides])
    try:
        edges = np.histogram_bin_edges(all_residuals, bins=50)
    except ValueError:  # residuals a few ulps apart (y_pred = y_true + 0.1): numpy cannot
        # split their range in 50, so widen it as numpy widens a range of zero
        lo, hi = float(all_residuals.min()), float(all_residuals.max())
        half = max(0.5, 1e-3 * max(abs(lo), abs(hi)))
        edges = np.histogram_bin_edges(all_residuals, bins=50, range=(lo - half, hi + half))
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
    return Chart(name, title, fig, note)
