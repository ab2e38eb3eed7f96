"""MLflow's `MetricThreshold` as cml-py gate rules (pure), so a team can move its model
validation from `mlflow.validate_evaluation_results` to the PR gate and get the same
pass/fail on the same pair of runs (tests/mlflow/test_agreement.py checks it against
MLflow itself; docs/mlflow.md has the table).

  threshold             → min (greater is better) or max (lower is better)
  min_absolute_change m → max_drop: -m          (a required gain, not a tolerated drop)
  min_relative_change r → max_drop_pct: -100·r  (relative to |main|, as MLflow)
  greater_is_better     → direction: higher | lower
  a metric missing on either side fails MLflow's validation → on_missing: fail

The one difference: cml-py counts a value within 1e-9 (relative) of a limit as at the
limit, where MLflow compares floating-point sums exactly — so main 0.2 + a required
gain of 0.1 passes 0.3 in cml-py and fails in MLflow (0.2 + 0.1 is 0.30000000000000004).
"""

from __future__ import annotations

from cml_py.config import GateRule
from cml_py.model import Direction


def gate_rule(
    pattern: str,
    *,
    greater_is_better: bool,
    threshold: float | None = None,
    min_absolute_change: float | None = None,
    min_relative_change: float | None = None,
) -> tuple[GateRule, tuple[str, Direction]]:
    """The gate rule and the `direction:` entry that judge `pattern` as MLflow would."""
    direction = Direction.HIGHER if greater_is_better else Direction.LOWER
    rule = GateRule(
        pattern=pattern,
        min=threshold if greater_is_better else None,
        max=None if greater_is_better else threshold,
        max_drop=-min_absolute_change if min_absolute_change is not None else None,
        max_drop_pct=-100.0 * min_relative_change if min_relative_change is not None else None,
        on_missing="fail",
    )
    return rule, (pattern, direction)


def yaml_rule(rule: GateRule) -> str:
    """The rule as it would be written under `gate:` in cml.yaml."""
    parts = [
        f"{key}: {getattr(rule, key):g}"
        for key in ("min", "max", "max_drop", "max_drop_pct")
        if getattr(rule, key) is not None
    ]
    if rule.on_missing:
        parts.append(f"on_missing: {rule.on_missing}")
    return "{" + ", ".join(parts) + "}"
