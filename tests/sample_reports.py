"""Report objects built from literals, shared by the renderer tests."""

from __future__ import annotations

import math

from cml_py.config import GateRule
from cml_py.gate import evaluate_gate
from cml_py.metrics.diff import diff_sets
from cml_py.model import BaseRef, Comparison, MetricFile, MetricSet, Report

BASE = BaseRef(
    "main", "1111111aaaaaaabbbbbbbcccccccdddddddeeeee", "merge-base of HEAD and origin/main"
)
HEAD_SHA = "2222222fffffff0000000111111122222223333"


def mixed_report(report_id: str = "default", show_all: bool = False) -> Report:
    base_metrics = MetricSet(
        (
            MetricFile(
                "metrics.json",
                {
                    "eval.acc": 0.9231,
                    "eval.f1": 0.9,
                    "eval.loss": 0.2143,
                    "tiny": 1.2345e-05,
                    "steps": 100,
                    "gone": 1.0,
                    "model": "rf",
                    "m2": 1.0,
                    "m10": 2.0,
                    "same": 0.5,
                    "unstable": 0.7,
                },
            ),
        )
    )
    head_metrics = MetricSet(
        (
            MetricFile(
                "metrics.json",
                {
                    "eval.acc": 0.9102,
                    "eval.f1": 0.9213,
                    "eval.loss": 0.1875,
                    "tiny": 1.2399e-05,
                    "steps": 120,
                    "new": 3.5,
                    "model": "gbm",
                    "m2": 1.0,
                    "m10": 2.5,
                    "same": 0.5,
                    "unstable": math.nan,
                    "@octocat|<b>[x](y)": 1.0,
                },
            ),
        )
    )
    base_params = MetricSet((MetricFile("params.yaml", {"lr": 0.1, "depth": 6, "opt": "adam"}),))
    head_params = MetricSet((MetricFile("params.yaml", {"lr": 0.05, "depth": 6, "layers.0": 64}),))
    comparison = Comparison(
        metrics=diff_sets(base_metrics, head_metrics),
        params=diff_sets(base_params, head_params, judge=False),
        base=BASE,
        head_sha=HEAD_SHA,
        notes=("extra.json does not exist on main: all its values are new.",),
    )
    rules = [
        GateRule("eval.acc", min=0.9, max_drop=0.01),
        GateRule("*loss", max_drop_pct=5),
        GateRule("unstable", min=0.5, informational=True),
        GateRule("new", max_drop=0.1),
    ]
    return Report(
        report_id, comparison, evaluate_gate(rules, comparison.metrics), show_all, "0.1.0"
    )


def clean_report() -> Report:
    same = MetricSet((MetricFile("metrics.json", {"acc": 0.9, "loss": 0.1}),))
    comparison = Comparison(diff_sets(same, same), (), BASE, HEAD_SHA)
    return Report("default", comparison, evaluate_gate([], comparison.metrics), False, "0.1.0")


def stats_report() -> Report:
    """Metrics with paired statistics (one significant, one within noise) and charts."""
    from dataclasses import replace
    from pathlib import Path

    from cml_py.model import ChartRef, PairedStat

    base = MetricSet(
        (
            MetricFile(
                ".cml-py/out/metrics.json",
                {"accuracy": 0.9301, "roc_auc": 0.9834, "log_loss": 0.1505},
            ),
        )
    )
    head = MetricSet(
        (
            MetricFile(
                ".cml-py/out/metrics.json",
                {"accuracy": 0.9371, "roc_auc": 0.9908, "log_loss": 0.1856},
            ),
        )
    )
    from cml_py import inference

    def stat(delta: float, test: str, se: float | None = None, counts=None) -> PairedStat:
        made = PairedStat(delta, 0, 0, 0.95, False, 1000, test, se=se, counts=counts)
        lo, hi = inference.interval(made, 0.95)
        p_value = inference.p_two_sided(made)
        return replace(made, ci_low=lo, ci_high=hi, significant=lo > 0 or hi < 0, p_value=p_value)

    stats = {
        "accuracy": stat(0.007, "McNemar score test", counts=(1000, 27, 20)),
        "roc_auc": stat(0.0074, "DeLong", se=0.0029),
        "log_loss": stat(0.0351, "paired bootstrap", se=0.0128),
    }
    rows = tuple(r._replace(stat=stats[r.name]) for r in diff_sets(base, head))
    comparison = Comparison(rows, (), BASE, HEAD_SHA, notes=("Intervals: 95% paired bootstrap.",))
    rules = [
        GateRule("accuracy", max_drop=0.001, significant=True),
        GateRule("log_loss", max_drop=0.01, significant=True),
    ]
    charts = (
        ChartRef(
            "metric_changes", "Metric changes against main", Path("charts/metric_changes.png")
        ),
        ChartRef("roc_pr", "ROC and precision-recall curves", Path("charts/roc pr.png")),
        ChartRef("training_curves", "Training curves", None, "no training curves"),
    )
    return Report("default", comparison, evaluate_gate(rules, rows), False, "0.1.0", charts=charts)
