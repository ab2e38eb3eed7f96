"""Atomic file output: a reader (or a crashed job) never sees half a report, and no
token reaches a file (every text piece passes through `redact`)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cml_py.errors import CmlError
from cml_py.redact import redact


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_atomic(path: Path, data: str | bytes | Iterable[str]) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename over `path`.

    `data` may be an iterable of text pieces, written as they come (a large report.json
    is never held whole in memory). Text is written as UTF-8, with any character that
    has no UTF-8 form (a lone surrogate a template produced) replaced.

    A character device or a pipe named on purpose (`-o /dev/null`, a FIFO) is written to
    in place: renaming over it would replace the device node itself, which as root
    breaks `/dev/null` for the rest of the job."""
    pieces: Iterable[bytes]
    if isinstance(data, str):
        pieces = (_encode(data),)
    elif isinstance(data, bytes):
        pieces = (data,)
    else:
        pieces = map(_encode, data)
    if _is_stream(path):
        try:
            with open(path, "wb") as stream:
                for payload in pieces:
                    stream.write(payload)
        except OSError as exc:
            raise CmlError(f"{path}: cannot write: {exc.strerror or exc}") from None
        return
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


def _encode(text: str) -> bytes:
    return redact(text).encode("utf-8", "replace")


def _is_stream(path: Path) -> bool:
    """True for a character device or a pipe given as the path itself. A symlink to
    one is refused: a symlink may come from the pull request's tree, and what it points
    at is not the workflow's choice (`-o -` prints to standard output)."""
    try:
        mode = os.lstat(path).st_mode
    except (OSError, ValueError):
        return False
    if stat.S_ISLNK(mode):
        try:
            target = os.stat(path).st_mode
        except OSError:
            return False  # a dangling link is replaced like any other file
        if not (stat.S_ISREG(target) or stat.S_ISDIR(target)):
            raise CmlError(
                f"{path}: is a symlink to a device or pipe; cml-py writes regular files "
                "(give -o - to print to standard output)"
            )
        return False
    if stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        raise CmlError(f"{path}: is a device, not a file cml-py can write a report to")
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)
