"""Report → JSON for scripts. Always valid JSON: a non-finite number becomes `null` with
a sibling `<field>_nonfinite` of "NaN", "inf" or "-inf", because NaN is not JSON and
tools such as jq reject it.

The text is laid out by hand — the top level indented, one metric per line — because
`json.dumps(..., indent=2)` falls back to the pure-Python encoder, 20 times slower than
the C one that encodes each row here; at half a million metrics that is the difference
between 16 seconds and under one. Rows are encoded one by one, so no dict per row is
ever held for the whole report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from cml_py.bulk import paused_gc
from cml_py.model import DiffRow, Direction, Evidence, GateCheck, Report, Verdict
from cml_py.report.view import verdict_counts

_VALUE = {member: member.value for enum in (Verdict, Direction) for member in enum}
_ROW = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if type(value) is float and value - value == 0:  # finite: the common case
        out[key] = value
    elif isinstance(value, float) and not math.isfinite(value):
        out[key] = None
        out[f"{key}_nonfinite"] = "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    else:
        out[key] = value


def row_dict(row: DiffRow) -> dict[str, Any]:
    base, head, delta, rel = row.base, row.head, row.delta, row.rel
    if (
        type(base) is float
        and type(head) is float
        and type(delta) is float
        and type(rel) is float
        and row.stat is None
        and row.direction is not None
        and delta - delta == 0  # finite (and so are the values)
        and rel - rel == 0
    ):  # the common row, built in one go: this runs once per metric
        return {
            "file": row.path,
            "name": row.name,
            "verdict": _VALUE[row.verdict],
            "direction": _VALUE[row.direction],
            "base": base,
            "head": head,
            "change": delta,
            "change_pct": rel * 100.0,
        }
    out: dict[str, Any] = {"file": row.path, "name": row.name, "verdict": _VALUE[row.verdict]}
    if row.direction is not None:
        out["direction"] = _VALUE[row.direction]
    if row.has_base:
        _put(out, "base", row.base)
    if row.has_head:
        _put(out, "head", row.head)
    _put(out, "change", row.delta)
    _put(out, "change_pct", row.rel * 100.0 if row.rel is not None else None)
    if row.stat is not None:
        stat = row.stat
        interval: dict[str, Any] = {}
        _put(interval, "low", stat.ci_low)
        _put(interval, "high", stat.ci_high)
        interval.update(confidence=stat.confidence, resamples=stat.resamples)
        out["interval"] = interval
        out["significant"] = stat.significant
        if stat.test is not None:
            test: dict[str, Any] = {"name": stat.test, "p_value": stat.p_value}
            if stat.se is not None:
                test["se"] = stat.se
                test["df"] = stat.df if math.isfinite(stat.df) else None
            if stat.counts is not None:
                n, better, worse = stat.counts
                test["counts"] = {"rows": n, "only_this_pr_right": better, "only_main_right": worse}
            out["test"] = test
        if stat.seed_share is not None:
            out["seeds"] = {"main": stat.repeats[0], "this_pr": stat.repeats[1]}
            out["seed_share"] = stat.seed_share
    elif row.untestable:
        out["untestable"] = row.untestable
    return out


def evidence_dict(evidence: Evidence) -> dict[str, Any]:
    out: dict[str, Any] = {"test": evidence.test}
    for key, value in (
        ("change", evidence.change),
        ("allowed_change", evidence.margin),
        ("p_value", evidence.p_value),
        ("p_adjusted", evidence.p_adjusted),
    ):
        _put(out, key, value)
    interval: dict[str, Any] = {}
    _put(interval, "low", evidence.ci_low)
    _put(interval, "high", evidence.ci_high)
    interval["confidence"] = evidence.level
    out.update(
        interval=interval,
        alpha=evidence.alpha,
        family=evidence.family,
        lower_is_better=evidence.lower_is_better,
        seeds={"main": evidence.repeats[0], "this_pr": evidence.repeats[1]},
        seed_share=evidence.seed_share,
    )
    return out


def check_dict(check: GateCheck) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pattern": check.pattern,
        "rule": check.rule,
        "status": check.status.value,
        "file": check.path,
        "metric": check.metric,
    }
    for key, value in (
        ("value", check.value),
        ("base", check.base),
        ("change", check.change),
        ("limit", check.limit),
    ):
        _put(out, key, value)
    out["informational"] = check.informational
    out["note"] = check.note
    if check.evidence is not None:
        out["evidence"] = evidence_dict(check.evidence)
    return out


def report_dict(
    report: Report, *, include_unchanged: bool | None = None, lazy: bool = False
) -> dict[str, Any]:
    """The report as plain data. `lazy`: rows and checks stay objects, to be encoded one
    at a time by `iter_json`."""
    comparison = report.comparison
    show_all = report.show_all if include_unchanged is None else include_unchanged

    def rows(items: tuple[DiffRow, ...]) -> list[Any]:
        chosen = [r for r in items if show_all or r.verdict is not Verdict.UNCHANGED]
        return _Rows(chosen, row_dict) if lazy else [row_dict(r) for r in chosen]

    base = comparison.base
    return {
        "id": report.id,
        "version": report.version,
        "verdict": report.gate.verdict.value,
        "base": {"name": base.name, "sha": base.sha, "how": base.how} if base else None,
        "head": {"sha": comparison.head_sha},
        "counts": {v.value: n for v, n in verdict_counts(comparison.metrics).items()},
        "gate": _Rows(list(report.gate.checks), check_dict)
        if lazy
        else [check_dict(c) for c in report.gate.checks],
        "policy_change": None
        if report.gate.policy_change is None
        else {
            "applied": report.gate.policy_change.applied,
            "changes": [
                {"setting": setting, "main": old, "this_pr": new}
                for setting, old, new in report.gate.policy_change.changes
            ],
        },
        "metrics": rows(comparison.metrics),
        "params": rows(comparison.params),
        "notes": list(comparison.notes),
        "statistics": None
        if comparison.statistics is None
        else {
            "rows": comparison.statistics.rows,
            "seeds": {
                "main": comparison.statistics.repeats[0],
                "this_pr": comparison.statistics.repeats[1],
            },
            "confidence": comparison.statistics.confidence,
            "resamples": comparison.statistics.resamples,
            "unpaired": comparison.statistics.unpaired or None,
        },
        "links": [{"label": label, "url": url} for label, url in comparison.links],
        "trends": [
            {
                "file": t.path,
                "name": t.name,
                "points": [
                    {
                        "sha": sha,
                        "value": value
                        if not isinstance(value, float) or math.isfinite(value)
                        else None,
                    }
                    for sha, value in t.points
                ],
            }
            for t in comparison.trends
        ],
        "legs": [
            {
                "name": leg.name,
                "verdict": leg.verdict.value,
                "checks": leg.checks,
                "failed": leg.failed,
                "warned": leg.warned,
                "better": leg.better,
                "worse": leg.worse,
            }
            for leg in report.legs
        ],
        "charts": [
            {
                "name": c.name,
                "title": c.title,
                "path": c.path.as_posix() if c.path is not None else None,
                "note": c.note,
            }
            for c in report.charts
        ],
    }


def render_json(report: Report, *, include_unchanged: bool | None = None) -> str:
    """The report as JSON text (`include_unchanged`: also unchanged rows, as report.json
    for `--merge` needs; default: as the report shows them)."""
    return "".join(iter_json(report, include_unchanged=include_unchanged))


def iter_json(
    report: Report, *, include_unchanged: bool | None = None, omit: tuple[str, ...] = ()
) -> Iterator[str]:
    """The JSON text in pieces (one per row), to write or join, without the top-level
    keys in `omit`."""
    data = report_dict(report, include_unchanged=include_unchanged, lazy=True)
    keys = [k for k in data if k not in omit]
    with paused_gc():
        yield "{"
        for i, key in enumerate(keys):
            value = data[key]
            yield f"\n  {json.dumps(key)}: "
            if isinstance(value, _Rows):
                yield from _rows(value)
            else:
                text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
                yield text.replace("\n", "\n  ")
            if i < len(keys) - 1:
                yield ","
        yield "\n}\n"


class _Rows(list[Any]):
    """Rows still to encode (a list of DiffRow/GateCheck and the function to use)."""

    def __init__(self, items: list[Any], encode: Any) -> None:
        super().__init__(items)
        self.encode = encode


_BLOCK = 2000  # rows per piece: few enough writes, small enough pieces


def _rows(rows: _Rows) -> Iterator[str]:
    if not rows:
        yield "[]"
        return
    encode = rows.encode
    for start in range(0, len(rows), _BLOCK):
        block = rows[start : start + _BLOCK]
        yield ("[" if start == 0 else ",") + ",".join(
            ["\n    " + _ROW(encode(item)) for item in block]
        )
    yield "\n  ]"
