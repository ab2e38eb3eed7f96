"""A data file → a pandas DataFrame, within limits, or one line saying why not.

Data files come from the pull request (its side) or from main's commit; both are
untrusted input. Every failure is a CmlError that names the file and what was expected
— a ragged CSV, text that is not UTF-8, an empty file, a Parquet column of a type cml-py
does not compare — never a traceback. Sizes are checked before reading, columns before
parsing the rows.

A file is also measured by what it becomes, not only by its size on disk: a few hundred
kilobytes of gzipped CSV, or of run-length-encoded Parquet, can hold gigabytes. Both are
held to the same per-file limit (`max_mb`) as they are decompressed or decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cml_py import limits as lim
from cml_py.compression import decompressed
from cml_py.errors import CmlError, first_line

MB = 1024 * 1024

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


_RAISE = "max_mb in cml.yaml's data: raises it"


def check_size(size: int | None, display: str, max_mb: float) -> None:
    """Refuse a file over `max_mb`; None is a size known only to be over it."""
    if size is None or size > max_mb * MB:
        shown = f"{size / MB:,.0f} MB is over" if size is not None else "more than"
        raise CmlError(f"{display}: {shown} the data limit of {max_mb:,.0f} MB per file ({_RAISE})")


def read_frame(path: Path, display: str, fmt: str, *, max_columns: int, max_mb: float) -> Any:
    """Read one file. `display` names it in messages (e.g. `main:data/train.csv`)."""
    budget = int(max_mb * MB)
    if fmt == "parquet":
        return _read_parquet(path, display, max_columns, budget)
    return _read_text(path, display, "\t" if fmt == "tsv" else ",", max_columns, budget)


def _read_text(path: Path, display: str, sep: str, max_columns: int, budget: int) -> Any:
    import io

    import pandas as pd

    kind = "TSV" if sep == "\t" else "CSV"
    plain = decompressed(str(path), display, None, budget=budget, what="data", raise_hint=_RAISE)

    def source() -> Any:
        """The file, or its decompressed bytes afresh for each read. (compression=None
        below: pandas would otherwise decompress by file name, without a bound.)"""
        return path if plain is None else io.BytesIO(plain)

    try:
        # The header as written (header=None): pandas renames a repeated name to `a.1`,
        # which would compare as a column of its own.
        header = pd.read_csv(
            source(), sep=sep, nrows=1, header=None, dtype=str, encoding="utf-8", compression=None
        )
        written = ["" if isinstance(v, float) else str(v) for v in header.iloc[0].tolist()]
    except pd.errors.EmptyDataError:
        raise CmlError(f"{display}: the file is empty; expected a {kind} header row") from None
    except UnicodeDecodeError:
        raise CmlError(f"{display}: not UTF-8 text; expected a {kind} file") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise CmlError(f"{display}: cannot read as {kind}: {first_line(exc)}") from None
    _check_columns(written, display, max_columns)
    try:
        frame = pd.read_csv(source(), sep=sep, encoding="utf-8", low_memory=False, compression=None)
    except UnicodeDecodeError:
        raise CmlError(f"{display}: not UTF-8 text; expected a {kind} file") from None
    except pd.errors.ParserError as exc:
        raise CmlError(f"{display}: malformed {kind}: {first_line(exc)}") from None
    except (ValueError, OSError) as exc:
        raise CmlError(f"{display}: cannot read as {kind}: {first_line(exc)}") from None
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


def _index_columns(schema: Any) -> list[str]:
    """The columns in which pandas wrote its index, if it did: the whole table is then
    read at once, so that it is restored (the built-in trainer's row ids are the index)."""
    metadata = schema.pandas_metadata or {}
    return [i for i in metadata.get("index_columns", []) if isinstance(i, str)]


_OBJECT_BYTES = 64
"""A date pandas holds as a Python object: the object and its pointer in the frame."""


def _value_bytes(arrow_type: Any) -> int:
    """Bytes per row of a column once it is a pandas column, besides a string's
    characters: a number, a pointer, or a date object."""
    import pyarrow.types as t

    return _OBJECT_BYTES if t.is_date(arrow_type) else 8


def _text_columns(schema: Any, index: list[str]) -> list[str]:
    """String columns, to be read as dictionaries: Parquet's dictionary encoding can put
    one long string on a million rows in a few bytes, and this way the size it will take
    once on every row is known before it is."""
    import pyarrow.types as t

    return [
        f.name
        for f in schema
        if (t.is_string(f.type) or t.is_large_string(f.type)) and f.name not in index
    ]


class _Meter:
    """The memory a Parquet file will take as a DataFrame, held to the per-file limit.

    Parquet's encodings make a small file decode to a huge one (a million zeros are a
    few bytes of run-length encoding). So the file's own metadata — rows, and each
    column chunk's size after decompression — is checked before anything is read, and
    each column is charged again as read, before its strings are decoded onto every row,
    in case the metadata understates it."""

    def __init__(self, display: str, budget: int) -> None:
        self.display, self.budget, self.used = display, budget, 0

    def check_metadata(self, parquet: Any, schema: Any) -> None:
        meta = parquet.metadata
        per_row = sum(_value_bytes(f.type) for f in schema)
        encoded = sum(
            group.column(c).total_uncompressed_size
            for group in map(meta.row_group, range(meta.num_row_groups))
            for c in range(group.num_columns)
        )
        self._check(meta.num_rows * per_row + encoded, f"{meta.num_rows:,} rows")

    def charge(self, column: Any, field: Any) -> None:
        """`column` as read; `field` as the file's schema has it (a string column read
        as a dictionary is decoded onto every row; a categorical one stays one)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        cost = len(column) * _value_bytes(column.type)
        if pa.types.is_dictionary(field.type):  # stays categorical: codes and categories
            cost += column.get_total_buffer_size()
        elif pa.types.is_dictionary(column.type):  # each row's string, once decoded
            for chunk in column.chunks:
                lengths = pc.take(pc.binary_length(chunk.dictionary), chunk.indices)
                cost += pc.sum(lengths).as_py() or 0
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            cost += column.get_total_buffer_size()
        self.used += cost
        self._check(self.used, "as decoded")

    def _check(self, need: int, how: str) -> None:
        if need > self.budget:
            raise CmlError(
                f"{self.display}: decodes to about {need / MB:,.0f} MB in memory ({how}), over "
                f"the data limit of {self.budget / MB:,.0f} MB per file ({_RAISE})"
            )


def _decoded(column: Any, field: Any) -> Any:
    """A column as the file's schema has it (strings read as a dictionary decoded
    again), with decimals as floats."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type) and not pa.types.is_dictionary(field.type):
        column = column.cast(field.type)
    if pa.types.is_decimal(column.type):
        column = column.cast(pa.float64(), safe=False)
    return column


def _read_parquet(path: Path, display: str, max_columns: int, budget: int) -> Any:
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
        raise CmlError(f"{display}: not a readable Parquet file: {first_line(exc)}") from None
    _check_columns(schema.names, display, max_columns)
    for field in schema:
        if not _supported(field.type):
            raise CmlError(
                f"{display}: column {field.name!r} has type {field.type}; cml-py compares "
                "numbers, booleans, strings, dates and timestamps"
            )
    import pandas as pd

    meter = _Meter(display, budget)
    index = _index_columns(schema)
    try:
        parquet = pq.ParquetFile(
            path, memory_map=False, read_dictionary=_text_columns(schema, index)
        )
        meter.check_metadata(parquet, schema)
        if index:
            table = parquet.read()
            for column, field in zip(table.columns, schema, strict=True):
                meter.charge(column, field)
            for i, field in enumerate(schema):
                table = table.set_column(i, field.name, _decoded(table.column(i), field))
            frame = table.to_pandas(split_blocks=True, self_destruct=True)
        else:
            # One column at a time: the peak is the frame and one column's buffers, not
            # the frame and the whole decoded table.
            columns = {}
            for field in schema:
                column = parquet.read(columns=[field.name]).column(0)
                meter.charge(column, field)
                columns[field.name] = _decoded(column, field).to_pandas()
                del column
            frame = pd.DataFrame(columns, copy=False)
        pa.default_memory_pool().release_unused()  # the next file is read into it
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CmlError(f"{display}: cannot read Parquet: {first_line(exc)}") from None
    return frame
