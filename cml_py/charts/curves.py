"""Training curves (loss, accuracy… by step) of main and this PR overlaid."""

from __future__ import annotations

import math

from cml_py.charts import style
from cml_py.charts.data import Chart, ChartData

MAX_PANELS = 6


@style.styled
def training_curves(data: ChartData) -> Chart:
    name, title = "training_curves", "Training curves"
    names = list(dict.fromkeys([*data.head_curves, *data.base_curves]))
    if not names:
        return Chart(
            name, title, note="no training curves (configure `curves:` or train.outputs.curves)"
        )
    # Curves come from the PR's training, so a series matplotlib cannot lay out is left
    # out (and said so) rather than failing the whole report.
    sides, left_out = [], []
    for (label, colour), curves in zip(
        style.SIDES, (data.base_curves, data.head_curves), strict=True
    ):
        drawable = {}
        for series, (steps, values) in curves.items():
            if style.plottable(steps, values):
                drawable[series] = (steps, values)
            else:
                left_out.append(f"{series} ({label})")
        sides.append((label, colour, drawable))
    notes = []
    if left_out:
        notes.append(
            f"{style.listed(left_out)} left out: steps or values beyond "
            f"±{style.PLOT_LIMIT:g} cannot be plotted"
        )
    names = [n for n in names if any(n in drawable for _, _, drawable in sides)]
    if not names:
        return Chart(name, title, note="; ".join(notes))
    shown = names[:MAX_PANELS]
    cols = min(3, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig, axes = style.figure(rows, cols, height=2.6 * rows + 0.4)
    for ax in axes.flat[len(shown) :]:
        ax.set_visible(False)
    for ax, series in zip(axes.flat, shown, strict=False):
        for label, colour, drawable in sides:
            if series in drawable:
                steps, values = drawable[series]
                step = style.thin(len(steps))
                ax.plot(steps[step], values[step], color=colour, label=label, linewidth=1.4)
        ax.set(title=style.text(series, 40), xlabel="step")
        style.legend_outside(ax)
    if len(names) > len(shown):
        notes.insert(0, f"{len(names) - len(shown)} more series not shown")
    return Chart(name, title, fig, "; ".join(notes))
