"""Horizontal bars of each metric's relative change: worse in red, better in green."""

from __future__ import annotations

import math

from cml_py.charts import style
from cml_py.charts.data import Chart, ChartData
from cml_py.model import Verdict

MAX_BARS = 20


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
    rows = sorted(rows, key=lambda r: abs(r.rel or 0.0), reverse=True)[:MAX_BARS]
    rows.reverse()  # largest change at the top
    height = min(max(1.6, 0.32 * len(rows) + 0.9), 8.0)
    fig, axes = style.figure(height=height)
    ax = axes[0, 0]
    values = [100.0 * (r.rel or 0.0) for r in rows]
    colours = [style.BETTER if r.verdict is Verdict.BETTER else style.WORSE for r in rows]
    errors = None
    if any(r.stat is not None for r in rows):
        low, high = [], []
        for r, v in zip(rows, values, strict=True):
            if r.stat is None or not r.base:
                low.append(0.0)
                high.append(0.0)
            else:
                scale = 100.0 / abs(float(r.base))  # type: ignore[arg-type]
                low.append(max(0.0, v - r.stat.ci_low * scale))
                high.append(max(0.0, r.stat.ci_high * scale - v))
        errors = [low, high]
    positions = range(len(rows))
    ax.barh(
        positions,
        values,
        color=colours,
        height=0.6,
        xerr=errors,
        error_kw={"ecolor": style.NEUTRAL, "elinewidth": 0.8, "capsize": 2},
    )
    ax.set_yticks(list(positions), [style.shorten(r.name, 40) for r in rows])
    ax.axvline(0, color=style.NEUTRAL, linewidth=0.8)
    ax.set_xlabel("change against main (%)" + (", with 95% interval" if errors else ""))
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    return Chart(name, title, fig)
