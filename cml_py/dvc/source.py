"""Main's files in a DVC project: git first, else the output's object named by main's
dvc.lock — what `dvc metrics diff main` reads, without importing DVC when the objects
are in the local cache.

A file git tracks at the base (a `cache: false` output, params.yaml) is read from git;
a DVC-cached output is found through the base commit's dvc.lock (a file, or a file
inside a directory output) and read from the local cache, else from the remote that the
base commit's .dvc/config names. Every object is checked against main's hash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cml_py.trust import Settings

import json
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cml_py.dvc.objects import ObjectStore, Remote
from cml_py.dvc.project import OutHash, RepoConfig, find_out, merge_configs, parse_config
from cml_py.dvc.project import parse_lock as parse_lock_data
from cml_py.errors import CmlError
from cml_py.git import Git


@dataclass
class DvcBase:
    """A BaseSource (see baseline/sources.py) for a DVC project's base commit."""

    git: Git
    sha: str
    base_name: str
    lock_file: str
    outs: dict[str, OutHash]
    store: ObjectStore
    _trees: dict[str, dict[str, OutHash]] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)

    def _tree(self, out: str, h: OutHash) -> dict[str, OutHash]:
        """A directory output's files (relpath → hash), from its verified .dir object."""
        if out not in self._trees:
            data = self.store.read_many([h], {h.md5: out})[h.md5]
            self._trees[out] = parse_tree(data, f"{self.base_name}:{out} ({h.md5})", h.legacy)
        return self._trees[out]

    def list_files(self) -> list[str]:
        files = set(self.git.list_files(self.sha))
        for out, h in self.outs.items():
            if h.is_dir:
                files.update(posixpath.join(out, rel) for rel in self._tree(out, h))
            else:
                files.add(out)
        return sorted(files)

    def read_files(
        self, paths: Iterable[str], max_bytes: int | None = None
    ) -> dict[str, bytes | None]:
        """Contents of `paths` at the base, from git or DVC; a DVC object over `max_bytes`
        is ObjectTooLarge, before it is read."""
        wanted = list(dict.fromkeys(paths))
        found = self.git.read_files(self.sha, wanted)
        pending: dict[str, OutHash] = {}
        for path in wanted:
            if found.get(path) is not None:
                continue
            located = find_out(path, self.outs)
            if located is None:
                continue
            out, h = located
            if h.is_dir:
                file_hash = self._tree(out, h).get(posixpath.relpath(path, out))
                if file_hash is None:
                    continue
                h = file_hash
            pending[path] = h
        if pending:
            blobs = self.store.read_many(
                pending.values(), {h.md5: p for p, h in pending.items()}, max_bytes
            )
            for path, h in pending.items():
                found[path] = blobs[h.md5]
                self._used.add(path)
        return found

    def read_notes(self) -> list[str]:
        """Where main's DVC outputs came from, for the report."""
        if not self._used:
            return []
        origins = " and ".join(sorted(self.store.origins)) or "the local DVC cache"
        files = ", ".join(sorted(self._used))
        return [
            f"main's DVC outputs ({files}) were read through {self.lock_file} at "
            f"{self.sha[:7]}, from {origins}; each was checked against the md5 in that file."
        ]


def parse_tree(data: bytes, where: str, legacy: bool) -> dict[str, OutHash]:
    """A `.dir` object: a JSON list of {md5, relpath} → relpath → hash."""
    try:
        entries = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CmlError(f"{where}: not a DVC directory listing") from None
    out: dict[str, OutHash] = {}
    if not isinstance(entries, list):
        raise CmlError(f"{where}: not a DVC directory listing")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        rel, md5 = entry.get("relpath"), entry.get("md5")
        if isinstance(rel, str) and isinstance(md5, str) and len(md5) == 32:
            out[rel.replace("\\", "/")] = OutHash(md5, legacy=legacy)
    return out


def load_repo_config(
    base_text: str | None, repo_root: Path, local_text: str | None, global_texts: list[str]
) -> RepoConfig:
    """DVC's config levels for reading main: system and global (the runner's), the base
    commit's .dvc/config, and a .dvc/config.local only when git does not track it (one
    the workflow wrote, e.g. with credentials). Remote URLs always come from the base:
    a local file may add options to a remote, never move it.

    Relative paths in these files are joined to the checkout's `.dvc` by name, never
    resolved through it: a PR can commit `.dvc` as a symlink, and main's `../remote`
    would then be a folder of the PR's choosing."""
    dvc_dir = repo_root.resolve() / ".dvc"
    levels = [parse_config(text, "DVC global config") for text in global_texts]
    base = parse_config(base_text, "main's .dvc/config") if base_text else RepoConfig()
    levels.append(_resolve_paths(base, dvc_dir))
    if local_text:
        local = _resolve_paths(parse_config(local_text, ".dvc/config.local"), dvc_dir)
        remotes = {
            name: {k: v for k, v in options.items() if k not in ("url", "endpointurl")}
            for name, options in local.remotes.items()
            if name in base.remotes
        }
        levels.append(RepoConfig(remote=None, remotes=remotes, cache_dir=local.cache_dir))
    merged = merge_configs(*levels)
    if base.remote:  # main's default remote wins over the runner's
        merged = RepoConfig(remote=base.remote, remotes=merged.remotes, cache_dir=merged.cache_dir)
    return merged


def _resolve_paths(config: RepoConfig, directory: Path) -> RepoConfig:
    """Relative local paths in a DVC config are relative to the config's directory
    (joined by name: `directory` is resolved, its symlinks below are not followed)."""

    def local(value: str) -> str:
        if "://" in value or value.startswith(("/", "~")):
            return value
        return os.path.normpath(directory / value)

    remotes = {
        name: {**options, **({"url": local(options["url"])} if "url" in options else {})}
        for name, options in config.remotes.items()
    }
    cache_dir = local(config.cache_dir) if config.cache_dir else None
    return RepoConfig(remote=config.remote, remotes=remotes, cache_dir=cache_dir)


def make_store(config: RepoConfig, repo_root: Path, remote_name: str | None) -> ObjectStore:
    cache_dir = Path(config.cache_dir) if config.cache_dir else working_tree_cache(repo_root)
    name = (remote_name or config.remote or "").lower() or None
    remote = None
    if name is not None:
        if name not in config.remotes:
            raise CmlError(
                f"main's .dvc/config: DVC remote {name!r} is not defined "
                f"(defined: {', '.join(sorted(config.remotes)) or 'none'})"
            )
        remote = Remote(name, config.remotes[name], config.remotes)
    return ObjectStore(cache_dir, remote)


def working_tree_cache(repo_root: Path) -> Path:
    """DVC's default cache, `.dvc/cache` in the working tree — unless `.dvc` or the cache
    is a symlink, which the PR can commit to have main's objects written anywhere: then
    a private cache for this run (objects read from it are verified against main's
    dvc.lock either way; only where they are written is at stake)."""
    cache = repo_root / ".dvc" / "cache"
    if not (cache.parent.is_symlink() or cache.is_symlink()):
        return cache
    return private_cache()


def private_cache() -> Path:
    """An empty cache of this run's own, removed when the process ends."""
    import atexit
    import shutil
    import tempfile

    private = Path(tempfile.mkdtemp(prefix="cml-py-dvc-cache-"))
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    return private


def parse_lock(text: str | bytes | None, lock_file: str, where: str) -> dict[str, OutHash]:
    if text is None:
        return {}
    from cml_py.yamlio import load_yaml

    return parse_lock_data(load_yaml(text, where), lock_file)


def _global_config_texts() -> list[str]:
    """The runner's own DVC config (system, then global), as DVC finds them on Linux
    and macOS; part of the workflow's environment, so trusted."""
    import os

    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    texts = []
    for path in (Path("/etc/xdg/dvc/config"), Path(home) / "dvc" / "config"):
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return texts


def _untracked_local_config(git: Git, repo_root: Path) -> str | None:
    """.dvc/config.local as the workflow wrote it; one the PR committed is ignored.

    So is one reached through a `.dvc` that git tracks as a symlink (or a submodule): git
    tracks no `.dvc/config.local` then, yet the file is the PR's, committed beside the
    folder the link points to — with a `cache.dir` anywhere on the runner."""
    dvc_dir = repo_root / ".dvc"
    path = dvc_dir / "config.local"
    if dvc_dir.is_symlink() or path.is_symlink() or not path.is_file():
        return None
    listed = git.run("ls-files", "-z", "--", ".dvc", check=False)
    names = {n.decode("utf-8", "surrogateescape") for n in listed.stdout.split(b"\0") if n}
    if listed.returncode != 0 or names & {".dvc", ".dvc/config.local"}:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def base_source(settings: Settings) -> DvcBase:
    """Main's files for this run: main's dvc.lock, main's .dvc/config (plus the runner's
    config and an untracked config.local for credentials), the local cache."""
    ws, state = settings.ws, settings.dvc
    lock_file = state.lock_file
    config_file = ".dvc/config"
    blobs = ws.git.read_regular_files(ws.base.sha, [lock_file, config_file])
    lock_blob, config_blob = blobs.get(lock_file), blobs.get(config_file)
    outs = parse_lock(lock_blob, lock_file, f"{ws.base.name}:{lock_file}")
    try:
        config_text = config_blob.decode("utf-8") if config_blob is not None else None
    except UnicodeDecodeError:
        raise CmlError(f"{ws.base.name}:{config_file}: expected UTF-8 text") from None
    config = load_repo_config(
        config_text,
        ws.root,
        _untracked_local_config(ws.git, ws.root),
        _global_config_texts(),
    )
    store = make_store(config, ws.root, state.remote)
    return DvcBase(ws.git, ws.base.sha, ws.base.name, lock_file, outs, store)


def base_cache_dir(git: Git, repo_root: Path) -> Path:
    """The cache a re-run of main shares: this checkout's `.dvc/cache`, when the pull
    request put nothing there. (Objects taken from it are verified against main's
    dvc.lock; see train.py.) DVC itself writes into it, through any symlink it holds —
    so when `.dvc` or the cache is a symlink, or git tracks anything under the cache (a
    folder such as `files/md5` committed as a link), the re-run gets a private cache:
    DVC never commits its cache, so whatever git holds there is the PR's."""
    cache = working_tree_cache(repo_root)
    if cache != repo_root / ".dvc" / "cache":
        return cache
    listed = git.run("ls-files", "-z", "--", ".dvc/cache", check=False)
    if listed.returncode != 0 or listed.stdout.strip(b"\0"):
        return private_cache()
    return cache
