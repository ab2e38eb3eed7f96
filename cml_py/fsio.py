"""Atomic file output: a reader (or a crashed job) never sees half a report."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cml_py.errors import CmlError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_atomic(path: Path, data: str | bytes | Iterable[str]) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename over `path`.

    `data` may be an iterable of text pieces, written as they come (a large report.json
    is never held whole in memory)."""
    pieces: Iterable[bytes]
    if isinstance(data, str):
        pieces = (data.encode("utf-8"),)
    elif isinstance(data, bytes):
        pieces = (data,)
    else:
        pieces = (piece.encode("utf-8") for piece in data)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise CmlError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            for payload in pieces:
                handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CmlError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise
