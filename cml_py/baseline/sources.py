"""Where main's files come from: a commit (read with git) or a directory (a re-run).

Both answer the same two questions with repo-relative paths, so the comparison does not
care whether main's numbers were committed or re-computed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from cml_py.git import Git


class BaseSource(Protocol):
    def list_files(self) -> list[str]: ...

    def read_files(self, paths: Iterable[str]) -> dict[str, bytes | None]: ...


class GitBase:
    """Files as committed at the base commit, read without touching the working tree."""

    def __init__(self, git: Git, sha: str) -> None:
        self.git, self.sha = git, sha

    def list_files(self) -> list[str]:
        return self.git.list_files(self.sha)

    def read_files(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        return self.git.read_files(self.sha, paths)


class DirectoryBase:
    """Files under a directory that mirrors the repository layout (a re-run's outputs)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def list_files(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
        )

    def read_files(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        for path in paths:
            target = self.root / path
            out[path] = target.read_bytes() if target.is_file() else None
        return out
