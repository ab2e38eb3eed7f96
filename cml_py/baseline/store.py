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
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from cml_py import limits as lim
from cml_py.errors import CmlError, ServiceError
from cml_py.git import Git, GitError

REF = "refs/cml-py/baselines"
RECORD = "record.json"
SEARCH_DEPTH = 500
REMOTE_SECONDS = 300
REMOTE_SECONDS_VARIABLE = "CML_PY_GIT_REMOTE_SECONDS"
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
    return _basic_auth_header("http.extraHeader", "oauth2", token)


def github_auth(git: Git, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Git configuration (as environment) that lets a GitHub Actions job fetch and push
    the records with the token cml-py was given: a private repository answers a
    checkout with `persist-credentials: false` — as cml-py's workflows check out — only
    with one. The header goes to the GitHub server alone, and is left out when the
    checkout kept its own (two Authorization headers are refused). Empty elsewhere."""
    env = os.environ if env is None else env
    token = (env.get("CML_PY_TOKEN") or env.get("GITHUB_TOKEN") or "").strip()
    if env.get("GITHUB_ACTIONS") != "true" or not token:
        return {}
    server = env.get("GITHUB_SERVER_URL", "https://github.com").strip().rstrip("/")
    kept = git.run("config", "--get-regexp", r"^http\..*\.extraheader$", check=False)
    if kept.stdout.strip():
        return {}
    return _basic_auth_header(f"http.{server}/.extraheader", "x-access-token", token)


def _basic_auth_header(key: str, user: str, token: str) -> dict[str, str]:
    """Git's config `key` set to a Basic Authorization header, as environment (never as
    arguments, which `ps` shows); the token and its encoding are masked in every output."""
    from cml_py import redact

    redact.register(token)
    basic = base64.b64encode(f"{user}:{token}".encode()).decode("ascii")
    redact.register(basic)
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": key,
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }


def remote_seconds(env: Mapping[str, str] | None = None) -> int:
    """How long one fetch or push of the records may take: a remote that accepts the
    connection and then never answers would otherwise hold the job until the CI's own
    timeout (six hours on GitHub). Read from the environment, never from cml.yaml."""
    env = os.environ if env is None else env
    raw = env.get(REMOTE_SECONDS_VARIABLE, "").strip()
    if not raw:
        return REMOTE_SECONDS
    if not (raw.isascii() and raw.isdigit()) or int(raw) <= 0 or len(raw) > 9:
        raise CmlError(f"{REMOTE_SECONDS_VARIABLE}: expected a positive whole number, got {raw!r}")
    return int(raw)


def _remote(git: Git, remote: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`git fetch|push` to `remote`, given at most remote_seconds(); the git process is
    killed when the time is up (subprocess.run kills its child on any exception)."""
    seconds = remote_seconds()

    def expired() -> CmlError:
        return ServiceError(
            f"cannot {args[0]} {REF} {'to' if args[0] == 'push' else 'from'} {remote}: no "
            f"answer within {seconds} s (set {REMOTE_SECONDS_VARIABLE} to wait longer)"
        )

    with lim.time_budget(seconds, expired):
        auth = push_auth() or github_auth(git)
        # with a token, no hooks: one the PR's code left in .git/hooks (reference-
        # transaction runs on a fetch, pre-push on a push) would see its header
        hooks = ("-c", f"core.hooksPath={os.devnull}") if auth else ()
        return git.run(*hooks, *args, check=False, env=auth)


def fetch(git: Git, remote: str, *, attempts: int = 3) -> bool:
    """Bring the remote's records here; False when the remote has none yet. A failure is
    retried (fetching is always safe to repeat), a remote that does not answer is not."""
    for attempt in range(1, attempts + 1):
        proc = _remote(git, remote, "fetch", "--quiet", "--no-tags", remote, f"+{REF}:{REF}")
        if proc.returncode == 0:
            return True
        message = proc.stderr.decode("utf-8", "replace")
        if "couldn't find remote ref" in message or "could not find remote ref" in message.lower():
            return False
        if attempt < attempts:
            time.sleep(random.uniform(0.5, 1.0) * attempt)
    raise ServiceError(f"cannot fetch {REF} from {remote}: {_reason(message)}")


def tip(git: Git) -> str | None:
    return git.commit_sha(REF)


def _exists(git: Git) -> bool:
    """Whether the ref is there at all (tip() is None for a ref to a blob or tree)."""
    return git.run("rev-parse", "--verify", "--quiet", REF, check=False).returncode == 0


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
        if parent is None and _exists(git):
            where, fix = (
                (f"{remote}'s {REF}", f"git push {remote} :{REF}")
                if pushing
                else (REF, f"git update-ref -d {REF}")
            )
            raise ServiceError(
                f"{where} does not point at a commit of records (not cml-py's); delete it "
                f"to start the records again: {fix}"
            )
        commit = _commit_record(git, parent, sha, content)
        # The ref moves only from the tip the record was built on: another save in this
        # clone that moved it first is a race like a rejected push, merged the same way
        # (a new ref is created only where there is none: the zero id as the old value).
        old = parent or "0" * len(commit)
        moved = git.run("update-ref", REF, commit, old, check=False)
        if moved.returncode != 0:
            message = moved.stderr.decode("utf-8", "replace")
            if "cannot lock ref" not in message:
                raise GitError(f"git update-ref failed: {_last_line(message)}")
            echo(f"another save in this clone moved {REF}; merging (attempt {attempt})")
            time.sleep(random.uniform(0.1, 0.5) * attempt)
            continue
        if not pushing:
            echo(f"recorded {sha[:12]} in {REF} (no remote {remote!r}: not pushed)")
            return commit
        proc = _remote(git, remote, "push", "--porcelain", remote, f"{REF}:{REF}")
        if proc.returncode == 0:
            echo(f"recorded {sha[:12]} in {REF} and pushed it to {remote}")
            return commit
        message = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        raced = ("fetch first", "non-fast-forward", "cannot lock ref", "incorrect old value")
        if not any(reason in message for reason in raced):
            raise ServiceError(f"cannot push {REF} to {remote}: {_reason(message)}")
        echo(f"another job saved a record at the same time; merging (attempt {attempt})")
        time.sleep(random.uniform(0.1, 0.5) * attempt)
    where = f"push {REF} to {remote}" if pushing else f"record {sha[:12]} in {REF}"
    raise ServiceError(f"could not {where}: other jobs kept saving records ({attempts} attempts)")


def _reason(message: str) -> str:
    """The rejected ref's own line (`[remote rejected] … (pre-receive hook declined)`),
    else git's first `fatal:` line: the last one is often the tail of a hint ("and the
    repository exists.")."""
    for line in message.splitlines():
        if "rejected" in line or "error" in line.lower():
            return line.strip()
    for line in message.splitlines():
        if line.startswith("fatal:"):
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
        paths = list(dict.fromkeys(paths))
        self._check_sizes(paths)
        data = self.git.read_files(self.commit, [self.prefix + p for p in paths])
        return {p: data.get(self.prefix + p) for p in paths}

    def _check_sizes(self, paths: list[str]) -> None:
        """Refuse a recorded file over the largest limit before git hands it over whole:
        a record is whatever was pushed to the ref, and a blob of gigabytes would be read
        into memory before any reader could say it is too large."""
        wanted = [p for p in paths if "\n" not in p]
        if not wanted or not self.commit:
            return
        request = "".join(f"{self.commit}:{self.prefix}{p}\n" for p in wanted)
        out = self.git.run(
            "cat-file", "--batch-check", input=request.encode("utf-8", "surrogateescape")
        ).stdout.splitlines()
        limits = lim.active()
        for path, line in zip(wanted, out, strict=True):
            fields = line.split(b" ")
            if len(fields) == 3 and fields[1] == b"blob" and fields[2].isdigit():
                where = f"{REF}: {self.prefix}{path}"
                lim.check_size(where, int(fields[2]), limits, field="data_bytes")
