"""Stored baselines: `baseline: {strategy: store}`.

On the default branch, `cml-py baseline save` records the run's metrics, params and
chart data for that commit in the repository itself — as files under `<sha>/` in the
commit history of a dedicated ref, `refs/cml-py/baselines` — and pushes it. Nothing is
committed to a branch, nothing touches the working tree (a temporary index is used),
and two main-branch jobs saving at once both survive: a rejected push fetches the
other's record and rebuilds on top of it.

On a pull request, main's numbers are the record of the merge-base, or of its nearest
first-parent ancestor that has one; the records before it give each gated metric's trend.
"""

from __future__ import annotations

import base64
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from cml_py.errors import ServiceError
from cml_py.git import Git

REF = "refs/cml-py/baselines"
RECORD = "record.json"
SEARCH_DEPTH = 500
_IDENTITY = {
    "GIT_AUTHOR_NAME": "cml-py",
    "GIT_AUTHOR_EMAIL": "cml-py@users.noreply.invalid",
    "GIT_COMMITTER_NAME": "cml-py",
    "GIT_COMMITTER_EMAIL": "cml-py@users.noreply.invalid",
}


def has_remote(git: Git, remote: str) -> bool:
    return git.run("remote", "get-url", remote, check=False).returncode == 0


def push_auth(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Git configuration (as environment, never as arguments that `ps` would show) that
    lets a GitLab job push with CML_PY_TOKEN: the checkout's own credentials are the job
    token, which may not push unless the project allows it. Empty elsewhere."""
    env = os.environ if env is None else env
    token = (env.get("CML_PY_TOKEN") or env.get("GITLAB_TOKEN") or "").strip()
    if env.get("GITLAB_CI") != "true" or not token:
        return {}
    from cml_py import redact

    redact.register(token)
    basic = base64.b64encode(f"oauth2:{token}".encode()).decode("ascii")
    redact.register(basic)
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }


def fetch(git: Git, remote: str) -> bool:
    """Bring the remote's records here; False when the remote has none yet."""
    proc = git.run(
        "fetch", "--quiet", "--no-tags", remote, f"+{REF}:{REF}", check=False, env=push_auth()
    )
    if proc.returncode == 0:
        return True
    message = proc.stderr.decode("utf-8", "replace")
    if "couldn't find remote ref" in message or "could not find remote ref" in message.lower():
        return False
    raise ServiceError(f"cannot fetch {REF} from {remote}: {_last_line(message)}")


def tip(git: Git) -> str | None:
    return git.commit_sha(REF)


def save_record(
    git: Git,
    sha: str,
    files: dict[str, bytes],
    *,
    remote: str = "origin",
    attempts: int = 6,
    echo: Callable[[str], None] = lambda _: None,
) -> str:
    """Record `files` for commit `sha` and push; returns the new tip of the ref."""
    pushing = has_remote(git, remote)
    meta = {
        "sha": sha,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": sorted(files),
    }
    content = {**files, RECORD: (json.dumps(meta, indent=2) + "\n").encode()}
    for attempt in range(1, attempts + 1):
        if pushing:
            fetch(git, remote)
        parent = tip(git)
        commit = _commit_record(git, parent, sha, content)
        git.run("update-ref", REF, commit, *([parent] if parent else []))
        if not pushing:
            echo(f"recorded {sha[:12]} in {REF} (no remote {remote!r}: not pushed)")
            return commit
        proc = git.run("push", "--porcelain", remote, f"{REF}:{REF}", check=False, env=push_auth())
        if proc.returncode == 0:
            echo(f"recorded {sha[:12]} in {REF} and pushed it to {remote}")
            return commit
        message = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        raced = ("fetch first", "non-fast-forward", "cannot lock ref", "incorrect old value")
        if not any(reason in message for reason in raced):
            raise ServiceError(f"cannot push {REF} to {remote}: {_reason(message)}")
        echo(f"another job saved a record at the same time; merging (attempt {attempt})")
        time.sleep(random.uniform(0.1, 0.5) * attempt)
    raise ServiceError(
        f"could not push {REF} to {remote}: other jobs kept saving records ({attempts} attempts)"
    )


def _reason(message: str) -> str:
    """The rejected ref's own line (`[remote rejected] … (pre-receive hook declined)`)."""
    for line in message.splitlines():
        if "rejected" in line or "error" in line.lower():
            return line.strip()
    return _last_line(message)


def _last_line(message: str) -> str:
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _commit_record(git: Git, parent: str | None, sha: str, files: dict[str, bytes]) -> str:
    with tempfile.TemporaryDirectory(prefix="cml-py-index-") as tmp:
        env = {**_IDENTITY, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        for key in list(_IDENTITY):
            if os.environ.get(key):
                env[key] = os.environ[key]
        git.run("read-tree", *([parent] if parent else ["--empty"]), env=env)
        git.run("rm", "-r", "--cached", "--quiet", "--ignore-unmatch", f"{sha}/", env=env)
        for path, data in files.items():
            blob = git.run("hash-object", "-w", "--stdin", input=data).stdout.decode().strip()
            git.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{sha}/{path}", env=env)
        tree = git.run("write-tree", env=env).stdout.decode().strip()
        args = ["commit-tree", tree, "-m", f"cml-py baseline for {sha}"]
        if parent:
            args += ["-p", parent]
        return git.run(*args, env=env).stdout.decode().strip()


def recorded(git: Git) -> set[str]:
    top = tip(git)
    if top is None:
        return set()
    out = git.run("ls-tree", "--name-only", top).stdout.decode()
    return {line for line in out.splitlines() if line}


def find_records(git: Git, base_sha: str, *, limit: int) -> list[tuple[str, int]]:
    """(recorded sha, first-parent distance from the base) for the nearest `limit`
    records at or before `base_sha`, nearest first."""
    have = recorded(git)
    if not have:
        return []
    history = (
        git.run("rev-list", "--first-parent", f"--max-count={SEARCH_DEPTH}", base_sha, check=False)
        .stdout.decode()
        .split()
    )
    found = [(sha, distance) for distance, sha in enumerate(history) if sha in have]
    return found[:limit]


class StoredBase:
    """Main's files as recorded for one commit, read from the baselines ref."""

    def __init__(self, git: Git, record_sha: str) -> None:
        self.git = git
        self.commit = tip(git) or ""
        self.prefix = f"{record_sha}/"

    def list_files(self) -> list[str]:
        return [
            p[len(self.prefix) :]
            for p in self.git.list_files(self.commit)
            if p.startswith(self.prefix) and p != self.prefix + RECORD
        ]

    def read_files(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        paths = list(paths)
        data = self.git.read_files(self.commit, [self.prefix + p for p in paths])
        return {p: data.get(self.prefix + p) for p in paths}
