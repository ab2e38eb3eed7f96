"""What the report says about significance: for each rule with `significant: true`, the
change, the allowed change, the interval, the p-values and the test, from one procedure,
and the warning shown when the two sides' test rows differ."""

from __future__ import annotations

from cml_py.model import (
    Evidence,
    Report,
)
from cml_py.report.format import fmt_delta, fmt_float
from cml_py.report.view import Escape, Table, several_files


def fmt_p(p: float, alpha: float | None = None) -> str:
    """p-values to two significant digits — more when rounding would carry a p-value
    across `alpha` (0.0249 must not read as the 0.025 it is compared with); tiny ones
    as a bound, never as 0."""
    if p < 1e-4:
        return "< 0.0001"
    for digits in range(2, 8):
        text = fmt_float(p, digits)
        if alpha is None or (float(text) < alpha) == (p < alpha):
            return text
    return fmt_float(p, 8)


def fmt_level(level: float) -> str:
    return f"{fmt_float(level * 100, 4)}%"


def allowed_text(evidence: Evidence) -> str:
    """The tolerance as the change it allows: `≥ -0.005` where higher is better."""
    margin = fmt_delta(evidence.margin) or "0"
    return f"≤ {margin}" if evidence.lower_is_better else f"≥ {margin}"


def spread_text(evidence: Evidence) -> str:
    main, head = evidence.repeats
    if evidence.seed_share is None:
        return "test rows (1 seed a side)"
    seeds = round(evidence.seed_share * 100)
    return f"seeds {seeds}% · test rows {100 - seeds}% ({main} + {head} seeds)"


def test_text(evidence: Evidence) -> str:
    stat = evidence.stat
    if stat is not None and stat.counts is not None:
        n, better, worse = stat.counts
        counts = f"{worse:,} rows only main got right, {better:,} only this PR, of {n:,}"
        return f"{evidence.test}: {counts}"
    if stat is not None and stat.df != float("inf"):
        return f"{evidence.test} (df {fmt_float(stat.df, 2)})"
    return evidence.test


def evidence_text(evidence: Evidence) -> str:
    """One line for logs and JUnit: change, interval, tolerance, p-value and test."""
    text = (
        f"change {fmt_delta(evidence.change) or '0'}, {fmt_level(evidence.level)} interval "
        f"[{fmt_delta(evidence.ci_low) or '0'}, {fmt_delta(evidence.ci_high) or '0'}], "
        f"allowed {allowed_text(evidence)}, p = {fmt_p(evidence.p_value, evidence.alpha)}"
    )
    if evidence.family > 1:
        adjusted = fmt_p(evidence.p_adjusted, evidence.alpha)
        text += f" (Holm over {evidence.family} rules: {adjusted})"
    return text + f"; {evidence.test}"


def significance_table(report: Report, esc: Escape) -> Table | None:
    rows = []
    show_file = several_files(report.comparison.metrics)
    for check in report.gate.checks:
        e = check.evidence
        if e is None:
            continue
        cells = [
            esc(check.target),
            check.rule,
            fmt_delta(e.change) or "0",
            allowed_text(e),
            f"[{fmt_delta(e.ci_low) or '0'}, {fmt_delta(e.ci_high) or '0'}] ({fmt_level(e.level)})",
            fmt_p(e.p_value, e.alpha),
            fmt_p(e.p_adjusted, e.alpha) if e.family > 1 else "",
            test_text(e),
            spread_text(e),
        ]
        if show_file:
            cells.insert(1, esc(check.path or ""))
        rows.append(tuple(cells))
    if not rows:
        return None
    headers = [
        "Metric",
        "Rule",
        "Change",
        "Allowed",
        "Interval",
        "p",
        "Holm p",
        "Test",
        "Uncertainty from",
    ]
    aligns = "llrrrrrll"
    if show_file:
        headers.insert(1, "File")
        aligns = "l" + aligns
    return Table(tuple(headers), aligns, tuple(rows))


def significance_summary(report: Report) -> str:
    checks = [c for c in report.gate.checks if c.evidence is not None]
    if not checks:
        return ""
    family = max(c.evidence.family for c in checks)  # type: ignore[union-attr]
    alpha = checks[0].evidence.alpha  # type: ignore[union-attr]
    rules = f"{len(checks)} rule{'s' if len(checks) != 1 else ''}"
    rate = f"{fmt_float(alpha * 100, 3)}%"
    if family > 1:
        return f"Is it noise? {rules} with significant: true; false-fail rate {rate} (Holm)"
    return f"Is it noise? {rules} with significant: true; false-fail rate {rate}"


def significance_text(report: Report) -> str:
    """How to read the table, in the reader's words."""
    checks = [c for c in report.gate.checks if c.evidence is not None]
    if not checks:
        return ""
    alpha = fmt_float(checks[0].evidence.alpha, 3)  # type: ignore[union-attr]
    family = max(c.evidence.family for c in checks)  # type: ignore[union-attr]
    text = (
        "A rule fails only when this PR is worse than allowed and that is not noise: its "
        "interval lies entirely beyond the allowed change. p is the chance of a change at "
        "least this far beyond the tolerance if the PR were no worse than allowed"
    )
    if family > 1:
        text += (
            f"; with {family} rules tested together, Holm's adjusted p must be below {alpha} "
            "and the intervals are widened to match"
        )
    else:
        text += f"; it must be below {alpha}"
    text += ". A drop beyond the limit without that evidence is a warning."
    if any(c.evidence.seed_share is None for c in checks):  # type: ignore[union-attr]
        text += (
            " With one seed a side the models are taken as they are: the interval covers "
            "the test rows, not the spread between training seeds (train.repeats)."
        )
    return text


def unpaired_warning(report: Report) -> str:
    statistics = report.comparison.statistics
    if statistics is None or not statistics.unpaired:
        return ""
    significant = any(
        c.evidence is None and ("cannot test" in c.note or "not tested" in c.note)
        for c in report.gate.checks
    )
    text = f"No significance tests: {statistics.unpaired}."
    if significant:
        text += (
            " Rules with significant: true cannot tell a real change from noise, and follow "
            "on_untestable (fail, unless set to warn, when the drop is beyond the limit)."
        )
    return text
