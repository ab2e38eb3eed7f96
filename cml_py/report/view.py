"""Report → tables of display strings, built once and shared by the text and markdown
renderers (pure).

`esc` is applied to every string that came from the user's files or repository; our own
formatted numbers and labels are passed through. The markdown renderer passes an escaper,
the terminal renderer passes the identity.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice, repeat
from operator import attrgetter, eq, itemgetter, mul
from typing import NamedTuple, TypeVar

from cml_py.bulk import paused_gc
from cml_py.model import (
    MISSING_AT_HEAD,
    DiffRow,
    GateCheck,
    PairedStat,
    Report,
    Scalar,
    Status,
    Verdict,
    is_finite_number,
    is_number,
)
from cml_py.report.columns import significant_digits
from cml_py.report.format import (
    MISSING,
    fmt_delta,
    fmt_distinct,
    fmt_float,
    fmt_number,
    fmt_pair,
    fmt_pct,
)

Escape = Callable[[str], str]
_VERDICT_OF = attrgetter("verdict")
T = TypeVar("T")

VERDICT_ORDER = (
    Verdict.WORSE,
    Verdict.BETTER,
    Verdict.CHANGED,
    Verdict.ADDED,
    Verdict.REMOVED,
    Verdict.UNCHANGED,
)


MD_ROWS = 1000
"""Rows a markdown table shows before folding the rest into a count. Every place a
markdown report goes holds at most about a megabyte (GitHub comments 65,536 characters,
GitLab notes 1,000,000, a job summary 1 MiB), so rendering half a million rows would
only cost memory and time before being cut; report.json and `cml-py diff` keep all."""


@dataclass(frozen=True)
class Table:
    """A table of display strings, rendered as markdown or aligned text."""

    headers: tuple[str, ...]
    aligns: str  # one of "l", "r" per column
    rows: tuple[tuple[str, ...], ...]
    omitted: int = 0
    """Rows left out to keep the report readable (shown as a count under the table)."""
    omitted_detail: str = ""

    def __bool__(self) -> bool:
        return bool(self.rows) or bool(self.omitted)


def fold(items: Sequence[T], limit: int | None, rank: Callable[[T], int]) -> tuple[list[T], int]:
    """At most `limit` items, the lowest `rank` first (worst news), in their original
    order; and how many were left out. Linear, no sort: count the ranks, find the rank
    where the limit falls, take everything better and the first items of that rank."""
    if limit is None or len(items) <= limit:
        return list(items), 0
    ranks = list(map(rank, items))
    counts = Counter(ranks)
    taken = 0
    for cutoff in sorted(counts):
        if taken + counts[cutoff] >= limit:
            break
        taken += counts[cutoff]
    room = limit - taken
    chosen = []
    for item, item_rank in zip(items, ranks, strict=True):
        if item_rank < cutoff:
            chosen.append(item)
        elif item_rank == cutoff and room:
            chosen.append(item)
            room -= 1
    return chosen, len(items) - len(chosen)


def _left_out(rows: Sequence[DiffRow], shown: Sequence[DiffRow]) -> str:
    """`3 worse, 120 better` — the verdicts of the rows a folded table does not show."""
    total, kept = verdict_counts(rows), verdict_counts(shown)
    return ", ".join(f"{n - kept[v]} {v.value}" for v, n in total.items() if n - kept[v])


@dataclass(frozen=True)
class Marks:
    """The symbols a renderer uses; markdown gets emoji, terminals get plain words."""

    status: dict[Status, str]
    verdict: dict[Verdict, str]
    up: str = "▲"
    down: str = "▼"
    significant: str = "{verdict}, significant"
    noise: str = "{word}, within noise"


_RULE_TEXT = {
    "min": "≥ {}",
    "max": "≤ {}",
    "max_drop": "worse by ≤ {}",
    "max_drop_pct": "worse by ≤ {}%",
}


def limit_text(check: GateCheck, limit: str | None = None) -> str:
    """The rule as a reviewer reads it (`≥ 0.9`); `limit`: its number as shown beside
    the check's values (see gate_numbers)."""
    if check.limit is None:
        return ""
    return _RULE_TEXT.get(check.rule, "{}").format(limit or fmt_number(check.limit))


class GateNumbers(NamedTuple):
    """A gate check's numbers as every format shows them (unescaped)."""

    base: str | None  # None when main has no value
    value: str | None  # None when this PR has none
    change: str  # "" when nothing changed
    rule: str  # `≥ 0.9`, `worse by ≤ 1%`


def gate_numbers(check: GateCheck) -> GateNumbers:
    """What a rule compares, and its limit, with enough digits to differ whenever they
    differ — the value for `min`/`max`, the drop for `max_drop`, the relative drop for
    `max_drop_pct` — so a failed check never reads as sitting exactly on its limit
    (where it would pass), and a passed one never as beyond it."""
    base, value, change, limit = check.base, check.value, check.change, check.limit
    shown_limit: str | None = None
    has_value = check.metric is not None and check.note != MISSING_AT_HEAD
    if check.rule in ("min", "max") and limit is not None and is_number(value):
        base_text, value_text, shown_limit = fmt_distinct((base, value, limit))
    else:
        base_text, value_text = fmt_pair(base, value)
    change_text = fmt_delta(change) if change else ""
    if change and is_number(change) and limit is not None and math.isfinite(change):
        sign = "+" if change > 0 else "-"
        limit_sign = "-" if limit < 0 else ""  # a negative drop: a gain is required
        if check.rule == "max_drop":
            drop, shown = fmt_distinct((abs(change), abs(limit)), sig=(3, 4))
            change_text, shown_limit = sign + drop, limit_sign + shown
        elif check.rule == "max_drop_pct" and is_finite_number(base) and base != 0:
            percent = abs(change) / abs(base) * 100.0
            relative, shown = fmt_distinct((percent, abs(limit)), sig=(3, 4))
            digits = max(3, significant_digits(relative) or 3)
            change_text = f"{fmt_delta(change, digits)} ({sign}{relative}%)"
            shown_limit = limit_sign + shown
        # main and this PR with at least the change's decimals, so that their shown
        # difference is the change shown beside them
        decimals = _decimals(change_text.split(" ")[0])
        base_text, value_text = (
            _at_least_decimals(v, text, decimals)
            for v, text in ((base, base_text), (value, value_text))
        )
    return GateNumbers(
        base_text if check.base is not None else None,
        value_text if has_value else None,
        change_text,
        limit_text(check, shown_limit),
    )


def _pair(
    row_base: Scalar, row_head: Scalar, has_base: bool, has_head: bool, esc: Escape
) -> tuple[str, str]:
    base, head = fmt_pair(row_base, row_head)
    return (esc(base) if has_base else MISSING, esc(head) if has_head else MISSING)


def interval_text(stat: PairedStat) -> str:
    """`[-0.02, -0.004]`: the confidence interval of a change."""
    return f"[{fmt_delta(stat.ci_low)}, {fmt_delta(stat.ci_high)}]"


def change_text(row: DiffRow, marks: Marks) -> str:
    """`▼ -0.012 (-1.3%) [-0.02, -0.004]`: the change, relative change and its interval."""
    if row.delta is None or row.delta == 0:
        return ""
    arrow = marks.up if row.delta > 0 else marks.down
    pct = fmt_pct(row.rel)
    text = f"{arrow} {fmt_delta(row.delta)}" + (f" ({pct})" if pct else "")
    return text + (f" {interval_text(row.stat)}" if row.stat is not None else "")


def verdict_text(row: DiffRow, marks: Marks) -> str:
    """better/worse, and with paired statistics whether the change is real or noise."""
    if row.stat is None or row.verdict not in (Verdict.BETTER, Verdict.WORSE):
        return marks.verdict[row.verdict]
    if row.stat.significant:
        return marks.significant.format(verdict=marks.verdict[row.verdict])
    return marks.noise.format(word=row.verdict.value)


_STATUS_RANK = {Status.FAIL: 0, Status.WARN: 1, Status.PASS: 2}


def agreeing(base: float, head: float, b: str, h: str, delta: float) -> tuple[str, str]:
    """main and this PR as shown (`b`, `h`), unless their shown difference strays from
    the change beside them by more than a quarter of it: `100 | 100.1` beside `+0.02`
    (100.04 → 100.06) reads as a contradiction. Those two get the decimals of the
    change's third significant digit, as the gate table gives them: `100.04 | 100.06`."""
    try:
        off = abs(float(h) - float(b) - delta) > abs(delta) / 4
    except ValueError:  # a text, not a number
        return b, h
    if not off or not delta or not math.isfinite(delta):
        return b, h
    decimals = max(0, 2 - math.floor(math.log10(abs(delta))))
    return _at_least_decimals(base, b, decimals), _at_least_decimals(head, h, decimals)


def _may_disagree(rels: Sequence[float]) -> list[int]:
    """The rows of a block of `.4g` values that `agreeing` may widen: each value shown
    is off by at most half its fourth digit, 0.05 % of it, so together main and this PR
    stray by at most 0.0005 × (|main| + |this PR|), under a quarter of any change of
    0.5 % or more. Only smaller changes need their shown values checked."""
    return [i for i, rel in enumerate(rels) if -0.005 < rel < 0.005]


def _decimals(text: str) -> int:
    """Decimals of a plain number as shown (`-0.010004` → 6); 0 for an exponent."""
    if "e" in text or "." not in text:
        return 0
    return len(text.rpartition(".")[2])


def _at_least_decimals(value: Scalar, text: str, decimals: int) -> str:
    """`text`, or `value` with `decimals` decimals (trailing zeros dropped) if it shows
    fewer and is a plain float."""
    if type(value) is not float or "e" in text or _decimals(text) >= decimals:
        return text
    if not math.isfinite(value) or abs(value) >= 1e15:
        return text
    longer = f"{value:.{decimals}f}"
    return longer.rstrip("0").rstrip(".") if "." in longer else longer


def gate_table(
    report: Report, esc: Escape, marks: Marks, *, show_file: bool, limit: int | None = None
) -> Table:
    checks, omitted = fold(report.gate.checks, limit, lambda c: _STATUS_RANK[c.status])
    rows = []
    for check in checks:
        numbers = gate_numbers(check)
        row = [
            f"{marks.status[check.status]}",
            esc(check.target),
            numbers.rule,
            MISSING if numbers.base is None else esc(numbers.base),
            MISSING if numbers.value is None else esc(numbers.value),
            numbers.change,
            esc(check.note),
        ]
        if show_file:
            row.insert(1, esc(check.path or ""))
        rows.append(tuple(row))
    headers = ["", "Metric", "Rule", "main", "this PR", "Change", "Note"]
    aligns = "lllrrrl"
    if show_file:
        headers.insert(1, "File")
        aligns = "l" + aligns
    detail = ""
    if omitted:
        shown = {id(c) for c in checks}
        left = [c for c in report.gate.checks if id(c) not in shown]
        detail = ", ".join(
            f"{n} {status.value}ed" if status is not Status.PASS else f"{n} passed"
            for status in _STATUS_RANK
            if (n := sum(1 for c in left if c.status is status))
        )
    return Table(tuple(headers), aligns, tuple(rows), omitted, detail)


_VERDICT_RANK = {verdict: i for i, verdict in enumerate(VERDICT_ORDER)}


def diff_headers(label: str, *, show_file: bool) -> tuple[tuple[str, ...], str]:
    headers = (label, "main", "this PR", "Change", "")
    return (("File", *headers), "l" + "lrrrl") if show_file else (headers, "lrrrl")


def visible_rows(rows: Sequence[DiffRow], show_all: bool) -> Sequence[DiffRow]:
    return rows if show_all else [r for r in rows if r.verdict is not Verdict.UNCHANGED]


def diff_cells(
    rows: Iterable[DiffRow], esc: Escape, marks: Marks, *, show_file: bool
) -> Iterator[tuple[str, ...]]:
    """The cells of each row: name, main, this PR, change, verdict (file first with
    `show_file`). A generator over blocks of rows, so a renderer of hundreds of
    thousands of rows never holds them all at once.

    Each block is tried a column at a time (`_column_cells`); a block with any unusual
    row takes the row-by-row path, which is the definition of what a cell shows."""
    source = iter(rows)
    while block := list(islice(source, _BLOCK)):
        cells = _column_cells(block, esc, marks, show_file=show_file)
        if cells is None:
            yield from _row_cells(block, esc, marks, show_file=show_file)
        else:
            yield from cells


_BLOCK = 10_000


def _row_cells(
    rows: Iterable[DiffRow], esc: Escape, marks: Marks, *, show_file: bool
) -> Iterator[tuple[str, ...]]:
    """`diff_cells`, one row at a time."""
    verdicts = marks.verdict
    up, down = f"{marks.up} +", f"{marks.down} -"
    for row in rows:
        base, head, delta, rel = row.base, row.head, row.delta, row.rel
        if type(base) is float and type(head) is float and type(delta) is float and delta:
            # The common row, formatted inline: each number is one C-level format;
            # anything unusual takes fmt_*.
            b, h = format(base, ".4g"), format(head, ".4g")
            if "e" in b or "e" in h or b == h or b[-1] in "nf" or h[-1] in "nf":
                b, h = fmt_pair(base, head)
            if math.isfinite(delta):
                b, h = agreeing(base, head, b, h, delta)
            d = format(abs(delta), ".3g")
            if "e" in d or d[-1] in "nf":
                d = fmt_float(abs(delta), 3)
            change = (up if delta > 0 else down) + d
            if rel:
                p = format(abs(rel) * 100.0, ".3g")
                if "e" in p or p[-1] in "nf":
                    p = fmt_float(abs(rel) * 100.0, 3)
                change += f" ({'+' if rel > 0 else '-'}{p}%)"
            if row.stat is not None:
                change += f" {interval_text(row.stat)}"
            cells = (esc(row.name), b, h, change, verdict_text(row, marks))  # numbers: ours
            if row.stat is None:
                cells = (*cells[:4], verdicts[row.verdict])
        else:
            b, h = _pair(base, head, row.has_base, row.has_head, esc)
            if is_finite_number(base) and is_finite_number(head) and is_finite_number(delta):
                b, h = agreeing(base, head, b, h, delta)
            cells = (esc(row.name), b, h, change_text(row, marks), verdict_text(row, marks))
        yield (esc(row.path), *cells) if show_file else cells


_FLOAT_ONLY = {float}


def _column_cells(
    rows: list[DiffRow], esc: Escape, marks: Marks, *, show_file: bool
) -> list[tuple[str, ...]] | None:
    """`_row_cells` for a block in which every row is the common one — a float against
    a float, changed by a percentage, without statistics — and every number prints
    plainly (no exponent, infinity or NaN; main and this PR never print alike). Each
    column is then made by one `map` in C, several times faster than a Python loop
    over half a million rows. None for any other block."""
    paths, names, bases, heads, _, _, deltas, rels, verdicts, _, stats, _ = zip(*rows, strict=True)
    columns = (bases, heads, deltas, rels)
    if any(set(map(type, column)) != _FLOAT_ONLY for column in columns):
        return None
    if stats.count(None) != len(stats) or 0.0 in deltas or 0.0 in rels:
        return None
    b = list(map(format, bases, repeat(".4g")))
    h = list(map(format, heads, repeat(".4g")))
    # Signed: "+0.012" prints the digits of abs(delta) behind the sign of the change,
    # and a relative change always has the sign of the change (rel = delta / |main|).
    d = list(map(format, deltas, repeat("+.3g")))
    p = list(map(format, map(mul, rels, repeat(100.0)), repeat("+.3g")))
    printed = "".join(chain(b, h, d, p))
    if "e" in printed or "n" in printed or any(map(eq, b, h)):
        return None
    for i in _may_disagree(rels):
        b[i], h[i] = agreeing(bases[i], heads[i], b[i], h[i], deltas[i])
    arrows = map({"+": f"{marks.up} ", "-": f"{marks.down} "}.__getitem__, map(itemgetter(0), d))
    changes = map("{}{} ({}%)".format, arrows, d, p)
    shown = map(marks.verdict.__getitem__, verdicts)
    if show_file:
        return list(zip(map(esc, paths), map(esc, names), b, h, changes, shown, strict=True))
    return list(zip(map(esc, names), b, h, changes, shown, strict=True))


def diff_table(
    rows: Sequence[DiffRow],
    esc: Escape,
    marks: Marks,
    *,
    label: str,
    show_all: bool,
    show_file: bool,
    limit: int | None = None,
) -> Table:
    """One line per changed row (every row with `show_all`); over `limit` rows, the
    worst news is kept — worse, then better, changed, added, removed — in file order."""
    visible = visible_rows(rows, show_all)
    shown, omitted = fold(visible, limit, lambda r: _VERDICT_RANK[r.verdict])
    with paused_gc():
        out = tuple(diff_cells(shown, esc, marks, show_file=show_file))
    headers, aligns = diff_headers(label, show_file=show_file)
    detail = _left_out(visible, shown) if omitted else ""
    return Table(headers, aligns, out, omitted, detail)


def values_table(
    rows: Sequence[DiffRow], esc: Escape, *, show_file: bool, limit: int | None = None
) -> Table:
    """Every metric with both values, for the collapsed "all metrics" section."""
    shown = rows if limit is None else rows[:limit]
    out = []
    for row in shown:
        base, head = _pair(row.base, row.head, row.has_base, row.has_head, esc)
        cells = [esc(row.name), base, head]
        if show_file:
            cells.insert(0, esc(row.path))
        out.append(tuple(cells))
    headers = ["Metric", "main", "this PR"]
    aligns = "lrr"
    if show_file:
        headers.insert(0, "File")
        aligns = "l" + aligns
    return Table(tuple(headers), aligns, tuple(out), len(rows) - len(shown))


def verdict_counts(rows: Sequence[DiffRow]) -> dict[Verdict, int]:
    found = Counter(map(_VERDICT_OF, rows))
    return {v: found[v] for v in VERDICT_ORDER}


def counts_text(rows: Sequence[DiffRow]) -> str:
    """`2 worse, 1 better, 5 unchanged` — only the non-zero counts, worst news first."""
    counts = verdict_counts(rows)
    return ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)


def headline(report: Report) -> str:
    """The verdict line: what the red or green check means, with counts."""
    gate = report.gate
    n = len(gate.checks)
    failed, warned = gate.count(Status.FAIL), gate.count(Status.WARN)
    warn_text = f", {warned} warning{'s' if warned != 1 else ''}" if warned else ""
    if n == 0:
        return "no gate rules, report only"
    checks = f"check{'s' if n != 1 else ''}"
    if failed or warned:  # "0 of 1 check passed" would read as a failure
        verdict = "failed" if failed else "passed"
        return f"gate {verdict}: {failed} of {n} {checks} failed{warn_text}"
    return f"gate passed: {n} of {n} {checks} passed"


def several_files(rows: Sequence[DiffRow]) -> bool:
    return len({row.path for row in rows}) > 1


def policy_change_table(report: Report, esc: Escape) -> Table | None:
    change = report.gate.policy_change
    if change is None:
        return None
    rows = tuple((esc(setting), esc(old), esc(new)) for setting, old, new in change.changes)
    return Table(("Setting", "main", "this PR"), "lll", rows)


def policy_change_text(report: Report) -> str:
    change = report.gate.policy_change
    if change is None:
        return ""
    if change.applied == "main":
        return (
            "This PR changes cml-py settings that judge it; main's settings applied (a PR "
            "cannot loosen its own gate or choose where cml-py writes). The new settings "
            "apply once merged, or with --trust-pr-config."
        )
    return "This PR changes cml-py settings that judge it, and they applied (--trust-pr-config)."


def legs_table(report: Report, esc: Escape, marks: Marks) -> Table | None:
    """One row per matrix leg: its verdict, checks and how its metrics moved."""
    if not report.legs:
        return None
    rows = tuple(
        (
            esc(leg.name),
            marks.status[leg.verdict],
            f"{leg.checks - leg.failed - leg.warned} passed, {leg.failed} failed, "
            f"{leg.warned} warned",
            str(leg.better),
            str(leg.worse),
        )
        for leg in report.legs
    )
    return Table(("Leg", "Gate", "Checks", "Better", "Worse"), "lllrr", rows)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    if high == low:
        return SPARKS[3] * len(values)
    return "".join(SPARKS[round((v - low) / (high - low) * (len(SPARKS) - 1))] for v in values)


def trend_table(report: Report, esc: Escape) -> Table | None:
    """Each gated metric on main's last records, and where this PR would put it."""
    if not report.comparison.trends:
        return None
    rows = []
    by_key = {(r.path, r.name): r for r in report.comparison.metrics}
    for trend in report.comparison.trends:
        values = [v for _, v in trend.points if is_finite_number(v)]
        if len(values) < 2:
            continue
        row = by_key.get((trend.path, trend.name))
        head = fmt_number(row.head) if row is not None and is_finite_number(row.head) else MISSING
        rows.append(
            (esc(trend.name), sparkline(values), " → ".join(fmt_number(v) for v in values), head)
        )
    if not rows:
        return None
    return Table(
        ("Metric", "Trend on main", "Values, oldest first", "this PR"), "lllr", tuple(rows)
    )


# -- significance: what each `significant: true` rule decided from --------------------
