"""The report's Data section, built from the data metric rows alone (pure).

Only rows are used — no side channel — so a report rebuilt from report.json (the
`cml-py publish` path) shows the same section as the job that computed it. Numbers are
formatted by the same functions as every other table, so a value in the Data table reads
exactly as the same metric does in the gate table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cml_py.data.run import PATH_PREFIX, is_data_row
from cml_py.model import DiffRow, Verdict, is_number
from cml_py.report.format import MISSING, fmt_delta, fmt_number, fmt_pair
from cml_py.report.view import Table

Escape = Callable[[str], str]
MAX_COLUMN_ROWS = 20
COLUMN_MEASURES = (
    "type",
    "missing",
    "psi",
    "wasserstein",
    "js",
    "out_of_range",
    "new_categories",
    "vanished_categories",
    "p_value",
)
NUMBER_COLUMNS = (
    "PSI",
    "Wasserstein",
    "JS",
    "Out of range",
    "p (information)",
)  # one format per column, as in every table of the comment
DATASET_ORDER = (
    "rows",
    "columns",
    "schema_changes",
    "columns_added",
    "columns_removed",
    "columns_retyped",
    "drifted_columns",
    "drift_share",
    "duplicates",
    "constant_columns",
    "leaked",
)


def split_rows(rows: Sequence[DiffRow]) -> tuple[list[DiffRow], list[DiffRow]]:
    """(the other metrics, the data stage's rows)."""
    other: list[DiffRow] = []
    data: list[DiffRow] = []
    for row in rows:
        (data if is_data_row(row.path, row.name) else other).append(row)
    return other, data


@dataclass(frozen=True)
class DataView:
    unchanged: str = ""  # the one line when nothing in the data changed
    datasets: Table | None = None
    columns: Table | None = None
    more_columns: int = 0


def _parse(row: DiffRow) -> tuple[str, str | None, str]:
    """(dataset, column or None, measure) of a data row."""
    dataset = row.path.removeprefix(PATH_PREFIX)
    rest = row.name.removeprefix(f"data.{dataset}.")
    column, _, measure = rest.rpartition(".")
    return dataset, (column if column else None), measure


def _value(row: DiffRow | None, side: str) -> str:
    if row is None:
        return ""
    has = row.has_head if side == "head" else row.has_base
    if not has:
        return MISSING
    base, head = fmt_pair(row.base, row.head)
    return head if side == "head" else base


def _change(row: DiffRow) -> str:
    if row.delta is None or row.delta == 0:
        return ""
    return fmt_delta(row.delta)


def build(rows: Sequence[DiffRow], esc: Escape) -> DataView | None:
    """The Data section's tables; None when there are no data rows."""
    if not rows:
        return None
    datasets: dict[str, dict[str, DiffRow]] = {}
    columns: dict[tuple[str, str], dict[str, DiffRow]] = {}
    for row in rows:
        dataset, column, measure = _parse(row)
        if column is None:
            datasets.setdefault(dataset, {})[measure] = row
        else:
            columns.setdefault((dataset, column), {})[measure] = row
    changed = [r for r in rows if r.verdict is not Verdict.UNCHANGED]
    if not changed:
        return DataView(unchanged=_unchanged_line(datasets))
    several = len(datasets) > 1 or any(d not in datasets for d, _ in columns)
    dataset_rows = []
    for dataset, measures in datasets.items():
        for measure in sorted(
            measures,
            key=lambda m: DATASET_ORDER.index(m) if m in DATASET_ORDER else len(DATASET_ORDER),
        ):
            row = measures[measure]
            if row.verdict is Verdict.UNCHANGED:
                continue
            dataset_rows.append(
                (esc(dataset), measure, _value(row, "base"), _value(row, "head"), _change(row))
            )
    column_rows = []
    for (dataset, column), measures in columns.items():
        if all(r.verdict is Verdict.UNCHANGED for r in measures.values()):
            continue
        column_rows.append((_severity(measures), dataset, column, measures))
    column_rows.sort(key=lambda item: (-item[0], item[1], item[2]))
    shown = column_rows[:MAX_COLUMN_ROWS]
    table_rows = []
    for _, dataset, column, measures in shown:
        cells = [
            esc(column),
            _type_cell(measures.get("type"), esc),
            _pair_cell(measures.get("missing")),
            *(_value(measures.get(m), "head") for m in ("psi", "wasserstein", "js")),
            _value(measures.get("out_of_range"), "head"),
            _categories_cell(measures),
            _value(measures.get("p_value"), "head"),
        ]
        if several:
            cells.insert(0, esc(dataset))
        table_rows.append(tuple(cells))
    headers = [
        "Column",
        "Type",
        "Missing (main → PR)",
        "PSI",
        "Wasserstein",
        "JS",
        "Out of range",
        "Categories (new / gone)",
        "p (information)",
    ]
    aligns = "llrrrrrrr"
    if several:
        headers.insert(0, "Dataset")
        aligns = "l" + aligns
    return DataView(
        datasets=Table(
            ("Dataset", "Measure", "main", "this PR", "Change"), "llrrr", tuple(dataset_rows)
        )
        if dataset_rows
        else None,
        columns=Table(tuple(headers), aligns, tuple(table_rows)) if table_rows else None,
        more_columns=len(column_rows) - len(shown),
    )


def _severity(measures: dict[str, DiffRow]) -> float:
    """Worst first: a schema change, then the PSI, then the change in missing values."""
    type_row = measures.get("type")
    if type_row is not None and type_row.verdict is not Verdict.UNCHANGED:
        return float("inf")
    psi = measures.get("psi")
    if psi is not None and psi.has_head and is_number(psi.head):
        return float(psi.head)
    missing = measures.get("missing")
    if missing is not None and missing.delta is not None:
        return abs(missing.delta) / 1000
    return 0.0


def _type_cell(row: DiffRow | None, esc: Escape) -> str:
    if row is None:
        return ""
    if not row.has_base:
        return f"added ({esc(str(row.head))})"
    if not row.has_head:
        return f"removed ({esc(str(row.base))})"
    if row.base != row.head:
        return f"{esc(str(row.base))} → {esc(str(row.head))}"
    return esc(str(row.head))


def _pair_cell(row: DiffRow | None) -> str:
    if row is None:
        return ""
    base, head = _value(row, "base"), _value(row, "head")
    return head if base == head else f"{base} → {head}"


def _categories_cell(measures: dict[str, DiffRow]) -> str:
    new, gone = measures.get("new_categories"), measures.get("vanished_categories")
    if new is None and gone is None:
        return ""
    return f"+{_value(new, 'head') or 0} / −{_value(gone, 'head') or 0}"


def _unchanged_line(datasets: dict[str, dict[str, DiffRow]]) -> str:
    parts = []
    for dataset, measures in datasets.items():
        rows, columns = measures.get("rows"), measures.get("columns")
        text = dataset
        if rows is not None and rows.has_head:
            text += f" {fmt_number(rows.head)} rows"  # type: ignore[arg-type]
            if columns is not None and columns.has_head:
                text += f" × {fmt_number(columns.head)} columns"  # type: ignore[arg-type]
        parts.append(text)
    return "Data unchanged: " + "; ".join(parts) + "."
