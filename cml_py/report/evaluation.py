"""`cml-py evaluate` output: one side's metrics, or both sides with paired statistics."""

from __future__ import annotations

import json
import math
from typing import Any

from cml_py.model import PairedStat
from cml_py.report.format import fmt_delta, fmt_float, fmt_pair
from cml_py.report.tables import text_table
from cml_py.report.text import _plain
from cml_py.report.view import Table, interval_text


def stat_interval(stat: PairedStat) -> str:
    """`-0.012 [-0.02, -0.004]`: the change and its confidence interval."""
    return f"{fmt_delta(stat.delta)} {interval_text(stat)}"


def stat_verdict(stat: PairedStat) -> str:
    word = "significant" if stat.significant else "within noise"
    if stat.test and stat.p_value is not None:
        word += f" ({stat.test} p={fmt_float(stat.p_value, 2)})"
    return word


def metrics_text(values: dict[str, float], *, n: int, task: str, source: str) -> str:
    # Metric names carry the file's labels (per_class.<label>.f1): no control character
    # of theirs reaches the terminal or CI log, as in the text report.
    rows = tuple((_plain(name), fmt_float(value)) for name, value in values.items())
    header = f"{_plain(source)}: {task}, {n:,} rows"
    return header + "\n" + text_table(Table(("Metric", "Value"), "lr", rows)) + "\n"


def paired_text(
    base: dict[str, float],
    head: dict[str, float],
    stats: dict[str, PairedStat],
    *,
    n: int,
    task: str,
    confidence: float,
    resamples: int,
) -> str:
    rows = []
    for name in head:
        if name not in base:
            continue
        b, h = fmt_pair(base[name], head[name])
        stat = stats.get(name)
        rows.append(
            (
                _plain(name),
                b,
                h,
                stat_interval(stat) if stat else fmt_delta(head[name] - base[name]),
                stat_verdict(stat) if stat else "",
            )
        )
    pct = f"{confidence * 100:g}%"
    header = (
        f"paired comparison: {task}, {n:,} rows on both sides; {pct} intervals, each with "
        f"its p-value from the procedure named beside it (bootstrap: {resamples:,} resamples)"
    )
    table = Table(("Metric", "main", "this PR", f"Δ [{pct} CI]", ""), "lrrrl", tuple(rows))
    return header + "\n" + text_table(table) + "\n"


def metric_values(values: dict[str, float]) -> dict[str, Any]:
    """Metrics for JSON as report.json writes values: a non-finite one (RMSE of values
    near 1e308) is null with a sibling `<name>_nonfinite` of "inf", "-inf" or "NaN", as
    JSON has no infinity."""
    from cml_py.report.json_out import _put

    out: dict[str, Any] = {}
    for name, value in values.items():
        _put(out, name, value)
    return out


def _number(value: float) -> Any:
    return value if math.isfinite(value) else None


def stat_dict(stat: PairedStat) -> dict[str, Any]:
    return {
        "delta": _number(stat.delta),
        "ci_low": _number(stat.ci_low),
        "ci_high": _number(stat.ci_high),
        "confidence": stat.confidence,
        "significant": stat.significant,
        "resamples": stat.resamples,
        "test": stat.test,
        "p_value": stat.p_value,
        "se": stat.se,
        "df": stat.df if math.isfinite(stat.df) else None,
        "counts": None
        if stat.counts is None
        else dict(zip(("rows", "only_this_pr_right", "only_main_right"), stat.counts, strict=True)),
    }


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"
