"""Objects by content hash: DVC's local cache first, else its remote — always verified.

An object read for main is accepted only when its md5 is the one the base's dvc.lock
records. That makes where it came from irrelevant to its integrity: a pull request that
commits a fake object into `.dvc/cache`, points `cache.dir` somewhere else, or serves a
remote of its own cannot change main's numbers, only make them unavailable.

Fetching from a remote is the only step that needs the `dvc` package. It runs in a child
process (`python -m cml_py.dvc.fetch`) whose environment has no token variables, with
the remote's settings from the base commit's .dvc/config passed on stdin; the objects
it downloads go into the local cache, so `diff`, `gate` and `report` in the same job
fetch them once.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cml_py.dvc.project import OutHash
from cml_py.errors import CmlError, ServiceError
from cml_py.fsio import write_atomic
from cml_py.tokens import child_env

FETCH_TIMEOUT_SECONDS = 600


def object_parts(h: OutHash) -> tuple[str, ...]:
    """Where an object lives under a cache or remote root (DVC 3 and DVC 2 layouts)."""
    digest = h.md5
    return (digest[:2], digest[2:]) if h.legacy else ("files", "md5", digest[:2], digest[2:])


def verified(h: OutHash, data: bytes) -> bool:
    """True when `data` is the object `h` names. DVC 2 hashed text with CRLF → LF."""
    expected = h.md5.removesuffix(".dir")
    if hashlib.md5(data, usedforsecurity=False).hexdigest() == expected:
        return True
    return h.legacy and (
        hashlib.md5(data.replace(b"\r\n", b"\n"), usedforsecurity=False).hexdigest() == expected
    )


class ObjectTooLarge(CmlError):
    """An object over the reader's size limit, refused before it is read into memory: a
    dataset DVC tracks may be gigabytes. `size` is None when a remote's object was cut
    off at the limit (its full size was never read)."""

    def __init__(self, name: str, size: int | None, limit: int) -> None:
        shown = f"{size:,} bytes" if size is not None else "more"
        super().__init__(f"{name}: main's version is {shown}, over the limit of {limit:,} bytes")
        self.name, self.size, self.limit = name, size, limit


@dataclass(frozen=True)
class Remote:
    """A DVC remote as the base's .dvc/config defines it (options as DVC reads them)."""

    name: str
    options: Mapping[str, str]
    config: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # every remote

    @property
    def url(self) -> str:
        return self.options.get("url", "")


@dataclass
class ObjectStore:
    """Reads verified objects; remembers where they came from for the report."""

    cache_dir: Path
    remote: Remote | None
    origins: set[str] = field(default_factory=set)

    def _local(self, h: OutHash, name: str, max_bytes: int | None) -> bytes | None:
        path = self.cache_dir.joinpath(*object_parts(h))
        try:
            if path.is_symlink() or not path.is_file():
                return None
            size = path.stat().st_size
            if max_bytes is not None and size > max_bytes:
                raise ObjectTooLarge(name, size, max_bytes)
            data = path.read_bytes()
        except OSError:
            return None
        return data if verified(h, data) else None

    def read_many(
        self, hashes: Iterable[OutHash], what: Mapping[str, str], max_bytes: int | None = None
    ) -> dict[str, bytes]:
        """Every object's bytes by md5; `what` names each md5's file for messages. An
        object over `max_bytes` is ObjectTooLarge, from the cache or the remote alike."""
        wanted = list({h.md5: h for h in hashes}.values())
        out: dict[str, bytes] = {}
        missing: list[OutHash] = []
        for h in wanted:
            data = self._local(h, what.get(h.md5, h.md5), max_bytes)
            if data is None:
                missing.append(h)
            else:
                out[h.md5] = data
                self.origins.add("the local DVC cache")
        if not missing:
            return out
        names = ", ".join(sorted({what.get(h.md5, h.md5) for h in missing}))
        if self.remote is None:
            raise CmlError(
                f"{names}: main's version is not in the local DVC cache ({self.cache_dir}) and "
                "main's .dvc/config names no default remote: run `dvc pull` for main's "
                "outputs first, or set core.remote (or dvc.remote in cml.yaml)"
            )
        too_large = fetch(self.remote, missing, self.cache_dir, names, max_bytes)
        for h in missing:
            name = what.get(h.md5, h.md5)
            if max_bytes is not None and "/".join(object_parts(h)) in too_large:
                raise ObjectTooLarge(name, None, max_bytes)
            data = self._local(h, name, max_bytes)
            if data is None:
                raise ServiceError(
                    f"{names}: DVC remote {self.remote.name!r} ({self.remote.url}) returned "
                    f"data whose md5 is not {h.md5} (main's dvc.lock); test it with "
                    f"`dvc pull -r {self.remote.name}`"
                )
            out[h.md5] = data
        self.origins.add(f"DVC remote {self.remote.name!r}")
        return out


def fetch(
    remote: Remote,
    hashes: list[OutHash],
    cache_dir: Path,
    names: str,
    max_bytes: int | None = None,
) -> set[str]:
    """Download objects from `remote` into `cache_dir` in a token-free child process;
    the objects it left out for being over `max_bytes` (as `/`-joined cache parts)."""
    request = {
        "remote": remote.name,
        "config": {k: dict(v) for k, v in remote.config.items()},
        "objects": [list(object_parts(h)) for h in hashes],
        "cache_dir": str(cache_dir),
        "max_bytes": max_bytes,
    }
    test = f"test it with `dvc pull -r {remote.name}`"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cml_py.dvc.fetch"],
            input=json.dumps(request).encode(),
            capture_output=True,
            env=child_env(),
            timeout=FETCH_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ServiceError(
            f"DVC remote {remote.name!r} ({remote.url}): no answer in "
            f"{FETCH_TIMEOUT_SECONDS} s while fetching main's {names}; {test}"
        ) from None
    try:
        answer = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    except json.JSONDecodeError:
        answer = {}
    if proc.returncode != 0 or not isinstance(answer, dict):
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ServiceError(
            f"DVC remote {remote.name!r}: fetching main's {names} failed "
            f"({detail[-1] if detail else f'exit code {proc.returncode}'}); {test}"
        )
    if answer.get("needs_dvc"):
        raise CmlError(
            f"main's {names} must be fetched from DVC remote {remote.name!r}, which needs the "
            'dvc package: pip install "cml-py[dvc]" (plus dvc\'s plugin for the remote, '
            "e.g. dvc-s3)"
        )
    if answer.get("refused"):  # where the object would be stored (see store_object)
        raise CmlError(str(answer["refused"]))
    if answer.get("config_error"):
        raise CmlError(f"main's .dvc/config, remote {remote.name!r}: {answer['config_error']}")
    if answer.get("error"):
        raise ServiceError(
            f"DVC remote {remote.name!r} ({remote.url}) cannot be read: {answer['error']}; {test}"
        )
    if answer.get("missing"):
        raise ServiceError(
            f"main's {names} is not in DVC remote {remote.name!r} ({remote.url}) — was "
            f"`dvc push` run on main? {test}"
        )
    too_large = answer.get("too_large", [])
    return {str(part) for part in too_large} if isinstance(too_large, list) else set()


def store_object(cache_dir: Path, parts: list[str], data: bytes) -> None:
    """Put an object into the cache the way DVC does (read-only file).

    Never through a symlink below the cache directory: the default cache lies in the
    working tree, where a PR can commit `files/md5/27 -> /anywhere`, and the object would
    be written there."""
    target = cache_dir.joinpath(*parts)
    folder = cache_dir
    for part in parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            raise CmlError(f"{folder}: a symlink in the DVC cache; cml-py never writes through one")
    write_atomic(target, data)
    os.chmod(target, 0o444)
