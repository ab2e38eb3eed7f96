"""cml-py's gate agrees with MLflow's own model validation.

For each row of the table, MLflow judges a candidate against a baseline with
`mlflow.validate_evaluation_results` and a `MetricThreshold`; cml-py judges the same
numbers with the rules cml_py.mlflow.thresholds maps the threshold to. They must agree,
and the expected column keeps the table honest (both wrong the same way would fail it).
The last test does the same on a pair of real runs read back from the tracking server.
"""

from __future__ import annotations

import pytest

from cml_py.gate import evaluate_gate
from cml_py.metrics.diff import diff_sets
from cml_py.mlflow.thresholds import gate_rule, yaml_rule
from cml_py.model import MetricFile, MetricSet
from tests.conftest import Repo
from tests.helpers import run_cli
from tests.mlflow.conftest import log_run

mlflow = pytest.importorskip("mlflow")

MISSING = object()
H, L = True, False  # greater_is_better
CASES = [
    # (greater is better, threshold kwargs, main, this PR, passes)
    (H, {"threshold": 0.8}, 0.7, 0.85, True),
    (H, {"threshold": 0.8}, 0.7, 0.8, True),  # at the threshold
    (H, {"threshold": 0.8}, 0.9, 0.79, False),
    (H, {"min_absolute_change": 0.05}, 0.80, 0.86, True),
    (H, {"min_absolute_change": 0.05}, 0.80, 0.84, False),
    (H, {"min_absolute_change": 0.05}, 0.80, 0.80, False),  # no gain is not enough
    (H, {"min_absolute_change": 0.05}, 0.80, 0.70, False),
    (H, {"min_absolute_change": 0.25}, 0.5, 0.75, True),  # exactly the gain
    (H, {"min_relative_change": 0.1}, 0.5, 0.56, True),
    (H, {"min_relative_change": 0.1}, 0.5, 0.54, False),
    (H, {"min_relative_change": 0.5}, 0.5, 0.75, True),  # exactly the gain
    (H, {"min_relative_change": 0.1}, -0.5, -0.4, True),  # a negative main (R²)
    (H, {"min_relative_change": 0.1}, -0.5, -0.48, False),
    (H, {"min_relative_change": 0.1}, 0.0, 0.01, True),  # from 0, any gain
    (H, {"min_relative_change": 0.1}, 0.0, 0.0, False),
    (H, {"min_relative_change": 0.1}, 0.0, -0.01, False),
    (H, {"threshold": 0.7, "min_absolute_change": 0.01}, 0.75, 0.755, False),
    (H, {"threshold": 0.7, "min_relative_change": 0.01}, 0.6, 0.65, False),
    (
        H,
        {"threshold": 0.7, "min_absolute_change": 0.01, "min_relative_change": 0.01},
        0.8,
        0.9,
        True,
    ),
    (L, {"threshold": 0.3}, 0.5, 0.25, True),
    (L, {"threshold": 0.3}, 0.2, 0.31, False),
    (L, {"min_absolute_change": 0.05}, 0.4, 0.3, True),
    (L, {"min_absolute_change": 0.05}, 0.4, 0.38, False),
    (L, {"min_absolute_change": 0.05}, 0.4, 0.45, False),
    (L, {"min_relative_change": 0.2}, 0.5, 0.375, True),
    (L, {"min_relative_change": 0.2}, 0.5, 0.45, False),
    (L, {"min_relative_change": 0.1}, 0.0, -0.5, True),
    (L, {"threshold": 1.0, "min_absolute_change": 0.1}, 2.0, 0.9, True),
    (H, {"min_absolute_change": 0.05}, MISSING, 0.9, False),  # no baseline to gain on
    (H, {"min_relative_change": 0.05}, MISSING, 0.9, False),
    (H, {"threshold": 0.8}, MISSING, 0.9, True),  # a threshold needs no baseline
    (H, {"threshold": 0.8}, 0.9, MISSING, False),
    (L, {"min_absolute_change": 0.05}, 0.4, MISSING, False),
]


def mlflow_passes(greater: bool, kwargs: dict, base, head) -> bool:
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation import EvaluationResult
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    thresholds = {"m": MetricThreshold(greater_is_better=greater, **kwargs)}
    candidate = EvaluationResult({} if head is MISSING else {"m": head}, {})
    baseline = EvaluationResult({} if base is MISSING else {"m": base}, {})
    try:
        mlflow.validate_evaluation_results(thresholds, candidate, baseline)
    except ModelValidationFailedException:
        return False
    return True


def cml_py_passes(greater: bool, kwargs: dict, base, head) -> bool:
    rule, direction = gate_rule("m", greater_is_better=greater, **kwargs)
    sides = [
        MetricSet(() if value is MISSING else (MetricFile("mlflow", {"m": value}),))
        for value in (base, head)
    ]
    rows = diff_sets(*sides, directions=(direction,))
    return evaluate_gate([rule], rows).passed


@pytest.mark.parametrize(
    ("greater", "kwargs", "base", "head", "passes"),
    CASES,
    ids=[
        f"{'higher' if g else 'lower'}-{'-'.join(f'{k}={v}' for k, v in kw.items())}-"
        f"{'none' if b is MISSING else b}-{'none' if h is MISSING else h}"
        for g, kw, b, h, _ in CASES
    ],
)
def test_gate_rules_agree_with_mlflow_metric_threshold(greater, kwargs, base, head, passes):
    assert mlflow_passes(greater, kwargs, base, head) is passes
    assert cml_py_passes(greater, kwargs, base, head) is passes


def test_the_documented_difference_at_a_floating_point_limit() -> None:
    """0.2 + 0.1 is 0.30000000000000004: MLflow fails 0.3, cml-py's 1e-9 tolerance at a
    limit passes it (as it passes `0.9 - 0.89` against a max_drop of 0.01)."""
    case = (H, {"min_absolute_change": 0.1}, 0.2, 0.3)
    assert not mlflow_passes(*case) and cml_py_passes(*case)


def test_the_mapping_reads_as_cml_yaml() -> None:
    rule, direction = gate_rule(
        "val_loss", greater_is_better=False, threshold=0.3, min_relative_change=0.05
    )
    assert yaml_rule(rule) == "{max: 0.3, max_drop_pct: -5, on_missing: fail}"
    assert direction == ("val_loss", "lower")


@pytest.mark.parametrize(
    ("kwargs", "head", "passes"),
    [
        ({"threshold": 0.8, "min_absolute_change": 0.02}, 0.85, True),
        ({"threshold": 0.8, "min_absolute_change": 0.02}, 0.81, False),
        ({"min_relative_change": 0.1}, 0.84, False),
    ],
)
def test_agreement_on_a_pair_of_real_runs(
    in_repo: Repo, experiment: str, capsys, kwargs: dict, head: float, passes: bool
) -> None:
    """Both judges read the same two runs from the tracking server."""
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation import EvaluationResult
    from mlflow.models.evaluation.validation import ModelValidationFailedException
    from mlflow.tracking import MlflowClient

    rule, _ = gate_rule("acc", greater_is_better=True, **kwargs)
    in_repo.write(
        "cml.yaml",
        f"mlflow: {{experiment: {experiment}}}\nbaseline: {{strategy: mlflow}}\n"
        f"direction: {{acc: higher}}\ngate:\n  acc: {yaml_rule(rule)}\n",
    )
    main = in_repo.commit("main")
    in_repo.branch("pr")
    in_repo.write("x.txt", "x")
    pr = in_repo.commit("pr")
    main_run = log_run(experiment, main, metrics={"acc": 0.8})
    pr_run = log_run(experiment, pr, metrics={"acc": head})

    client = MlflowClient()
    try:
        mlflow.validate_evaluation_results(
            {"acc": MetricThreshold(greater_is_better=True, **kwargs)},
            EvaluationResult(client.get_run(pr_run).data.metrics, {}),
            EvaluationResult(client.get_run(main_run).data.metrics, {}),
        )
        mlflow_verdict = True
    except ModelValidationFailedException:
        mlflow_verdict = False
    result = run_cli(capsys, "gate")
    assert result.code in (0, 1), result.err
    assert mlflow_verdict is passes and (result.code == 0) is passes, result.out
