"""Top-k feature importance of this PR's model, beside main's for the same features."""

from __future__ import annotations

import numpy as np

from cml_py.charts import style
from cml_py.charts.data import Chart, ChartData

TOP_K = 15


@style.styled
def feature_importance(data: ChartData) -> Chart:
    name, title = "feature_importance", f"Feature importance (top {TOP_K})"
    head, base = data.head_importance, data.base_importance
    if not head and not base:
        return Chart(
            name,
            title,
            note="no feature importance (the model has neither feature_importances_ nor coef_)",
        )
    # The file comes from the PR's training: an importance that is not finite or too
    # large to lay out leaves its feature out of the chart, with a note, not the report.
    left_out = sorted(
        {f for values in (head, base) if values for f, v in values.items() if not style.drawable(v)}
    )
    ranking = {f: v for f, v in (head or base or {}).items() if f not in left_out}
    note = ""
    if left_out:
        note = (
            f"{style.listed(left_out)} left out: an importance that is not finite or beyond "
            f"±{style.PLOT_LIMIT:g} cannot be plotted"
        )
    if not ranking:
        return Chart(name, title, note=note)
    top = sorted(ranking, key=lambda f: abs(ranking[f]), reverse=True)[:TOP_K][::-1]
    fig, axes = style.figure(height=min(max(2.0, 0.3 * len(top) + 1.0), 7.0))
    ax = axes[0, 0]
    positions = np.arange(len(top))
    width = 0.4
    for offset, (label, colour), values in (
        (-width / 2, style.SIDES[0], base),
        (width / 2, style.SIDES[1], head),
    ):
        if values:
            ax.barh(
                positions + offset,
                [values.get(f, 0.0) for f in top],
                height=width,
                color=colour,
                label=label,
            )
    ax.set_yticks(positions, [style.text(f, 36) for f in top])
    ax.set(xlabel="importance", title=title)
    ax.grid(axis="y", visible=False)
    style.legend_outside(ax)
    return Chart(name, title, fig, note)
