"""A table of gate cases: rule, base, head → status."""

from __future__ import annotations

import math

import pytest

from cml_py.config import GateRule
from cml_py.gate import evaluate_gate
from cml_py.metrics.diff import diff_sets
from cml_py.model import Direction, MetricFile, MetricSet, Status

P, F, W = Status.PASS, Status.FAIL, Status.WARN
MISSING = object()


def run(rule: GateRule, name: str, base, head, directions=()) -> list[Status]:
    base_set = MetricSet((MetricFile("m.json", {} if base is MISSING else {name: base}),))
    head_set = MetricSet((MetricFile("m.json", {} if head is MISSING else {name: head}),))
    rows = diff_sets(base_set, head_set, directions=directions)
    return [c.status for c in evaluate_gate([rule], rows).checks]


CASES = [
    # rule, metric, base, head, expected statuses (one per rule kind)
    (GateRule("err", max=1e-13), "err", 1e-14, 1e-12, [F]),  # tiny limits are limits too
    (GateRule("p", min=1e-12), "p", 0.5, 1e-30, [F]),
    (GateRule("p", min=1e-12), "p", 0.5, 1e-12 * (1 - 1e-12), [P]),  # within 1e-9 of it
    (GateRule("err", max_drop=0), "err", 1e-14, 1e-12, [F]),
    (GateRule("loss", max_drop=0), "loss", 0.3, 0.1 + 0.2, [P]),  # 0.30000000000000004
    (GateRule("acc", min=0.9), "acc", 0.95, 0.91, [P]),
    (GateRule("acc", min=0.9), "acc", 0.95, 0.9, [P]),
    (GateRule("acc", min=0.9), "acc", 0.95, 0.8999, [F]),
    (GateRule("acc", max=0.99), "acc", 0.95, 0.995, [F]),
    (GateRule("acc", max_drop=0.01), "acc", 0.90, 0.89, [P]),  # exactly the limit (float noise)
    (GateRule("acc", max_drop=0.01), "acc", 0.90, 0.8899, [F]),
    (GateRule("acc", max_drop=0.01), "acc", 0.90, 0.99, [P]),
    (GateRule("val_loss", max_drop=0.01), "val_loss", 0.20, 0.205, [P]),
    (GateRule("val_loss", max_drop=0.01), "val_loss", 0.20, 0.215, [F]),
    (GateRule("val_loss", max_drop=0.01), "val_loss", 0.20, 0.10, [P]),
    (GateRule("acc", max_drop_pct=5), "acc", 0.80, 0.76, [P]),
    (GateRule("acc", max_drop_pct=5), "acc", 0.80, 0.759, [F]),
    (GateRule("*loss", max_drop_pct=5), "train.loss", 0.40, 0.42, [P]),
    (GateRule("*loss", max_drop_pct=5), "train.loss", 0.40, 0.421, [F]),
    (GateRule("acc", max_drop_pct=5), "acc", 0.0, -0.1, [F]),
    (GateRule("acc", max_drop_pct=5), "acc", 0.0, 0.1, [P]),
    (GateRule("acc", max_drop_pct=5), "acc", -1.0, -1.04, [P]),
    (GateRule("acc", max_drop_pct=5), "acc", math.inf, math.inf, [F]),  # not finite
    (GateRule("acc", min=0.5), "acc", 0.9, math.inf, [F]),  # `1e400` overflows to inf
    (GateRule("loss", max_drop=0.1), "loss", 0.3, -math.inf, [F]),
    (GateRule("acc", min=0.5, on_nonfinite="warn"), "acc", 0.9, math.nan, [W]),
    (GateRule("acc", min=0.5, on_nonfinite="ignore"), "acc", 0.9, math.inf, [P]),
    (GateRule("acc", min=0.9, max_drop=0.01), "acc", 0.95, 0.93, [P, F]),
    (GateRule("acc", min=0.9, informational=True), "acc", 0.95, 0.5, [W]),
    (GateRule("acc", min=0.9), "acc", 0.95, math.nan, [F]),
    (GateRule("acc", min=0.9), "acc", 0.95, "high", [F]),
    (GateRule("acc", min=0.9), "acc", 0.95, True, [F]),
    (GateRule("acc", min=0.9), "acc", 0.95, MISSING, [F]),
    (GateRule("acc", min=0.9, on_missing="warn"), "acc", 0.95, MISSING, [W]),
    (GateRule("acc", min=0.9, on_missing="ignore"), "acc", 0.95, MISSING, [P]),
    (GateRule("acc", max_drop=0.1), "acc", MISSING, 0.5, [W]),
    (GateRule("acc", max_drop=0.1, on_missing="fail"), "acc", MISSING, 0.5, [F]),
    (GateRule("acc", max_drop=0.1, on_missing="ignore"), "acc", MISSING, 0.5, [P]),
    (GateRule("acc", min=0.4), "acc", MISSING, 0.5, [P]),
    (GateRule("acc", max_drop=0.1), "acc", math.nan, 0.5, [W]),
    (GateRule("acc", max_drop=0.1), "acc", "n/a", 0.5, [W]),
    (GateRule("nothing", min=1), "acc", 0.5, 0.5, [F]),
    (GateRule("nothing*", min=1, max_drop=0.1, on_missing="warn"), "acc", 0.5, 0.5, [W, W]),
]


@pytest.mark.parametrize(("rule", "name", "base", "head", "expected"), CASES)
def test_gate_cases(rule: GateRule, name: str, base, head, expected: list[Status]) -> None:
    assert run(rule, name, base, head) == expected


def test_configured_direction_is_respected_by_drop_rules() -> None:
    rule = GateRule("score", max_drop=0.1)
    assert run(rule, "score", 1.0, 1.5) == [P]
    assert run(rule, "score", 1.0, 1.5, directions=[("score", Direction.LOWER)]) == [F]


def test_result_lists_every_check_with_details_and_an_overall_verdict() -> None:
    base = MetricSet((MetricFile("m.json", {"acc": 0.95, "f1": 0.9, "loss": 0.2}),))
    head = MetricSet((MetricFile("m.json", {"acc": 0.93, "f1": 0.91, "loss": 0.3}),))
    rules = [GateRule("acc", min=0.9, max_drop=0.01), GateRule("*", min=0.0)]
    result = evaluate_gate(rules, diff_sets(base, head))
    assert [(c.metric, c.rule, c.status) for c in result.checks] == [
        ("acc", "min", P),
        ("acc", "max_drop", F),
        ("acc", "min", P),
        ("f1", "min", P),
        ("loss", "min", P),
    ]
    failed = result.checks[1]
    assert failed.value == 0.93 and failed.base == 0.95 and failed.limit == 0.01
    assert failed.change == pytest.approx(-0.02)
    assert result.verdict is F and not result.passed
    assert result.count(P) == 4


def test_no_rules_is_a_pass() -> None:
    result = evaluate_gate([], [])
    assert result.passed and result.checks == ()


def test_informational_failure_keeps_its_reason() -> None:
    base = MetricSet((MetricFile("m.json", {"acc": 0.95}),))
    head = MetricSet((MetricFile("m.json", {"acc": 0.5}),))
    (check,) = evaluate_gate(
        [GateRule("acc", min=0.9, informational=True)], diff_sets(base, head)
    ).checks
    assert check.status is W and check.informational and "informational" in check.note


def test_pattern_can_pick_one_file() -> None:
    base = MetricSet((MetricFile("a.json", {"acc": 0.9}), MetricFile("b.json", {"acc": 0.9})))
    head = MetricSet((MetricFile("a.json", {"acc": 0.5}), MetricFile("b.json", {"acc": 0.95})))
    result = evaluate_gate([GateRule("b.json:acc", min=0.9)], diff_sets(base, head))
    assert [(c.path, c.status) for c in result.checks] == [("b.json", P)]


def test_significant_rule_without_statistics_is_never_a_silent_fallback() -> None:
    """More in test_significance.py."""
    rows = diff_sets(
        MetricSet((MetricFile("m.json", {"acc": 0.90}),)),
        MetricSet((MetricFile("m.json", {"acc": 0.85}),)),
    )
    (check,) = evaluate_gate([GateRule("acc", max_drop=0.01, significant=True)], rows).checks
    assert check.status is F
    assert check.note.startswith("cannot test: no paired statistics")


def test_a_glob_without_a_colon_matches_names_not_file_paths() -> None:
    """`*` crosses `/` and `:`, so matching `val*` against `valid/metrics.json:train_loss`
    took every metric of that file: a higher-is-better rule failed an improving loss."""
    base = MetricSet((MetricFile("valid/metrics.json", {"val_acc": 0.9, "train_loss": 0.2}),))
    head = MetricSet((MetricFile("valid/metrics.json", {"val_acc": 0.91, "train_loss": 0.1}),))
    rows = diff_sets(base, head, directions=[("val*", Direction.HIGHER)])
    by_name = {r.name: r for r in rows}
    assert by_name["train_loss"].direction is Direction.LOWER
    checks = evaluate_gate([GateRule("val*", min=0.8)], rows).checks
    assert [(c.metric, c.status) for c in checks] == [("val_acc", P)]
    in_file = evaluate_gate([GateRule("valid/*:train_*", max=0.15)], rows).checks
    assert [(c.metric, c.status) for c in in_file] == [("train_loss", P)]
