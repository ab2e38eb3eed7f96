"""Gate rules → one check per (rule, metric) → one overall verdict (pure).

The result lists every rule that was applied, with value, base, change and limit, so a
reviewer can see why the check is red or green without opening a log. Comparisons allow
a relative tolerance of 1e-9: `0.9 - 0.89` is 0.010000000000000009 in floating point,
and a drop of exactly the allowed limit must pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace

from cml_py import inference
from cml_py.config import GateRule
from cml_py.metrics.direction import metric_pattern
from cml_py.model import (
    MISSING_AT_HEAD,
    DiffRow,
    Direction,
    Evidence,
    GateCheck,
    GateResult,
    Scalar,
    Status,
    as_number,
    is_number,
)
from cml_py.report.format import fmt_number

RULE_KINDS = ("min", "max", "max_drop", "max_drop_pct")
_DROP_RULES = ("max_drop", "max_drop_pct")
_GLOB = re.compile(r"[*?\[]")


def _at_most(value: float, limit: float, scale: float = 0.0) -> bool:
    """`value <= limit`, up to floating-point noise: a relative tolerance of 1e-9, and
    for a change (a difference of two values, where `limit` may be 0) 1e-12 of the
    values' own size — never a fixed amount, which would pass 1e-12 against
    `max: 1e-13`."""
    return value <= limit or math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-12 * scale)


def literal_matches(patterns: set[str], rows: Sequence[DiffRow]) -> dict[str, list[DiffRow]]:
    """Rows named by plain (non-glob) patterns, by name or `file:name`, in one pass and
    in report order — a dict lookup per row instead of a pattern match per row per rule,
    the difference between milliseconds and seconds at half a million metrics."""
    if not patterns:
        return {}
    found: dict[str, list[DiffRow]] = {pattern: [] for pattern in patterns}
    with_file = any(":" in pattern for pattern in patterns)
    for row in rows:
        hit = found.get(row.name)
        if hit is not None:
            hit.append(row)
        if with_file:
            hit = found.get(f"{row.path}:{row.name}")
            if hit is not None:
                hit.append(row)
    return found


def glob_matches(pattern: str, rows: Sequence[DiffRow]) -> list[DiffRow]:
    """Rows a glob names (by name, or by `file:name` when it holds a colon), with the
    pattern compiled once."""
    match, with_file = metric_pattern(pattern)
    if not with_file:
        return [row for row in rows if match(row.name)]
    return [row for row in rows if match(row.name) or match(f"{row.path}:{row.name}")]


def evaluate_gate(rules: Sequence[GateRule], rows: Sequence[DiffRow]) -> GateResult:
    checks: list[GateCheck] = []
    literal = literal_matches({r.pattern for r in rules if not _GLOB.search(r.pattern)}, rows)
    for rule in rules:
        matched = literal.get(rule.pattern)
        if matched is None:
            matched = glob_matches(rule.pattern, rows)
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
    return GateResult(judge_significance(checks))


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
    common = GateCheck(  # each outcome below is this check with its status and note
        pattern=rule.pattern,
        rule=kind,
        status=Status.PASS,
        path=row.path,
        metric=row.name,
        value=row.head if row.has_head else None,
        base=base_value,
        change=row.delta,
        limit=limit,
    )
    if not row.has_head:
        return replace(common, status=_missing_status(rule, at_head=True), note=MISSING_AT_HEAD)
    value = as_number(row.head)
    if value is None:
        return replace(common, status=Status.FAIL, note="value is not a number")
    if not math.isfinite(value):
        # NaN passes no comparison and inf passes some (min, max_drop of a cost): a
        # value that overflowed (`1e400`) or diverged must not slip through.
        status = {"fail": Status.FAIL, "warn": Status.WARN, "ignore": Status.PASS}[
            rule.on_nonfinite
        ]
        word = "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return replace(common, status=status, note=f"not a finite number ({word})")
    if kind == "min":
        ok = _at_most(limit, value)
        return replace(common, status=Status.PASS if ok else Status.FAIL)
    if kind == "max":
        ok = _at_most(value, limit)
        return replace(common, status=Status.PASS if ok else Status.FAIL)
    return _check_drop(rule, kind, row, value, limit, common)


def _check_drop(
    rule: GateRule, kind: str, row: DiffRow, head: float, limit: float, common: GateCheck
) -> GateCheck:
    """`head` is the PR's value, already known to be a finite number."""
    if not row.has_base:
        return replace(
            common, status=_missing_status(rule, at_head=False), note="no value on main to compare"
        )
    base = row.base
    if not is_number(base) or math.isnan(base):
        return replace(
            common, status=_missing_status(rule, at_head=False), note="main's value is not a number"
        )
    gain_required = limit < 0  # a negative drop: MLflow's min_absolute/relative_change
    if head == base and not rule.significant and not gain_required:
        return replace(common, status=Status.PASS)
    worse_by = (base - head) if row.direction is not Direction.LOWER else (head - base)
    if kind == "max_drop":
        scale = max(abs(base), abs(head))
        return _drop_verdict(rule, row, _at_most(worse_by, limit, scale), "", common, limit)
    if worse_by <= 0 and not rule.significant and not gain_required:
        return replace(common, status=Status.PASS)
    if base == 0 and gain_required:  # as MLflow: from 0, any gain is enough
        return _drop_verdict(rule, row, worse_by < 0, "main's value is 0: any gain", common, 0.0)
    if base == 0 or not math.isfinite(base):
        if worse_by <= 0:
            return _drop_verdict(rule, row, True, "", common, 0.0)
        note = f"main's value is {fmt_number(base)}: a relative drop is unbounded"
        return _drop_verdict(rule, row, False, note, common, 0.0)
    ok = _at_most(worse_by / abs(base) * 100.0, limit, 1.0)  # a share of main's value
    return _drop_verdict(rule, row, ok, "", common, limit / 100.0 * abs(base))


WORSE_THAN_ALLOWED = "worse than allowed, and not noise"
MAY_BE_WORSE = "may be worse than allowed; not enough evidence"
NO_STATISTICS = "no paired statistics (only metrics computed from predictions have them)"


def _drop_verdict(
    rule: GateRule, row: DiffRow, ok: bool, note: str, common: GateCheck, tolerance: float
) -> GateCheck:
    """A `max_drop`/`max_drop_pct` outcome; `ok` says whether the values themselves are
    within the limit, `tolerance` is the limit as an absolute change.

    With `significant: true` it is a non-inferiority test: the check fails only when
    the PR is worse than allowed beyond reasonable doubt — the one-sided p-value of
    "no worse than the tolerance" is small, which is the same as the interval of the
    change lying entirely beyond the tolerance. A drop beyond the limit without that
    evidence is a warning. The verdict is provisional until `judge_significance` has
    seen every such check (Holm).
    """
    if not rule.significant:
        return replace(common, status=Status.PASS if ok else Status.FAIL, note=note)
    stat = row.stat
    if stat is None:
        reason = row.untestable or NO_STATISTICS
        if ok:
            tested = f"not tested: {reason}"
            return replace(common, status=Status.PASS, note=_join(note, tested))
        if rule.on_untestable == "warn":
            outcome = "cannot test: {}; the drop is beyond the limit (on_untestable: warn)"
            return replace(common, status=Status.WARN, note=_join(note, outcome.format(reason)))
        outcome = "cannot test: {}; judged as a plain drop (on_untestable: fail)"
        return replace(common, status=Status.FAIL, note=_join(note, outcome.format(reason)))
    lower_is_better = row.direction is Direction.LOWER
    margin = tolerance if lower_is_better else -tolerance
    p_value = (
        inference.p_above(stat, margin) if lower_is_better else inference.p_below(stat, margin)
    )
    alpha = round((1.0 - stat.confidence) / 2.0, 12)  # 0.025, not 0.025000000000000022
    evidence = Evidence(
        test=stat.test or "",
        change=stat.delta,
        margin=margin,
        ci_low=stat.ci_low,
        ci_high=stat.ci_high,
        level=stat.confidence,
        p_value=p_value,
        p_adjusted=p_value,
        alpha=alpha,
        seed_share=stat.seed_share,
        repeats=stat.repeats,
        lower_is_better=lower_is_better,
        stat=stat,
    )
    status = Status.PASS if ok else Status.WARN
    return replace(common, status=status, note=note, evidence=evidence)


def judge_significance(checks: Sequence[GateCheck]) -> tuple[GateCheck, ...]:
    """Final verdicts of the significance checks, with Holm's step-down procedure over
    those that can fail the gate, so that the chance of any false failure stays at
    (1 − confidence) / 2 however many rules use `significant: true`.

    Each check's interval is shown at the level Holm's decisions correspond to, so an
    interval lies beyond its tolerance exactly when its check failed.
    """
    out = list(checks)
    family = [i for i, c in enumerate(out) if c.evidence is not None and not c.informational]
    alone = [i for i, c in enumerate(out) if c.evidence is not None and c.informational]
    if family:
        alpha = min(out[i].evidence.alpha for i in family)  # type: ignore[union-attr]
        adjusted = inference.holm([out[i].evidence.p_value for i in family])  # type: ignore[union-attr]
        rejected = sum(p < alpha for p in adjusted)
        level = inference.holm_level(alpha, len(family), rejected)
        for i, p_adjusted in zip(family, adjusted, strict=True):
            out[i] = _significance_outcome(out[i], p_adjusted, alpha, level, len(family))
    for i in alone:
        evidence = out[i].evidence
        assert evidence is not None
        outcome = _significance_outcome(out[i], evidence.p_value, evidence.alpha, evidence.alpha, 1)
        if outcome.status is Status.FAIL:
            note = _join(outcome.note, "informational: does not fail the gate")
            outcome = replace(outcome, status=Status.WARN, note=note)
        out[i] = outcome
    return tuple(out)


def _significance_outcome(
    check: GateCheck, p_adjusted: float, alpha: float, level: float, family: int
) -> GateCheck:
    evidence = check.evidence
    assert evidence is not None and evidence.stat is not None
    low, high = inference.interval(evidence.stat, 1.0 - 2.0 * level)
    evidence = replace(
        evidence,
        p_adjusted=p_adjusted,
        family=family,
        level=1.0 - 2.0 * level,
        ci_low=low,
        ci_high=high,
    )
    if p_adjusted < alpha:
        status, words = Status.FAIL, WORSE_THAN_ALLOWED
    elif check.status is Status.WARN:
        status, words = Status.WARN, MAY_BE_WORSE
        if evidence.p_value < alpha:
            words += f" once {family} rules are tested together (Holm)"
    else:
        status, words = Status.PASS, ""
    return replace(check, status=status, note=_join(check.note, words), evidence=evidence)


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
    if rule.on_untestable:
        parts.append(f"on_untestable: {rule.on_untestable}")
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
