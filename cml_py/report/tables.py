"""Tables as GitHub-flavoured markdown or as aligned plain text (pure).

Written here rather than with tabulate: tabulate costs 43 ms to import and 0.7 s for
50,000 rows, which alone would miss the speed targets of `cml-py diff`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import starmap
from operator import itemgetter

from cml_py.bulk import paused_gc
from cml_py.report.view import Table

_MD_ALIGN = {"l": ":--", "r": "--:", "c": ":-:"}


def omitted_note(table: Table) -> str:
    if not table.omitted:
        return ""
    n = table.omitted
    detail = f" ({table.omitted_detail})" if table.omitted_detail else ""
    return (
        f"… and {n:,} more row{'s' if n != 1 else ''}{detail} not shown here; "
        "report.json has every row."
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
        for row in rows:
            if packed:
                widths = list(map(max, widths, map(len, row)))
                packed.append(_SEP.join(row))
                continue
            kept.append(row)
            if len(kept) > _COMPACT_ABOVE:
                for cells in kept:
                    widths = list(map(max, widths, map(len, cells)))
                    packed.append(_SEP.join(cells))
                kept = []
        if not packed:
            widths = [
                max(len(header), max(map(len, map(itemgetter(i), kept)), default=0))
                for i, header in enumerate(headers)
            ]
        keep = [i for i, w in enumerate(widths) if w > 0]
        spec = indent + "  ".join(
            f"{{{i}:{'>' if aligns[i] == 'r' else '<'}{widths[i]}}}" for i in keep
        )
        line = spec.format
        if packed:
            for i, text in enumerate(packed):
                packed[i] = line(*text.split(_SEP)).rstrip()
            lines = packed
        else:
            lines = list(map(str.rstrip, starmap(line, kept)))
    lines[:0] = [line(*headers).rstrip(), indent + "  ".join("-" * widths[i] for i in keep)]
    if note:
        lines.append(indent + note)
    return lines
