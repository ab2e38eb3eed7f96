"""Charts for the report: pure functions from data to a matplotlib Figure.

Every chart takes plain data (`ChartData`) and returns a `Chart` whose figure is None,
with a note saying why, when the data it needs is missing — a skipped chart is never an
error. Figures are built on the Agg canvas without pyplot's global state, in one style:
main is always grey and this PR always blue, worse red and better green.
"""

from __future__ import annotations

from cml_py.charts.data import Chart, ChartData


def draw_all(data: ChartData) -> list[Chart]:
    """Every chart that applies to the task, in the order the report shows them."""
    from cml_py.charts import classification, curves, importance, metric_changes, regression

    charts = [metric_changes.metric_changes(data)]
    if data.task == "classification":
        charts += [classification.roc_pr(data), classification.confusion(data)]
    elif data.task == "regression":
        charts += [regression.predicted_vs_actual(data), regression.residuals(data)]
    charts += [curves.training_curves(data), importance.feature_importance(data)]
    return charts


__all__ = ["Chart", "ChartData", "draw_all"]
