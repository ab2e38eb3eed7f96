"""Where each side's data files come from.

main's side is read at the base commit: a file git tracks is streamed from git into a
temporary file outside the checkout (never the working tree, which the PR controls); a
DVC-tracked file — an output in main's dvc.lock, or a `dvc add`ed file with a `.dvc`
file at main — is read through cml_py/dvc's object store, from the local cache or
main's remote, and accepted only when its md5 is the one main recorded. Symlinks at the
base are refused. The PR's side is the working tree: regular files inside the
repository only. Every file is size-checked before it is read.
"""

from __future__ import annotations

import hashlib
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cml_py.errors import CmlError
from cml_py.git import SYMLINK_MODE, Git

MB = 1024 * 1024


@dataclass(frozen=True)
class Found:
    """A file of one side, ready to read: where it is now, and a content id (git blob or
    md5) when one is known cheaply, to recognise main's file in the PR unchanged."""

    path: str  # repo-relative, as in messages
    local: Path
    content_id: str | None = None
    size: int | None = None
    pending: Callable[[], None] | None = field(default=None, compare=False)

    def ready(self) -> Found:
        """Wait until the file is complete (main's blob streams in the background)."""
        if self.pending is not None:
            self.pending()
        return self


@dataclass
class BaseFiles:
    """main's files at `sha`. Use as a context manager: temporary copies are removed."""

    git: Git
    sha: str
    base_name: str
    root: Path
    dvc_lock: str | None = None  # main's dvc.lock, in a DVC pipeline project
    dvc_remote: str | None = None
    _tmp: Path | None = None
    _tree: dict[str, tuple[str, str, int]] | None = None  # path → (mode, oid, size)
    _dvc: Any = None
    _dvc_loaded: bool = False
    _count: int = 0
    notes: list[str] = field(default_factory=list)

    def __enter__(self) -> BaseFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _temp(self, path: str) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="cml-py-data-"))
        self._count += 1
        return self._tmp / f"{self._count}-{posixpath.basename(path)}"

    def tree(self) -> dict[str, tuple[str, str, int]]:
        """Every file at the base commit: path → (mode, blob id, size), one git call."""
        if self._tree is None:
            out = self.git.run("ls-tree", "-r", "-l", "-z", "--full-tree", self.sha).stdout
            tree: dict[str, tuple[str, str, int]] = {}
            for entry in out.split(b"\0"):
                if not entry:
                    continue
                meta, _, name = entry.partition(b"\t")
                mode, kind, oid, size = meta.decode().split()
                if kind == "blob":
                    path = name.decode("utf-8", "surrogateescape")
                    tree[path] = (mode, oid, int(size) if size.isdigit() else 0)
            self._tree = tree
        return self._tree

    def list_files(self) -> list[str]:
        files = set(self.tree())
        dvc = self._dvc_base()
        if dvc is not None:
            files.update(dvc.list_files())
        return sorted(files)

    def fetch(self, path: str, max_mb: float) -> Found | None:
        """main's file `path` as a local file, or None when main has no such file. A
        file from git may still be streaming: call `ready()` before reading it."""
        from cml_py.data.read import check_size

        display = f"{self.base_name}:{path}"
        entry = self.tree().get(path)
        if entry is not None:
            mode, oid, size = entry
            if mode == SYMLINK_MODE:
                raise CmlError(f"{display}: a symlink at {self.sha[:12]}; cml-py reads only files")
            check_size(size, display, max_mb)
            local = self._temp(path)
            return Found(path, local, f"git:{oid}", size, self.git.write_blob(oid, local))
        dvc = self._dvc_base()
        if dvc is None:
            return None
        from cml_py.dvc.project import find_out

        located = find_out(path, dvc.outs)
        if located is None:
            return None
        from cml_py.data.read import MB
        from cml_py.dvc.objects import ObjectTooLarge

        try:  # a tracked dataset may be gigabytes: refused before it is read
            data = dvc.read_files([path], max_bytes=int(max_mb * MB)).get(path)
        except ObjectTooLarge as exc:
            check_size(exc.size, display, max_mb)
            raise
        if data is None:
            return None
        check_size(len(data), display, max_mb)
        local = self._temp(path)
        local.write_bytes(data)
        self.notes += [n for n in dvc.read_notes() if n not in self.notes]
        out, h = located
        md5 = h.md5 if out == path and not h.legacy else None
        return Found(path, local, f"md5:{md5}" if md5 else None, len(data))

    def _dvc_base(self) -> Any:
        """main's DVC outputs: its dvc.lock's and every `.dvc` file's, one object store."""
        if self._dvc_loaded:
            return self._dvc
        self._dvc_loaded = True
        tree = self.tree()
        dvc_files = [p for p in tree if p.endswith(".dvc") and not p.startswith(".dvc/")]
        lock = self.dvc_lock if self.dvc_lock in tree else None
        if not dvc_files and lock is None:
            return None
        from cml_py.dvc import source as dvc_source
        from cml_py.dvc.project import parse_lock
        from cml_py.yamlio import load_yaml

        blobs = self.git.read_regular_files(self.sha, [*dvc_files, *([lock] if lock else [])])
        outs: dict[str, Any] = {}
        if lock is not None:
            outs.update(dvc_source.parse_lock(blobs.get(lock), lock, f"{self.base_name}:{lock}"))
        for dvc_file in dvc_files:
            data = blobs.get(dvc_file)
            if data is None:
                continue
            try:
                parsed = load_yaml(data, f"{self.base_name}:{dvc_file}")
                entries = parsed.get("outs") if isinstance(parsed, dict) else None
                if isinstance(entries, list):
                    outs.update(parse_lock({"stages": {"add": {"outs": entries}}}, dvc_file))
            except CmlError as exc:
                self.notes.append(f"{self.base_name}'s {dvc_file} could not be read ({exc}).")
        if not outs:
            return None
        config_blob = self.git.read_regular_files(self.sha, [".dvc/config"]).get(".dvc/config")
        try:
            config_text = config_blob.decode("utf-8") if config_blob is not None else None
        except UnicodeDecodeError:
            raise CmlError(f"{self.base_name}:.dvc/config: expected UTF-8 text") from None
        config = dvc_source.load_repo_config(
            config_text,
            self.root,
            dvc_source._untracked_local_config(self.git, self.root),
            dvc_source._global_config_texts(),
        )
        store = dvc_source.make_store(config, self.root, self.dvc_remote)
        self._dvc = dvc_source.DvcBase(
            self.git, self.sha, self.base_name, lock or "dvc.lock", outs, store
        )
        return self._dvc


def head_file(root: Path, path: str, max_mb: float, what: str, git: Git | None) -> Found:
    """The PR's file `path` from the working tree: a regular file inside the repository."""
    from cml_py.data.read import check_size
    from cml_py.paths import check_readable

    local = root / path
    check_readable(local, root, what, path)
    if not local.is_file():
        raise CmlError(
            f"{what} {path} does not exist in the working tree (a DVC-tracked file? run "
            "`dvc pull` first; moved in this PR? main's data: setting names it until merged, "
            "or use --trust-pr-config)"
        )
    size = local.stat().st_size
    check_size(size, path, max_mb)
    return Found(path, local, None, size)


def git_blob_id(git: Git, local: Path) -> str:
    """The blob id git would give the working-tree file (its clean filters applied)."""
    return git.run("hash-object", "--", str(local)).stdout.decode().strip()


def md5_of(local: Path) -> str:
    digest = hashlib.md5()  # DVC's content address, not a security measure
    with local.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def same_content(git: Git, base: Found, head: Found) -> bool:
    """True when main's file is byte for byte the PR's (cheap: ids, not contents)."""
    if base.content_id is None or base.size != head.size:
        return False
    kind, _, value = base.content_id.partition(":")
    if kind == "git":
        return git_blob_id(git, head.local) == value
    if kind == "md5":
        return md5_of(head.local) == value
    return False
