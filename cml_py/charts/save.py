"""Write charts as PNG files, atomically, and describe them for the report."""

from __future__ import annotations

import io
from pathlib import Path

from cml_py.charts.data import Chart
from cml_py.fsio import write_atomic
from cml_py.model import ChartRef


def save_charts(charts: list[Chart], directory: Path) -> tuple[ChartRef, ...]:
    refs = []
    for chart in charts:
        if chart.figure is None:
            refs.append(ChartRef(chart.name, chart.title, None, chart.note))
            continue
        buffer = io.BytesIO()
        chart.figure.savefig(buffer, format="png", dpi=chart.figure.dpi)
        path = directory / f"{chart.name}.png"
        write_atomic(path, buffer.getvalue())
        refs.append(ChartRef(chart.name, chart.title, path, chart.note))
    return tuple(refs)
