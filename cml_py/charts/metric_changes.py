"""Horizontal bars of each metric's relative change: worse in red, better in green.

One metric that moved by 400 % would squeeze every other bar to a hairline, so such
outliers are clipped at the edge of the axis (hatched, with their real value printed),
and every bar carries its value, so the chart reads without the table beside it.
"""

from __future__ import annotations

import math

from cml_py.charts import style
from cml_py.charts.data import Chart, ChartData
from cml_py.model import Verdict

MAX_BARS = 20
OUTLIER_RATIO = 3.0  # a bar this many times longer than the next one is clipped


def axis_limit(values: list[float]) -> float | None:
    """Where to clip the axis so the largest changes cannot hide the rest: None when no
    bar is an outlier, else a little beyond the longest bar that is not one."""
    sizes = sorted((abs(v) for v in values), reverse=True)
    outliers = 0
    while outliers < len(sizes) - 1 and sizes[outliers] > OUTLIER_RATIO * sizes[outliers + 1]:
        outliers += 1
    if outliers == 0 or sizes[outliers] == 0:
        return None
    return 1.3 * sizes[outliers]


def _percent(value: float, decimals: int) -> str:
    """As the report's table prints it (columns.percent_decimals), so the chart and the
    table beside it show the same number — with an exponent from 1e15 on, as the table
    does: fixed decimals would print a 1e200 % change as a 200-digit label, too wide for
    the layout."""
    if abs(value) >= 1e15:
        from cml_py.report.format import fmt_delta

        return fmt_delta(value) + "%"  # the table's fmt_pct(rel): value is rel * 100.0
    text = f"{value:+.{decimals}f}"
    return (text if float(text) != 0 else f"{value:+.2g}") + "%"


@style.styled
def metric_changes(data: ChartData) -> Chart:
    name, title = "metric_changes", "Metric changes against main"
    rows = [
        r
        for r in data.rows
        if r.verdict in (Verdict.BETTER, Verdict.WORSE)
        and r.rel is not None
        and math.isfinite(r.rel)
    ]
    if not rows:
        return Chart(name, title, note="no numeric metric changed by a finite relative amount")
    # A metric from 1 to 1e306 changed by 1e308 %: finite, but too long a bar to lay out.
    left_out = [r.name for r in rows if not style.drawable(100.0 * (r.rel or 0.0))]
    note = ""
    if left_out:
        note = (
            f"{style.listed(left_out)} left out: a change beyond ±{style.PLOT_LIMIT:g}% "
            "cannot be plotted"
        )
        rows = [r for r in rows if style.drawable(100.0 * (r.rel or 0.0))]
        if not rows:
            return Chart(name, title, note=note)
    rows = sorted(rows, key=lambda r: abs(r.rel or 0.0), reverse=True)[:MAX_BARS]
    rows.reverse()  # largest change at the top
    height = min(max(1.6, 0.32 * len(rows) + 0.9), 8.0)
    fig, axes = style.figure(height=height)
    ax = axes[0, 0]
    values = [100.0 * (r.rel or 0.0) for r in rows]
    limit = axis_limit(values)
    shown = [max(-limit, min(limit, v)) if limit else v for v in values]
    colours = [style.BETTER if r.verdict is Verdict.BETTER else style.WORSE for r in rows]
    errors = None
    if any(r.stat is not None for r in rows):
        low, high = [], []
        for r, v, s in zip(rows, values, shown, strict=True):
            if r.stat is None or not r.base or v != s:
                low.append(0.0)
                high.append(0.0)
            else:
                scale = 100.0 / abs(float(r.base))
                whiskers = (
                    max(0.0, v - r.stat.ci_low * scale),
                    max(0.0, r.stat.ci_high * scale - v),
                )
                if not all(style.drawable(w) for w in whiskers):  # an interval too wide to draw
                    whiskers = (0.0, 0.0)
                low.append(whiskers[0])
                high.append(whiskers[1])
        errors = [low, high]
    positions = list(range(len(rows)))
    bars = ax.barh(
        positions,
        shown,
        color=colours,
        height=0.6,
        xerr=errors,
        error_kw={"ecolor": style.NEUTRAL, "elinewidth": 0.8, "capsize": 2},
    )
    for bar, value, clipped in zip(bars, values, shown, strict=True):
        if value != clipped:
            bar.set_hatch("////")
            bar.set_edgecolor("white")
    from cml_py.report.columns import percent_decimals

    decimals = percent_decimals(values)
    span = limit if limit else max(abs(v) for v in values) or 1.0
    for i, (value, clipped) in enumerate(zip(values, shown, strict=True)):
        inside = value != clipped  # a clipped bar's label sits inside its end, in white
        if inside:
            x = clipped - math.copysign(0.02 * span, clipped)
            align = "right" if clipped >= 0 else "left"
        else:  # beyond the bar and its interval, so no whisker crosses the text
            reach = errors[1][i] if errors and clipped >= 0 else errors[0][i] if errors else 0.0
            x = clipped + math.copysign(reach + 0.02 * span, clipped or 1.0)
            align = "left" if clipped >= 0 else "right"
        ax.text(
            x,
            positions[i],
            _percent(value, decimals),
            va="center",
            ha=align,
            fontsize=7,
            color="white" if inside else "#24292f",
            fontweight="bold" if inside else "normal",
        )
    lows = [s - (errors[0][i] if errors else 0.0) for i, s in enumerate(shown)]
    highs = [s + (errors[1][i] if errors else 0.0) for i, s in enumerate(shown)]
    left, right = min(0.0, *lows), max(0.0, *highs)
    margin = 0.2 * max(right - left, 1e-12)  # room for the value labels
    ax.set_xlim(left - (margin if left < 0 else 0), right + (margin if right > 0 else 0))
    ax.set_yticks(positions, [style.text(r.name, 40) for r in rows])
    ax.axvline(0, color=style.NEUTRAL, linewidth=0.8)
    confidence = next((r.stat.confidence for r in rows if r.stat is not None), None)
    label = "change against main (%)"
    if confidence is not None:
        label += f", with {confidence * 100:g}% interval"
    if limit:
        label += f"; hatched bars are clipped at ±{limit:.3g}%"
    ax.set_xlabel(label)
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    return Chart(name, title, fig, note)
