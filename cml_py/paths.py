"""Where cml-py may read and write in the checkout.

cml-py runs with a token on a checkout whose files the pull request controls, so paths
that come from settings or from the PR's tree are checked before they are used:

- a file cml-py reads (metrics, params, predictions, curves, datasets, configs) is a
  regular file inside the repository — not a symlink, not `../` out of it, and not
  inside `.git`, whose config may hold a remote URL with a token (GitLab's job token);
- a directory cml-py writes (train.output_dir, --out) is inside the repository, is not
  the repository itself and not inside `.git`;
- a directory cml-py replaces wholesale (the training outputs) is one cml-py created: a
  non-empty directory holding anything else is never deleted.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cml_py.errors import CmlError

if TYPE_CHECKING:
    from cml_py.trust import Settings

OWNER_MARK = ".cml-py-output"  # written into every directory cml-py creates and may replace


def lookup_error(name: str, what: str, exc: OSError) -> CmlError:
    """Looking up a path named in settings, on the command line or by the PR (pathlib's
    is_file, exists, is_symlink, glob) raises for more than a missing file before Python
    3.13: a name longer than the file system allows (255 bytes a part on most),
    a folder that cannot be searched. That is bad input, and the message says which."""
    reason = (
        "the name is longer than the file system allows"
        if exc.errno == errno.ENAMETOOLONG
        else exc.strerror or str(exc)
    )
    return CmlError(f"{name}: {what} cannot be looked up: {reason}")


def inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def check_readable(path: Path, root: Path, what: str, display: str | None = None) -> None:
    """A file from the working tree: a regular file inside `root`, not a symlink."""
    _check_readable(path, root, root.resolve(), what, display or str(path), {})


def check_readable_files(paths: list[str], root: Path, what: str) -> None:
    """`check_readable` for many repo-relative paths at once (thousands of metrics files
    matched by one glob), resolving each distinct folder once rather than each file."""
    real_root = root.resolve()
    folders: dict[Path, str] = {}
    for rel in paths:
        _check_readable(root / rel, root, real_root, what, rel, folders)


def _check_readable(
    path: Path, root: Path, real_root: Path, what: str, name: str, folders: dict[Path, str]
) -> None:
    """A path that is not a symlink resolves to its resolved folder plus its name, so
    the folder's answer (kept in `folders`) serves every file in it; a last part such
    as `..` is no file name and is resolved whole."""
    try:
        if path.is_symlink():
            raise CmlError(f"{name}: {what} is a symlink; cml-py reads only regular files")
        if path.name in ("", ".", ".."):
            where = _where(path, real_root)
        elif path.name == ".git":
            where = "git"
        else:
            known = folders.get(path.parent)
            where = folders[path.parent] = (
                _where(path.parent, real_root) if known is None else known
            )
    except OSError as exc:
        raise lookup_error(name, what, exc) from None
    if where == "outside":
        raise CmlError(f"{name}: {what} resolves outside the repository ({root})")
    if where == "git":
        raise CmlError(
            f"{name}: {what} is inside .git; cml-py never reads git's own files "
            "(they can hold credentials, such as a remote URL with a token)"
        )


def _where(folder: Path, real_root: Path) -> str:
    """ "outside" the repository, inside its "git" directory, or "inside" it."""
    try:
        parts = folder.resolve().relative_to(real_root).parts
    except ValueError:
        return "outside"
    return "git" if ".git" in parts else "inside"


def relative_pattern(pattern: str, where: str) -> str:
    """A glob pattern to search under a directory. Files must be in the repository, so
    patterns are written relative to cml.yaml's directory; an absolute one (which
    pathlib cannot search anyway) is bad input, not a crash."""
    if pattern.startswith("/"):
        raise CmlError(
            f"{where}: {pattern!r}: expected a pattern relative to cml.yaml's directory, "
            "not an absolute path"
        )
    return pattern


def in_git_dir(rel: str) -> bool:
    """A repo-relative `/`-separated path inside `.git` (or naming it)."""
    return ".git" in rel.split("/")


def check_writable_dir(path: Path, root: Path, what: str) -> Path:
    """A directory cml-py writes into: inside `root`, neither `root` itself nor `.git`."""
    resolved = path.resolve()
    real_root = root.resolve()
    try:
        resolved.lstat()  # absent is fine (it is created); unreachable is not
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as exc:
        raise lookup_error(f"{what} {path}", "the directory", exc) from None
    if not inside(resolved, real_root):
        raise CmlError(f"{what} {path}: must be a directory inside the repository ({root})")
    if resolved == real_root:
        raise CmlError(f"{what} {path}: must be a subdirectory, not the repository itself")
    if ".git" in resolved.relative_to(real_root).parts:
        raise CmlError(f"{what} {path}: must not be inside .git")
    return resolved


def output_directory(path: Path, settings: Settings, *, what: str) -> Path:
    """`--out` and the like, checked against the repository of this run (when there is
    one: outside a repository only the filesystem root and the current directory's
    parents are refused)."""
    root = settings.workspace.root if settings.workspace is not None else _repo_root()
    if root is None:
        resolved = path.resolve()
        if resolved in (Path.cwd().resolve(), *Path.cwd().resolve().parents):
            raise CmlError(f"{what} {path}: must be a new or dedicated subdirectory")
        return resolved
    return check_writable_dir(path, root, what)


def _repo_root() -> Path | None:
    from cml_py.config import find_repo_root

    return find_repo_root(Path.cwd())


REPORT_NAMES = frozenset(
    {
        "report.md",
        "report.json",
        "report.html",
        "gate.xml",
        "metrics.txt",
        "status.json",
        "charts",
        "images",
    }
)


def replace_output_directory(directory: Path, *, what: str) -> None:
    """Empty a report directory cml-py owns (so no file of an earlier run survives, a
    stale chart included) and mark it as cml-py's; refuse anyone else's directory."""
    import shutil

    if not may_replace(directory, REPORT_NAMES):
        raise CmlError(
            f"{what} {directory}: the directory exists and was not created by cml-py; "
            "cml-py empties its report directory on every run, so choose a new or empty one"
        )
    if directory.is_dir():
        for child in directory.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / OWNER_MARK).write_text("Written by cml-py; emptied on every run.\n")


def may_replace(directory: Path, known_names: frozenset[str]) -> bool:
    """True when `directory` can be deleted and replaced: absent, empty, marked as
    cml-py's, or holding nothing but names cml-py writes there (outputs of a version
    that did not mark its directories yet)."""
    if not directory.exists() and not directory.is_symlink():
        return True
    if directory.is_symlink() or not directory.is_dir():
        return False
    names = set(os.listdir(directory))
    return not names or OWNER_MARK in names or names <= known_names
