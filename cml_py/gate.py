"""Gate rules → one check per (rule, metric) → one overall verdict (pure).

The result lists every rule that was applied, with value, base, change and limit, so a
reviewer can see why the check is red or green without opening a log. Comparisons allow
a relative tolerance of 1e-9: `0.9 - 0.89` is 0.010000000000000009 in floating point,
and a drop of exactly the allowed limit must pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from cml_py.config import GateRule
from cml_py.metrics.direction import matches
from cml_py.model import DiffRow, Direction, GateCheck, GateResult, Scalar, Status, is_number

RULE_KINDS = ("min", "max", "max_drop", "max_drop_pct")
MISSING_AT_HEAD = "missing in this PR"  # the note renderers key on to show no value
_DROP_RULES = ("max_drop", "max_drop_pct")


def _at_most(value: float, limit: float) -> bool:
    return value <= limit or math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-12)


def evaluate_gate(rules: Sequence[GateRule], rows: Sequence[DiffRow]) -> GateResult:
    checks: list[GateCheck] = []
    for rule in rules:
        matched = [row for row in rows if matches(rule.pattern, row.path, row.name)]
        kinds = [k for k in RULE_KINDS if getattr(rule, k) is not None]
        if not matched:
            status = _missing_status(rule, at_head=True)
            for kind in kinds:
                checks.append(
                    _finish(
                        rule,
                        GateCheck(
                            pattern=rule.pattern,
                            rule=kind,
                            status=status,
                            limit=getattr(rule, kind),
                            note="no metric matches this name",
                        ),
                    )
                )
            continue
        for row in matched:
            for kind in kinds:
                checks.append(_finish(rule, _check(rule, kind, row)))
    return GateResult(tuple(checks))


def _missing_status(rule: GateRule, *, at_head: bool) -> Status:
    choice = rule.on_missing or ("fail" if at_head else "warn")
    return {"fail": Status.FAIL, "warn": Status.WARN, "ignore": Status.PASS}[choice]


def _finish(rule: GateRule, check: GateCheck) -> GateCheck:
    """Informational rules are shown with their real outcome but never fail the gate."""
    if not rule.informational:
        return check
    if check.status is Status.FAIL:
        note = "; ".join(n for n in (check.note, "informational: does not fail the gate") if n)
        return replace(check, status=Status.WARN, note=note, informational=True)
    return replace(check, informational=True)


def _check(rule: GateRule, kind: str, row: DiffRow) -> GateCheck:
    limit: float = getattr(rule, kind)
    base_value: Scalar = row.base if row.has_base else None
    common = dict(
        pattern=rule.pattern,
        rule=kind,
        path=row.path,
        metric=row.name,
        value=row.head if row.has_head else None,
        base=base_value,
        change=row.delta,
        limit=limit,
    )
    if not row.has_head:
        return GateCheck(status=_missing_status(rule, at_head=True), note=MISSING_AT_HEAD, **common)
    value = row.head
    if not is_number(value):
        return GateCheck(status=Status.FAIL, note="value is not a number", **common)
    if not math.isfinite(value):  # type: ignore[arg-type]
        # NaN passes no comparison and inf passes some (min, max_drop of a cost): a
        # value that overflowed (`1e400`) or diverged must not slip through.
        status = {"fail": Status.FAIL, "warn": Status.WARN, "ignore": Status.PASS}[
            rule.on_nonfinite
        ]
        word = "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")  # type: ignore[operator]
        return GateCheck(status=status, note=f"not a finite number ({word})", **common)
    if kind == "min":
        ok = _at_most(limit, value)  # type: ignore[arg-type]
        return GateCheck(status=Status.PASS if ok else Status.FAIL, **common)
    if kind == "max":
        ok = _at_most(value, limit)  # type: ignore[arg-type]
        return GateCheck(status=Status.PASS if ok else Status.FAIL, **common)
    return _check_drop(rule, kind, row, limit, common)


def _check_drop(rule: GateRule, kind: str, row: DiffRow, limit: float, common: dict) -> GateCheck:
    if not row.has_base:
        return GateCheck(
            status=_missing_status(rule, at_head=False),
            note="no value on main to compare",
            **common,
        )
    base = row.base
    if not is_number(base) or math.isnan(base):  # type: ignore[arg-type]
        return GateCheck(
            status=_missing_status(rule, at_head=False),
            note="main's value is not a number",
            **common,
        )
    head: float = row.head  # type: ignore[assignment]
    if head == base:
        return GateCheck(status=Status.PASS, **common)
    worse_by = (base - head) if row.direction is not Direction.LOWER else (head - base)  # type: ignore[operator]
    if kind == "max_drop":
        return _drop_verdict(rule, row, _at_most(worse_by, limit), "", common)
    if worse_by <= 0:
        return GateCheck(status=Status.PASS, **common)
    if base == 0 or not math.isfinite(base):  # type: ignore[arg-type]
        note = f"main's value is {base}: a relative drop is unbounded"
        return _drop_verdict(rule, row, False, note, common)
    ok = _at_most(worse_by / abs(base) * 100.0, limit)  # type: ignore[arg-type]
    return _drop_verdict(rule, row, ok, "", common)


def _drop_verdict(rule: GateRule, row: DiffRow, ok: bool, note: str, common: dict) -> GateCheck:
    """With `significant: true`, a drop beyond the limit fails only when the paired
    statistics say the regression is real; within noise it is a warning."""
    if ok:
        return GateCheck(status=Status.PASS, note=note, **common)
    if not rule.significant:
        return GateCheck(status=Status.FAIL, note=note, **common)
    stat = row.stat
    if stat is None:
        reason = "no paired statistics for this metric, so the drop is judged as is"
        return GateCheck(status=Status.FAIL, note=_join(note, reason), **common)
    worse = stat.ci_high < 0 if row.direction is not Direction.LOWER else stat.ci_low > 0
    if stat.significant and worse:
        return GateCheck(status=Status.FAIL, note=_join(note, "significant regression"), **common)
    return GateCheck(status=Status.WARN, note=_join(note, "within noise"), **common)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def rule_text(rule: GateRule | None) -> str:
    """`{min: 0.9, max_drop: 0.01}` — a rule as it would be written in cml.yaml."""
    if rule is None:
        return "—"
    parts = [f"{k}: {getattr(rule, k):g}" for k in RULE_KINDS if getattr(rule, k) is not None]
    if rule.informational:
        parts.append("informational: true")
    if rule.significant:
        parts.append("significant: true")
    if rule.on_missing:
        parts.append(f"on_missing: {rule.on_missing}")
    if rule.on_nonfinite != "fail":
        parts.append(f"on_nonfinite: {rule.on_nonfinite}")
    return "{" + ", ".join(parts) + "}"


def rules_diff(
    base: Sequence[GateRule], head: Sequence[GateRule]
) -> tuple[tuple[str, str, str], ...]:
    """Every pattern whose rules differ between main and this PR, in a stable order."""
    old = {r.pattern: r for r in base}
    new = {r.pattern: r for r in head}
    patterns = [*old, *(p for p in new if p not in old)]
    return tuple(
        (p, rule_text(old.get(p)), rule_text(new.get(p)))
        for p in patterns
        if old.get(p) != new.get(p)
    )
