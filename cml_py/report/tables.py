"""Tables as GitHub-flavoured markdown or as aligned plain text (pure).

Written here rather than with tabulate: tabulate costs 43 ms to import and 0.7 s for
50,000 rows, which alone would miss the speed targets of `cml-py diff`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice, starmap
from operator import itemgetter, methodcaller

from cml_py.bulk import paused_gc
from cml_py.report.view import Table

_MD_ALIGN = {"l": ":--", "r": "--:", "c": ":-:"}


def omitted_note(table: Table) -> str:
    if not table.omitted:
        return ""
    n = table.omitted
    detail = f" ({table.omitted_detail})" if table.omitted_detail else ""
    return (
        f"… and {n:,} more row{'s' if n != 1 else ''}{detail} not shown here; every row is "
        "in report.json (`cml-py run`) and in `cml-py report --format json --all`."
    )


def md_table(table: Table) -> str:
    lines = [
        "| " + " | ".join(table.headers) + " |",
        "|" + "|".join(_MD_ALIGN[a] for a in table.aligns) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in table.rows)
    if table.omitted:
        lines.append(f"\n_{omitted_note(table)}_")
    return "\n".join(lines)


def text_table(table: Table, indent: str = "  ") -> str:
    lines = text_table_lines(
        table.headers, table.aligns, table.rows, indent=indent, note=omitted_note(table)
    )
    return "\n".join(lines)


_SEP = "\x1f"  # the renderer's escaper removes control characters from every cell


_COMPACT_ABOVE = 200_000
"""Rows above which a text table packs each row until the column widths are known."""
_CHUNK = 10_000


def _widths(widths: list[int], rows: list[Sequence[str]], columns: range) -> list[int]:
    return [max(widths[i], max(map(len, map(itemgetter(i), rows)), default=0)) for i in columns]


def text_table_lines(
    headers: Sequence[str],
    aligns: str,
    rows: Iterable[Sequence[str]],
    *,
    indent: str = "  ",
    note: str = "",
) -> list[str]:
    """Aligned columns, line by line, from rows given once (a generator is fine).

    Column widths are only known after the last row. Up to 200,000 rows the cells are
    kept and the lines made in C (`starmap` of one `str.format`); above, each row is
    packed into one string until the widths are known and replaced by its line in
    place, because a tuple of cell strings per row would take `cml-py diff` on half a
    million metrics past its memory budget.
    """
    with paused_gc():
        kept: list[Sequence[str]] = []
        packed: list[str] = []
        widths = [len(h) for h in headers]
        columns = range(len(headers))
        source = iter(rows)
        while chunk := list(islice(source, _CHUNK)):  # C-level, like everything per row
            kept += chunk
            if packed or len(kept) > _COMPACT_ABOVE:
                widths = _widths(widths, kept, columns)
                packed += map(_SEP.join, kept)
                kept = []
        widths = _widths(widths, kept, columns)
        keep = [i for i in columns if widths[i] > 0]
        spec = indent + "  ".join(
            f"{{{i}:{'>' if aligns[i] == 'r' else '<'}{widths[i]}}}" for i in keep
        )
        line = spec.format
        if packed:
            packed += map(_SEP.join, kept)
            del kept
            split = methodcaller("split", _SEP)
            for start in range(0, len(packed), _CHUNK):  # replaced in place, a chunk at a time
                block = packed[start : start + _CHUNK]
                packed[start : start + _CHUNK] = map(str.rstrip, starmap(line, map(split, block)))
            lines = packed
        else:
            lines = list(map(str.rstrip, starmap(line, kept)))
    lines[:0] = [line(*headers).rstrip(), indent + "  ".join("-" * widths[i] for i in keep)]
    if note:
        lines.append(indent + note)
    return lines
