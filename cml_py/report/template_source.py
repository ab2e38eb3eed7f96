"""Where a custom report template is read from, and the rules it must follow.

A template is code: jinja2 runs it to write the comment cml-py posts with a token. So it
comes from where policy comes from — the base commit, read with git — unless the run
trusts the PR's settings (or the base has no cml.yaml yet), when it is read from the
working tree. Either way its path is relative and stays inside the repository, and so
does every template it includes: absolute paths, `..` that leaves the repository and
symlinks are errors.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cml_py.errors import CmlError
from cml_py.git import Git
from cml_py.paths import in_git_dir, lookup_error

TEMPLATE_BYTES_LIMIT = 1 << 20  # a report template is a page of markdown, not a megabyte


@dataclass(frozen=True)
class TemplateSource:
    """A template and the files beside it: `read` takes a repo-relative path and returns
    the text, or None when there is no such file."""

    path: str  # repo-relative, `/`-separated
    label: str  # how messages name it, e.g. "main:ci/report.md.j2"
    read: Callable[[str], str | None]


def repo_relative(path: str, what: str) -> str:
    """`path` normalised, refusing anything that could leave the repository."""
    if not path or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        raise CmlError(f"{what} {path!r}: expected a relative path inside the repository")
    normal = posixpath.normpath(path.replace("\\", "/"))
    if normal == ".." or normal.startswith("../") or normal == ".":
        raise CmlError(f"{what} {path!r}: the path leaves the repository")
    if in_git_dir(normal):
        raise CmlError(f"{what} {path!r}: cml-py never reads git's own files (.git)")
    return normal


def _decode(data: bytes, label: str) -> str:
    if len(data) > TEMPLATE_BYTES_LIMIT:
        raise CmlError(f"{label}: template larger than {TEMPLATE_BYTES_LIMIT:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CmlError(f"{label}: expected UTF-8 text") from None


def from_commit(git: Git, sha: str, rel: str, ref_name: str) -> TemplateSource:
    """Templates as committed at `sha` (regular files only)."""

    def read(path: str) -> str | None:
        data = git.read_regular_files(sha, [path]).get(path)
        return None if data is None else _decode(data, f"{ref_name}:{path}")

    return TemplateSource(rel, f"{ref_name}:{rel}", read)


def from_working_tree(root: Path, rel: str) -> TemplateSource:
    """Templates in the working tree, refusing symlinks and anything outside `root`."""
    resolved_root = root.resolve()

    def read(path: str) -> str | None:
        target = root / path
        try:
            if target.is_symlink():
                raise CmlError(
                    f"{path}: the template is a symlink; cml-py reads only regular files"
                )
            inside = target.resolve().relative_to(resolved_root)
            if in_git_dir(inside.as_posix()):  # e.g. through a symlinked folder
                raise CmlError(f"{path}: cml-py never reads git's own files (.git)")
            if not target.is_file():
                return None
        except ValueError:
            raise CmlError(f"{path}: the template is outside the repository") from None
        except OSError as exc:
            raise lookup_error(path, "the template", exc) from None
        return _decode(target.read_bytes(), path)

    return TemplateSource(rel, rel, read)


def template_from_flag(path: Path, root: Path | None) -> str | TemplateSource:
    """`--template PATH`: outside a repository, the file itself; in one, its path
    relative to the repository (a file inside it), to be read from where policy comes
    from (see trust.template_for)."""
    if root is None:
        base = path.resolve().parent
        return from_working_tree(base, path.name)
    resolved = path if path.is_absolute() else Path.cwd() / path
    try:
        rel = resolved.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise CmlError(f"{path}: --template must be a file inside the repository") from None
    try:
        symlink = resolved.is_symlink()
    except OSError as exc:
        raise lookup_error(str(path), "--template", exc) from None
    if symlink:
        raise CmlError(f"{path}: the template is a symlink; cml-py reads only regular files")
    return repo_relative(rel, "--template")
