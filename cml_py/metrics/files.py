"""Which metrics/params files take part, and their contents in the working tree.

Patterns are relative to the directory of cml.yaml (flags: to the current directory);
paths are kept repo-relative with `/` so the same string addresses a file in the
working tree and at the base commit. Globs follow pathlib: `*` and `?` stay within one
directory, `**/` spans any number of them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cml_py.errors import CmlError
from cml_py.limits import Limits, check_size
from cml_py.limits import active as active_limits
from cml_py.metrics.diff import natural_key
from cml_py.metrics.parse import parse_file
from cml_py.model import MetricFile, MetricSet
from cml_py.paths import in_git_dir, lookup_error, relative_pattern

AUTODETECT_METRICS = (
    "metrics.json",
    "metrics.yaml",
    "metrics.yml",
    "metrics.toml",
    "metrics.csv",
    "dvclive/metrics.json",
)
AUTODETECT_PARAMS = ("params.yaml",)
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class FileSpec:
    """Patterns of one kind, where they came from (for messages), and their directory."""

    patterns: tuple[str, ...]
    origin: str
    directory: Path
    required: bool = True


def is_glob(pattern: str) -> bool:
    return bool(_GLOB_CHARS.search(pattern))


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a pathlib-style glob into a regex over `/`-separated relative paths."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
            continue
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _relative(path: Path, repo_root: Path) -> str:
    return Path(os.path.relpath(path, repo_root)).as_posix()


class MissingFile(CmlError):
    """A file the spec names that the working tree does not have (a literal path, or a
    glob matching nothing): what its caller may explain by where the spec came from —
    training not run yet, a DVC output not reproduced."""


def head_paths(spec: FileSpec, repo_root: Path) -> list[str]:
    """Files matched in the working tree, in configured order, each once.

    A literal path that does not exist, or a glob that matches nothing, is an error:
    when the user names a file, its absence is a broken training run, not "no metrics".
    """
    found: list[str] = []
    for pattern in spec.patterns:
        try:
            found.extend(_head_matches(spec, pattern, repo_root))
        except OSError as exc:
            raise lookup_error(spec.origin, f"file {pattern!r}", exc) from None
    return list(dict.fromkeys(found))


def _head_matches(spec: FileSpec, pattern: str, repo_root: Path) -> list[str]:
    """The files one pattern names; pathlib's lookups may raise OSError (a name too
    long for the file system), which the caller reports."""
    if is_glob(pattern):
        # Like git itself, a pattern never matches inside .git (`**/*.json` would reach
        # git's own files, which a path naming them directly is refused for).
        pattern = relative_pattern(pattern, spec.origin)
        found = (_relative(p, repo_root) for p in spec.directory.glob(pattern) if p.is_file())
        matches = sorted((rel for rel in found if not in_git_dir(rel)), key=natural_key)
        if not matches and spec.required:
            raise MissingFile(f"{spec.origin}: {pattern!r} matches no file")
        return matches
    path = spec.directory / pattern
    if path.is_file():
        return [_relative(path, repo_root)]
    if spec.required:
        if path.is_dir():
            kind = "is a directory, expected a file"
        elif path.exists():
            kind = "is not a regular file (a pipe, socket or device)"
        else:
            kind = "does not exist"
        error = MissingFile if kind == "does not exist" else CmlError
        raise error(f"{spec.origin}: file {pattern!r} {kind}")
    return []


def base_paths(spec: FileSpec, repo_root: Path, base_files: Iterable[str]) -> list[str]:
    """Files the patterns match in the base commit's tree (given as repo-relative paths)."""
    prefix = _relative(spec.directory, repo_root)
    prefix = "" if prefix == "." else prefix + "/"
    regexes = [glob_regex(prefix + p) for p in spec.patterns if is_glob(p)]
    if not regexes:
        return []
    return sorted((f for f in base_files if any(r.match(f) for r in regexes)), key=natural_key)


def literal_paths(spec: FileSpec, repo_root: Path) -> list[str]:
    return [_relative(spec.directory / p, repo_root) for p in spec.patterns if not is_glob(p)]


def read_head(paths: Sequence[str], repo_root: Path, limits: Limits | None = None) -> MetricSet:
    """Read and parse each file; one larger than the size limit is refused unread."""
    limits = limits or active_limits()
    files = []
    for path in paths:
        try:
            with open(repo_root / path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                check_size(path, size, limits)
                # Ask for what is there: a read of the limit itself would allocate (and
                # free) a buffer that large for every small file. One byte more tells a
                # file that grew since; it is then read on up to the limit.
                data = handle.read(size + 1)
                if len(data) > size:
                    data += handle.read(limits.file_bytes + 1 - len(data))
                    check_size(path, len(data), limits)
        except OSError as exc:
            raise CmlError(f"{path}: cannot read: {exc.strerror or exc}") from None
        files.append(MetricFile(path=path, values=parse_file(data, path, limits)))
    return MetricSet(tuple(files))
