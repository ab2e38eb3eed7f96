"""The one place that runs git.

Everything here reads the repository; nothing touches the working tree or the index,
so cml-py can run in the middle of a user's CI job without side effects.
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from cml_py.errors import CmlError
from cml_py.tokens import child_env

SYMLINK_MODE = "120000"
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256
_ENV = {"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}


def _tree_entries(tree: bytes, oid_bytes: int) -> Iterator[tuple[bytes, str]]:
    """(mode, name) of each entry of a raw tree object: `<mode> <name>\\0<binary id>`.
    Modes are written without leading zeros there (`40000` for a directory)."""
    pos = 0
    while pos < len(tree):
        space = tree.index(b" ", pos)
        nul = tree.index(b"\0", space)
        yield tree[pos:space], tree[space + 1 : nul].decode("utf-8", "surrogateescape")
        pos = nul + 1 + oid_bytes


def _symlink_refused(path: str, sha: str) -> CmlError:
    """A committed symlink can point anywhere: cml-py never follows one it must trust."""
    return CmlError(f"{path} at {sha[:12]} is a symlink; cml-py reads only regular files here")


class GitError(CmlError):
    """A git command failed in a way the caller did not expect."""


class Git:
    """Thin wrapper around the `git` executable for one working directory."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._env = {**child_env(), **_ENV}

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            proc = subprocess.run(
                ["git", "-c", "core.quotepath=off", *args],
                cwd=self.cwd,
                input=input,
                capture_output=True,
                env={**self._env, **(env or {})},
                check=False,
            )
        except FileNotFoundError:
            raise CmlError("git is not installed or not on PATH; cml-py needs it") from None
        if check and proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = message[-1] if message else f"exit code {proc.returncode}"
            raise GitError(f"git {args[0]} failed: {detail}")
        return proc

    def _out(self, *args: str) -> str:
        return self.run(*args).stdout.decode("utf-8", "replace").strip()

    def locate(self) -> tuple[Path | None, str | None]:
        """(the work tree's top level, HEAD's commit sha) from one `git rev-parse`: the
        top level is None outside a repository, the sha None before the first commit.
        Every run starts with both, and each git process costs a few milliseconds."""
        proc = self.run(
            "rev-parse",
            "--show-toplevel",
            "--verify",
            "--quiet",
            "--end-of-options",
            "HEAD^{commit}",
            check=False,
        )
        text = proc.stdout.decode("utf-8", "surrogateescape").removesuffix("\n")
        if proc.returncode not in (0, 1) or not text:
            return None, None
        if proc.returncode == 1:  # no commit yet: only the top level was printed
            return Path(text), None
        top, _, head = text.rpartition("\n")  # the sha is the last line; a path may hold "\n"
        if not top or not _OBJECT_ID.fullmatch(head):
            return None, None
        return Path(top), head

    def commit_sha(self, rev: str) -> str | None:
        """The full sha of `rev` as a commit, or None when it does not name one here.

        Only an object id counts: rev-parse also accepts revision syntax that is no
        single commit and prints it as such (`^main` gives `^<sha>`, an exclusion),
        which used as a sha makes every base file read as missing."""
        proc = self.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False
        )
        if proc.returncode != 0:
            return None
        sha = proc.stdout.decode("utf-8", "replace").strip()
        return sha if _OBJECT_ID.fullmatch(sha) else None

    def fork_point(self, ref: str, head: str) -> tuple[bool, str | None]:
        """(whether `ref` exists, the merge-base of `ref` and `head`) in one git call:
        merge-base exits 1 for two histories that never met and 128 for a name that
        is not there, so no separate existence check is needed."""
        proc = self.run("merge-base", "--end-of-options", ref, head, check=False)
        if proc.returncode == 0:
            return True, proc.stdout.decode().strip() or None
        return proc.returncode == 1, None

    def is_shallow(self) -> bool:
        return self._out("rev-parse", "--is-shallow-repository") == "true"

    def list_files(self, sha: str) -> list[str]:
        """All file paths in the tree of commit `sha`, repo-relative with `/`."""
        out = self.run("ls-tree", "-r", "-z", "--name-only", "--full-tree", sha).stdout
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]

    # Above this many paths, `<sha>:<path>` lookups (each a linear walk of its tree, so
    # 20,000 files in one directory cost 25 s) give way to one listing of the tree.
    _LIST_ABOVE = 256

    def _blob_ids(self, sha: str, paths: list[str]) -> dict[str, str | None]:
        """Object id of each path that is a file at `sha` (None otherwise), from one
        `git ls-tree -r` of the directories involved."""
        dirs = sorted({p.rsplit("/", 1)[0] + "/" if "/" in p else "" for p in paths})
        spec = ["--", *dirs] if "" not in dirs else []
        out = self.run(
            "ls-tree", "-r", "-z", "--full-tree", sha, *spec, env={"GIT_LITERAL_PATHSPECS": "1"}
        ).stdout
        ids: dict[str, str] = {}
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, name = entry.partition(b"\t")
            _mode, kind, oid = meta.split(b" ")
            if kind == b"blob":
                ids[name.decode("utf-8", "surrogateescape")] = oid.decode()
        return {path: ids.get(path) for path in paths}

    def existing(self, sha: str, paths: Iterable[str]) -> set[str]:
        """Which of `paths` are files at commit `sha` (one `git cat-file --batch-check`)."""
        paths = [p for p in dict.fromkeys(paths) if "\n" not in p]
        if not paths:
            return set()
        if len(paths) > self._LIST_ABOVE:
            return {path for path, oid in self._blob_ids(sha, paths).items() if oid}
        request = "".join(f"{sha}:{path}\n" for path in paths).encode("utf-8", "surrogateescape")
        lines = self.run("cat-file", "--batch-check", input=request).stdout.splitlines()
        found = zip(paths, lines, strict=True)
        return {path for path, line in found if line.split(b" ")[1:2] == [b"blob"]}

    def modes(self, sha: str, paths: Iterable[str]) -> dict[str, str]:
        """Tree mode of each of `paths` that exists at commit `sha`: "100644" or "100755"
        for a regular file, "120000" for a symlink, "040000" for a directory."""
        wanted = [p for p in dict.fromkeys(paths) if p and "\n" not in p]
        if not wanted:
            return {}
        out = self.run("ls-tree", "-z", "--full-tree", sha, "--", *wanted).stdout
        modes: dict[str, str] = {}
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, name = entry.partition(b"\t")
            modes[name.decode("utf-8", "surrogateescape")] = meta.split(b" ")[0].decode()
        return modes

    def read_regular_files(self, sha: str, paths: Iterable[str]) -> dict[str, bytes | None]:
        """Like `read_files`, but a path that is a symlink at `sha` is an error: a
        committed symlink can point anywhere, so cml-py never follows one it must trust.

        One `git cat-file --batch` answers both questions: it is asked for each file and
        for the tree of each directory holding one, whose entries carry the modes."""
        wanted = list(dict.fromkeys(paths))
        if len(wanted) > self._LIST_ABOVE:
            return self._read_regular_listed(sha, wanted)
        result: dict[str, bytes | None] = dict.fromkeys(wanted)
        wanted = [p for p in wanted if "\n" not in p]  # a line break cannot be asked for
        if not wanted:
            return result
        dirs = list(dict.fromkeys(posixpath.dirname(p) for p in wanted))
        names = dirs + wanted
        request = "".join(f"{sha}:{name}\n" for name in names).encode("utf-8", "surrogateescape")
        found = self._batch_objects(request, len(names))
        modes: dict[str, bytes] = {}
        for folder, obj in zip(dirs, found[: len(dirs)], strict=True):
            if obj is not None and obj[0] == b"tree":
                prefix = f"{folder}/" if folder else ""
                for mode, name in _tree_entries(obj[1], obj[2]):
                    modes[prefix + name] = mode
        for path, obj in zip(wanted, found[len(dirs) :], strict=True):
            mode = modes.get(path, b"")
            if mode.decode() == SYMLINK_MODE:
                raise _symlink_refused(path, sha)
            regular = mode.startswith(b"100") and obj is not None and obj[0] == b"blob"
            result[path] = obj[1] if regular and obj is not None else None
        return result

    def _read_regular_listed(self, sha: str, wanted: list[str]) -> dict[str, bytes | None]:
        """`read_regular_files` for many paths: modes from one `git ls-tree`."""
        modes = self.modes(sha, wanted)
        for path, mode in modes.items():
            if mode == SYMLINK_MODE:
                raise _symlink_refused(path, sha)
        present = [p for p in wanted if modes.get(p, "").startswith("100")]
        found = self.read_files(sha, present)
        return {p: found.get(p) for p in wanted}

    def read_files(self, sha: str, paths: Iterable[str]) -> dict[str, bytes | None]:
        """Contents of `paths` at commit `sha` in one `git cat-file --batch` call.

        A path that is absent (or not a file) at that commit maps to None: for the
        caller that means "added in this PR", not an error.
        """
        paths = list(dict.fromkeys(paths))
        if not paths:
            return {}
        for path in paths:
            if "\n" in path:
                raise CmlError(f"{path!r}: file names with line breaks are not supported")
        if len(paths) > self._LIST_ABOVE:
            ids = self._blob_ids(sha, paths)
            wanted = [p for p in paths if ids[p]]
            request = "".join(f"{ids[p]}\n" for p in wanted).encode()
            result: dict[str, bytes | None] = dict.fromkeys(paths)
            result.update(self._batch(request, wanted))
            return result
        request = "".join(f"{sha}:{path}\n" for path in paths).encode("utf-8", "surrogateescape")
        return self._batch(request, paths)

    def _batch(self, request: bytes, paths: list[str]) -> dict[str, bytes | None]:
        found = self._batch_objects(request, len(paths))
        return {
            path: obj[1] if obj is not None and obj[0] == b"blob" else None
            for path, obj in zip(paths, found, strict=True)
        }

    def _batch_objects(self, request: bytes, count: int) -> list[tuple[bytes, bytes, int] | None]:
        """The answers of `git cat-file --batch` to `count` requests, in order: (type,
        content, length of an object id in bytes) or None for an object not there."""
        out = self.run("cat-file", "--batch", input=request).stdout
        result: list[tuple[bytes, bytes, int] | None] = []
        pos = 0
        for _ in range(count):
            end = out.index(b"\n", pos)
            header = out[pos:end].split(b" ")
            pos = end + 1
            # "<id> <type> <size>" for an object; "<request> missing" (or "ambiguous")
            # otherwise, where the request is a path that may itself hold spaces and
            # words such as "tree": only a size in the last field makes it an object.
            if (
                len(header) == 3
                and header[1] in (b"blob", b"tree", b"commit", b"tag")
                and header[2].isdigit()
            ):
                size = int(header[2])
                result.append((header[1], out[pos : pos + size], len(header[0]) // 2))
                pos += size + 1
            else:
                result.append(None)
        return result

    def write_blob(self, oid: str, dest: Path) -> Callable[[], None]:
        """Start streaming the blob `oid` into the file `dest` (cml-py's own temporary
        file) without holding it in memory; returns the function that waits for it.
        Inflating a large blob takes git a while: the caller reads the PR's side
        meanwhile, on the other core."""
        out = dest.open("wb")
        try:
            proc = subprocess.Popen(
                ["git", "cat-file", "blob", oid],
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.PIPE,
                env=self._env,
            )
        except FileNotFoundError:
            out.close()
            raise CmlError("git is not installed or not on PATH; cml-py needs it") from None

        def finish() -> None:
            _, err = proc.communicate()
            out.close()
            if proc.returncode != 0:
                detail = err.decode("utf-8", "replace").strip().splitlines()
                raise GitError(f"git cat-file failed: {detail[-1] if detail else proc.returncode}")

        return finish
