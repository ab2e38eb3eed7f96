"""One number format per column of a comment's table (pure).

Each value is formatted on its own with enough significant digits to be honest (see
format.py), which leaves a column reading `0.9357`, `0.972`, `1.5`. A reviewer compares
down a column, so the column gets one look: decimals padded with zeros to the column's
significant digits (`0.9720`, `1.500`), and the percentages of a change column share
their decimals. Both only ever show what the number is: zeros are added only where the
number was formatted with those digits, and a percentage is only rounded to the
column's decimals when that keeps two significant digits of it.

Only the comment's tables are normalised: they hold at most a thousand rows, while the
terminal and JSON outputs stream any number of rows and keep per-value formats.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cml_py.report.view import Table

MAX_SIG = 6  # beyond this, padding would make every cell long for one precise value
_DECIMAL = re.compile(r"^(-?)(\d+)\.(\d+)$")
_PERCENT = re.compile(r"\(([+-])(\d+(?:\.\d+)?)%\)")


def significant_digits(text: str) -> int | None:
    """Significant digits of a plain decimal (`0.0120` → 3), None for anything else."""
    match = _DECIMAL.match(text)
    if not match:
        return None
    whole, fraction = match.group(2), match.group(3)
    digits = (whole + fraction).lstrip("0") if whole == "0" else whole + fraction
    return len(digits) or 1


FORMATTED_SIG = 4
"""Every number in these columns was formatted with at least this many significant
digits (format.fmt_float), so padding a shorter one up to it only writes zeros it had.
Beyond, a `0.9` may stand for 0.89996: only a number shown with more digits had them."""


def pad_numbers(cells: Sequence[str]) -> list[str]:
    """Decimals padded with trailing zeros towards the column's most significant digits,
    each no further than it was formatted (see FORMATTED_SIG)."""
    counts = [significant_digits(cell) for cell in cells]
    known = [c for c in counts if c is not None]
    if not known:
        return list(cells)
    target = min(max(known), MAX_SIG)
    out = []
    for cell, count in zip(cells, counts, strict=True):
        if count is not None:
            cell += "0" * (min(target, max(count, FORMATTED_SIG)) - count)
        out.append(cell)
    return out


def same_percent_decimals(cells: Sequence[str]) -> list[str]:
    """The `(+1.88%)` parts of a change column, all with the same decimals — one when
    the typical (median) change is a percent or more, two below, three below 0.1 % —
    unless rounding would leave a change fewer than two significant digits (0.05 % is
    not shown as 0.1 %): such a change keeps its own."""
    found = [float(m.group(2)) for cell in cells for m in _PERCENT.finditer(cell)]
    if len([f for f in found if f > 0]) < 2:
        return list(cells)
    decimals = percent_decimals(found)

    def rewrite(match: re.Match[str]) -> str:
        own = match.group(2)
        text = f"{float(own):.{decimals}f}"
        if (significant_digits(text) or 0) < 2 and text.rstrip("0") != own.rstrip("0"):
            return match.group(0)
        return f"({match.group(1)}{text}%)"

    return [_PERCENT.sub(rewrite, cell) for cell in cells]


def percent_decimals(percents: Sequence[float]) -> int:
    """Decimals for a set of percentages shown together (the table, the chart)."""
    sizes = sorted(abs(p) for p in percents if p)
    if not sizes:
        return 1
    typical = sizes[len(sizes) // 2]
    return 1 if typical >= 1 else 2 if typical >= 0.1 else 3


def uniform(
    table: Table | None, numbers: Sequence[str], changes: Sequence[str] = ()
) -> Table | None:
    """`table` with the named columns normalised."""
    if not table:
        return table
    columns = list(zip(*table.rows, strict=True)) if table.rows else []
    value_columns = [i for i, h in enumerate(table.headers) if h in numbers and columns]
    if value_columns:  # main and this PR side by side: one format for both
        padded = pad_numbers([cell for i in value_columns for cell in columns[i]])
        size = len(columns[value_columns[0]])
        for n, i in enumerate(value_columns):
            columns[i] = tuple(padded[n * size : (n + 1) * size])
    for index, header in enumerate(table.headers):
        if header in changes and columns:
            columns[index] = tuple(same_percent_decimals(columns[index]))
    rows = tuple(zip(*columns, strict=True)) if columns else table.rows
    return replace(table, rows=rows)
