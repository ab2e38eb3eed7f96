"""Fit a report into a forge's size limit without failing (pure).

In order: drop the collapsed full-metrics section, then cut table rows (largest tables
first) leaving "N more rows" and a link to the full report, and only as a last resort
cut the text itself. The hidden marker on the first line always survives.
"""

from __future__ import annotations

import re
from collections.abc import Callable

GITHUB_COMMENT_LIMIT = 65_536
GITLAB_NOTE_LIMIT = 1_000_000
STEP_SUMMARY_BYTES = 1_048_576
CHECK_SUMMARY_LIMIT = 65_535

_FULL_METRICS = re.compile(
    r"\n?<details><summary>All metrics \(\d+\)</summary>\n.*?\n</details>\n", re.DOTALL
)


def _more_line(hidden: int, link: str | None) -> str:
    where = f": [the full report]({link})" if link else " in the full report"
    return f"\n_… {hidden:,} more row{'s' if hidden != 1 else ''}{where}._\n"


def _tables(lines: list[str]) -> list[tuple[int, int]]:
    """(first data row, end) of each markdown table: header and separator are kept."""
    spans, i = [], 0
    while i < len(lines):
        if (
            lines[i].startswith("|")
            and i + 1 < len(lines)
            and re.match(r"^\|(?:\s*:?-+:?\s*\|)+\s*$", lines[i + 1])
        ):
            start = i + 2
            end = start
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            spans.append((start, end))
            i = end
        else:
            i += 1
    return spans


def _cut_tables(text: str, keep: int, link: str | None) -> str:
    lines = text.split("\n")
    out: list[str] = []
    pos = 0
    for start, end in _tables(lines):
        out += lines[pos:start]
        rows = lines[start:end]
        out += rows[:keep]
        if len(rows) > keep:
            out.append(_more_line(len(rows) - keep, link))  # blank lines around it
        pos = end
    out += lines[pos:]
    return "\n".join(out)


def fit(
    text: str, limit: int, *, link: str | None = None, measure: Callable[[str], int] = len
) -> str:
    if measure(text) <= limit:
        return text
    text = _FULL_METRICS.sub("\n", text, count=1)
    if measure(text) <= limit:
        return text
    longest = max((end - start for start, end in _tables(text.split("\n"))), default=0)
    low, high, best = 0, longest, None
    while low <= high:  # the most rows per table that still fit
        middle = (low + high) // 2
        candidate = _cut_tables(text, middle, link)
        if measure(candidate) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    if best is not None:
        return best
    text = _cut_tables(text, 0, link)
    read_all = f"; [read it all]({link})" if link else ""
    notice = f"\n\n_… the report was cut to fit{read_all}._\n"
    low, high = 0, len(text)  # the longest prefix that fits with the notice
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle] + notice) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low] + notice
