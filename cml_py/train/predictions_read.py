"""Reading a predictions CSV into plain columns, within a memory budget checked before the
file is read: pyarrow's reader where it is installed (no pandas import), pandas' C
reader otherwise."""

from __future__ import annotations

import io
from typing import Any, BinaryIO

import numpy as np

from cml_py import limits as lim
from cml_py.errors import CmlError, first_line

SAMPLE_BYTES = 65536
_SAMPLED_LINES = 256  # per sample, for the text check: bounded work on any file
_CHUNK = 1 << 20
NUMBER_CELL_BYTES = 24
TEXT_CELL_BYTES = 64
"""A numeric cell becomes an 8-byte number, copied a few times (scores per class, sorted
copies, the other side): about 24 bytes in all. A text cell (labels, ids) is a Python
string besides, with its pointer and an entry in the hash table that codes it: measured
at 1M rows, about 2.6 times a numeric cell."""
_NUMBER_BYTES = b"0123456789+-.eE, \t\r"


def check_memory(name: str, size: int, handle: BinaryIO, limits: lim.Limits) -> None:
    """Refuse a file whose evaluation would need more than the memory budget, from rows ×
    columns and which columns hold text, before the file is read.

    Columns are counted over the whole header line, however long; rows are the file's
    line ends, counted a chunk at a time (about 0.1 s a GiB). Estimating rows from a few
    samples of the file was cheaper, but a file can put wide rows exactly where the
    samples fall and millions of short ones between them: 10 million rows passed a
    64 MiB budget as 600 and took 1 GiB. Text columns are found in three samples (after
    the header, the middle, the end).
    """
    columns, header_end = _header(handle)
    if size <= header_end:
        return
    text: set[int] = set()
    for offset in sorted({header_end, size // 2, size - SAMPLE_BYTES}):
        start = max(offset, header_end)
        handle.seek(start)
        lines = handle.read(SAMPLE_BYTES).split(b"\n")[:-1]  # the last is cut (or empty)
        if start > header_end:
            lines = lines[1:]  # begun mid-line
        _text_columns(lines[:_SAMPLED_LINES], columns, text)
    rows = _rows(handle, header_end)
    need = rows * (columns * NUMBER_CELL_BYTES + len(text) * (TEXT_CELL_BYTES - NUMBER_CELL_BYTES))
    if need > limits.eval_bytes // 2:
        texts = f" ({len(text):,} of them text)" if text else ""
        raise CmlError(
            f"{name}: about {rows:,} rows × {columns:,} columns{texts} would need about "
            f"{lim.size_text(need)} to evaluate, more than half the memory budget "
            f"({lim.hint('eval_bytes', limits)})"
        )


def _rows(handle: BinaryIO, start: int) -> int:
    """Lines from `start` to the end, the last one counted without its line end too (a
    line break inside a quoted cell counts as a row: the estimate errs on the safe side)."""
    handle.seek(start)
    rows, last = 0, b"\n"
    while chunk := handle.read(_CHUNK):
        rows += chunk.count(b"\n")
        last = chunk[-1:]
    return rows + (last != b"\n")


def _header(handle: BinaryIO) -> tuple[int, int]:
    """(columns, where the first row begins): the header line's commas counted a chunk
    at a time, so a header of a million proba_ columns costs no more memory than one."""
    handle.seek(0)
    commas = length = 0
    while chunk := handle.read(_CHUNK):
        end = chunk.find(b"\n")
        if end >= 0:
            return commas + chunk.count(b",", 0, end) + 1, length + end + 1
        commas += chunk.count(b",")
        length += len(chunk)
    return commas + 1, length


def _text_columns(lines: list[bytes], columns: int, text: set[int]) -> None:
    """Add to `text` the columns with a cell that is not a number in these lines."""
    for line in lines:
        if len(text) == columns:
            return
        if not line.translate(None, _NUMBER_BYTES):
            continue  # digits, signs, points and exponents only: every cell a number
        for index, cell in enumerate(line.split(b",")[:columns]):
            if index in text or not cell.strip():
                continue
            try:
                float(cell)  # also inf, nan
            except ValueError:
                text.add(index)


def decompressed(path: str, name: str, source: bytes | None, limits: lim.Limits) -> bytes | None:
    """The CSV inside a `.gz`, `.bz2` or `.xz` predictions file, within the data limit
    (see cml_py.compression), or None for a file whose name says it is not compressed."""
    from cml_py.compression import decompressed as bounded

    budget, hint = limits.data_bytes, lim.hint("data_bytes", limits)
    return bounded(path, name, source, budget=budget, what="predictions", raise_hint=hint)


def _read_with_pyarrow(source: Any, name: str) -> dict[str, np.ndarray]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if isinstance(source, bytes):
        source = pa.BufferReader(source)
    try:
        table = pcsv.read_csv(
            source,
            read_options=pcsv.ReadOptions(block_size=1 << 22),
            convert_options=pcsv.ConvertOptions(strings_can_be_null=True),
        )
        names = [str(n) for n in table.column_names]  # decoded here: may not be UTF-8
    # OSError: the file cannot be read. (Compressed files never get here: `decompressed`
    # hands over their CSV, or refuses them by name.)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError) as exc:
        raise CmlError(f"{name}: cannot read predictions CSV: {first_line(exc)}") from None
    lim.unique_columns(names, name)
    columns = {}
    for column_name, column in zip(names, table.columns, strict=True):
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            # pyarrow's type for a text column that is not valid UTF-8
            raise CmlError(
                f"{name}: cannot read predictions CSV: column {column_name!r} is not UTF-8 text"
            )
        columns[column_name] = _arrow_column(column)
    return columns


def _arrow_column(column: Any) -> np.ndarray:
    """A pyarrow column as numpy, without pyarrow's own conversions, which import pandas
    (0.3 s): numbers are copied out of their buffers, missing numbers become NaN, text
    becomes an object array with None for empty cells."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_null(kind):
        return np.full(len(column), np.nan)
    if pa.types.is_integer(kind) and not column.null_count:
        signed = "u" if "uint" in str(kind) else "i"
        return _primitive(column, np.dtype(f"{signed}{kind.bit_width // 8}"))
    if pa.types.is_float64(kind):  # the common column: no cast, which would import
        return _primitive(column, np.dtype(np.float64))  # pyarrow.compute (80 ms)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return _primitive(column.cast(pa.float64()), np.dtype(np.float64))
    if pa.types.is_boolean(kind) and not column.null_count:
        return _primitive(column.cast(pa.uint8()), np.dtype(np.uint8)).astype(bool)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        column = column.cast(pa.string())  # dates, times and booleans with gaps as written
    values = np.empty(len(column), dtype=object)
    values[:] = column.to_pylist()
    return values


def _primitive(column: Any, dtype: np.dtype) -> np.ndarray:
    """The values of a fixed-width column, copied once into one array; null slots
    (floats only) become NaN."""
    out = np.empty(len(column), dtype=dtype)
    pos = 0
    for chunk in column.chunks:
        n = len(chunk)
        validity, data = chunk.buffers()[:2]
        part = out[pos : pos + n]
        part[:] = np.frombuffer(data, dtype=dtype, count=n, offset=chunk.offset * dtype.itemsize)
        if chunk.null_count:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            part[~bits[chunk.offset : chunk.offset + n].astype(bool)] = np.nan
        pos += n
    return out


def _read_with_pandas(source: Any, name: str) -> dict[str, np.ndarray]:

    import pandas as pd

    try:
        # compression=None: compressed files were decompressed (or refused) by
        # `decompressed` before, so no name makes pandas decompress on its own.
        frame = pd.read_csv(
            io.BytesIO(source) if isinstance(source, bytes) else source, compression=None
        )
    except FileNotFoundError:
        raise CmlError(f"{name}: predictions file does not exist") from None
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        ValueError,  # UnicodeDecodeError included
        OSError,
    ) as exc:
        raise CmlError(f"{name}: cannot read predictions CSV: {first_line(exc)}") from None
    return {str(c): frame[c].to_numpy() for c in frame.columns}
