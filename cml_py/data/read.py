"""A data file → a pandas DataFrame, within limits, or one line saying why not.

Data files come from the pull request (its side) or from main's commit; both are
untrusted input. Every failure is a CmlError that names the file and what was expected
— a ragged CSV, text that is not UTF-8, an empty file, a Parquet column of a type cml-py
does not compare — never a traceback. Sizes are checked before reading, columns before
parsing the rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cml_py import limits as lim
from cml_py.errors import CmlError

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt")
TSV_SUFFIXES = (".tsv", ".tab")


def file_format(path: str, configured: str | None) -> str:
    """csv, tsv or parquet: the configured format, else the file's extension."""
    if configured:
        return configured
    lowered = path.lower()
    for suffixes, name in (
        (PARQUET_SUFFIXES, "parquet"),
        (TSV_SUFFIXES, "tsv"),
        (CSV_SUFFIXES, "csv"),
    ):
        if lowered.endswith(suffixes):
            return name
    raise CmlError(
        f"{path}: expected a .csv, .tsv or .parquet file (or set format: csv|tsv|parquet)"
    )


def check_size(size: int, display: str, max_mb: float) -> None:
    if size > max_mb * 1024 * 1024:
        raise CmlError(
            f"{display}: {size / 1024 / 1024:,.0f} MB is over the data limit of {max_mb:,.0f} "
            "MB per file (max_mb in cml.yaml's data: raises it)"
        )


def read_frame(path: Path, display: str, fmt: str, *, max_columns: int) -> Any:
    """Read one file. `display` names it in messages (e.g. `main:data/train.csv`)."""
    if fmt == "parquet":
        return _read_parquet(path, display, max_columns)
    return _read_text(path, display, "\t" if fmt == "tsv" else ",", max_columns)


def _first_line(message: object) -> str:
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def _read_text(path: Path, display: str, sep: str, max_columns: int) -> Any:
    import pandas as pd

    kind = "TSV" if sep == "\t" else "CSV"
    try:
        # The header as written (header=None): pandas renames a repeated name to `a.1`,
        # which would compare as a column of its own.
        header = pd.read_csv(path, sep=sep, nrows=1, header=None, dtype=str, encoding="utf-8")
        written = ["" if isinstance(v, float) else str(v) for v in header.iloc[0].tolist()]
    except pd.errors.EmptyDataError:
        raise CmlError(f"{display}: the file is empty; expected a {kind} header row") from None
    except UnicodeDecodeError:
        raise CmlError(f"{display}: not UTF-8 text; expected a {kind} file") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise CmlError(f"{display}: cannot read as {kind}: {_first_line(exc)}") from None
    _check_columns(written, display, max_columns)
    try:
        frame = pd.read_csv(path, sep=sep, encoding="utf-8", low_memory=False)
    except UnicodeDecodeError:
        raise CmlError(f"{display}: not UTF-8 text; expected a {kind} file") from None
    except pd.errors.ParserError as exc:
        raise CmlError(f"{display}: malformed {kind}: {_first_line(exc)}") from None
    except (ValueError, OSError) as exc:
        raise CmlError(f"{display}: cannot read as {kind}: {_first_line(exc)}") from None
    return frame


def _check_columns(columns: Any, display: str, max_columns: int) -> None:
    """The header as written: not too wide, no name twice (columns without a name are
    left to the reader, which calls them `Unnamed: N`)."""
    names = [str(c) for c in columns]
    if len(names) > max_columns:
        raise CmlError(
            f"{display}: {len(names):,} columns is over the limit of {max_columns:,} "
            "(max_columns in cml.yaml's data: raises it; columns: picks some)"
        )
    lim.unique_columns([name for name in names if name], display)


def _supported(arrow_type: Any) -> bool:
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        return _supported(arrow_type.value_type)
    return any(
        check(arrow_type)
        for check in (
            t.is_integer,
            t.is_floating,
            t.is_boolean,
            t.is_string,
            t.is_large_string,
            t.is_timestamp,
            t.is_date,
            t.is_decimal,
            t.is_null,
        )
    )


def _stored_index(schema: Any) -> bool:
    """pandas wrote its index as a column: read the whole table, so it is restored
    (the built-in trainer's row ids are the index)."""
    metadata = schema.pandas_metadata or {}
    return any(isinstance(i, str) for i in metadata.get("index_columns", []))


def _whole_table(pq: Any, pa: Any, path: Path) -> Any:
    table = pq.read_table(path, memory_map=False)
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.float64(), safe=False))
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _read_parquet(path: Path, display: str, max_columns: int) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise CmlError(
            f"{display}: reading Parquet needs pyarrow: pip install 'cml-py[parquet]'"
        ) from None
    import pyarrow as pa

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CmlError(f"{display}: not a readable Parquet file: {_first_line(exc)}") from None
    _check_columns(schema.names, display, max_columns)
    for field in schema:
        if not _supported(field.type):
            raise CmlError(
                f"{display}: column {field.name!r} has type {field.type}; cml-py compares "
                "numbers, booleans, strings, dates and timestamps"
            )
    try:
        if _stored_index(schema):
            return _whole_table(pq, pa, path)
        # One column at a time: the peak is the frame and one column's buffers, not the
        # frame and the whole decoded table.
        parquet = pq.ParquetFile(path, memory_map=False)
        columns = {}
        for name in schema.names:
            column = parquet.read(columns=[name]).column(0)
            if pa.types.is_decimal(column.type):
                column = column.cast(pa.float64(), safe=False)
            columns[name] = column.to_pandas()
            del column
        import pandas as pd

        frame = pd.DataFrame(columns, copy=False)
        pa.default_memory_pool().release_unused()  # the next file is read into it
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CmlError(f"{display}: cannot read Parquet: {_first_line(exc)}") from None
    return frame
