"""Compressed input files, decompressed within a budget.

pandas and pyarrow decompress a file on their own when its name ends in `.gz`, `.zip`,
`.zst` …, with no bound on what comes out: a few kilobytes of gzip can hold gigabytes
of CSV. Files a pull request controls (predictions, datasets) are therefore
decompressed here instead, and measured by what they decompress to; the readers only
ever get plain text, and are told to decompress nothing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from cml_py.errors import CmlError, first_line
from cml_py.limits import size_text

_DECOMPRESS = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}
"""The compression the standard library reads."""

_REFUSED = frozenset({".zst", ".zstd", ".lz4", ".br", ".zip", ".tar", ".tgz", ".7z", ".z"})
"""Compression some reader would apply by file name, but which is not read here."""

PLAIN_OR_COMPRESSED = "a plain file, or one compressed as .gz, .bz2 or .xz"


def decompressed(
    path: str, name: str, source: bytes | None, *, budget: int, what: str, raise_hint: str
) -> bytes | None:
    """The content of a `.gz`, `.bz2` or `.xz` file (read from disk at `path`, or
    `source` read from git), or None for a file whose name says it is not compressed.

    `name` names the file in messages, `what` its kind (`predictions`, `data`) and
    `raise_hint` how to raise `budget`. Reading stops one byte past the budget, so a
    bomb costs at most that much memory before it is refused."""
    suffix = Path(path).suffix.lower()
    if suffix in _REFUSED:
        raise CmlError(
            f"{name}: {what} compressed as {suffix} are not read; use {PLAIN_OR_COMPRESSED}"
        )
    module_name = _DECOMPRESS.get(suffix)
    if module_name is None:
        return None
    import importlib
    import lzma

    module = importlib.import_module(module_name)
    raw: Any = io.BytesIO(source) if source is not None else path
    try:
        with module.open(raw, "rb") as stream:
            data: bytes = stream.read(budget + 1)
    except FileNotFoundError:
        raise CmlError(f"{name}: {what} file does not exist") from None
    except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        raise CmlError(f"{name}: cannot decompress: {first_line(exc)}") from None
    if len(data) > budget:
        raise CmlError(f"{name}: decompresses to more than {size_text(budget)} ({raise_hint})")
    return data
