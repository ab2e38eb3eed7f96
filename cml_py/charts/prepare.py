"""The comparison's artifacts as the plain arrays charts are drawn from, and drawing them
into a directory with links relative to the report."""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cml_py.model import (
    ChartRef,
)

if TYPE_CHECKING:
    from cml_py.charts.data import ChartData
    from cml_py.pipeline import Compared


def chart_data(compared: Compared) -> ChartData:
    """Plain arrays for the charts (classification labels encoded over both sides)."""
    from cml_py.artifacts import Artifacts
    from cml_py.charts.data import ChartData, Side

    artifacts = compared.artifacts or Artifacts()
    sides = [p for p in (artifacts.base_predictions, artifacts.head_predictions) if p is not None]
    fields: dict[str, Any] = {}
    if sides:
        task = sides[-1].task
        fields["task"] = task
        if task == "classification":
            from cml_py.train.predictions import encode

            encoded = encode(*sides)
            fields["labels"] = encoded[0].labels
            made = [Side(e.y, e.pred, e.scores) for e in encoded]
        else:
            made = [Side(p.y_true, p.y_pred) for p in sides]
        if artifacts.head_predictions is not None:
            fields["head"] = made[-1]
        if artifacts.base_predictions is not None:
            fields["base"] = made[0]
    rows = compared.comparison.metrics
    if compared.data is not None:  # the data stage's rows have their own chart
        from cml_py.data.run import is_data_row

        rows = tuple(r for r in rows if not is_data_row(r.path, r.name))
    return ChartData(
        rows=rows,
        base_importance=artifacts.base_importance,
        head_importance=artifacts.head_importance,
        base_curves=artifacts.base_curves,
        head_curves=artifacts.head_curves,
        **fields,
    )


def draw_charts(compared: Compared, directory: Path, *, relative_to: Path) -> tuple[ChartRef, ...]:
    """Draw every chart into `directory`; the refs' paths are relative to the report."""
    from cml_py.charts import draw_all
    from cml_py.charts.save import save_charts

    with warnings.catch_warnings():
        # A name the PR chose in a script the font lacks (CJK, emoji) draws as boxes;
        # matplotlib would also warn once per glyph and chart, noise in the CI log.
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from", UserWarning)
        charts = draw_all(chart_data(compared))
        if compared.plots:
            from cml_py.charts.dvc_plots import draw_plots

            charts += draw_plots(compared.plots)
        if compared.data is not None and compared.data.drift:
            from cml_py.charts.data_drift import data_drift

            charts.append(data_drift(compared.data.drift, compared.data.thresholds))
        refs = save_charts(charts, directory)
    return tuple(
        replace(ref, path=Path(_repo_relative(ref.path, relative_to))) if ref.path else ref
        for ref in refs
    )


def _repo_relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()
