"""Which commit is "main" for this comparison.

A PR is judged against the commit its branch forked from (the merge-base), not against
the tip of main: numbers that changed on main since then are not this PR's doing. The
base is taken from the first source that names one: the --base flag, the CI's own
variables for the PR/MR, cml.yaml's `base:`, then `main`, then `master`.

The rules that judge the PR are another matter: the PR chooses its fork point, so the
fork point's cml.yaml would let it choose its rules too (branch from a commit before the
gate was tightened, or before main had a cml.yaml at all). Policy is read at the *tip*
of the base branch whenever the base is named as a branch; a commit named as such (a
sha, a tag, `HEAD~3` from --base or cml.yaml) is the workflow's or main's own choice and
is its own policy. GitLab's CI_MERGE_REQUEST_DIFF_BASE_SHA is the merge request's fork
point, computed for it, so its policy is the tip of CI_MERGE_REQUEST_TARGET_BRANCH_NAME.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from cml_py.errors import CmlError
from cml_py.git import Git
from cml_py.model import BaseRef

_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_PLAIN_NAME = re.compile(r"^[^~^:?*\[\\\s]+$")  # what a ref name may hold (git check-ref-format)
_CI_FETCH_HINT = (
    "in GitHub Actions set `fetch-depth: 0` on actions/checkout; in GitLab CI set `GIT_DEPTH: 0`"
)
# What git check-ref-format refuses anywhere in a ref name: control characters, space,
# DEL, ~ ^ : ? * [ and backslash.
_NOT_IN_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
SHALLOW_HINT = (
    "this clone is shallow: in GitHub Actions set `fetch-depth: 0` on actions/checkout; "
    "in GitLab CI set `GIT_DEPTH: 0`; elsewhere run `git fetch --unshallow origin`"
)


@dataclass(frozen=True)
class Resolved:
    """The two commits a run reads main at: `base` for main's numbers (the merge-base),
    `policy` for main's cml.yaml (the tip of the base branch; `base` itself when the
    base was named as a commit)."""

    base: BaseRef
    policy: BaseRef


def requested_base(
    flag: str | None, config_base: str | None, env: Mapping[str, str]
) -> tuple[str, str] | None:
    """The (revision, where it came from) that the user or the CI asked for, if any."""
    if flag:
        return flag, "--base"
    if env.get("GITHUB_BASE_REF"):
        return env["GITHUB_BASE_REF"], "GITHUB_BASE_REF"
    if env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA"):
        return env["CI_MERGE_REQUEST_DIFF_BASE_SHA"], "CI_MERGE_REQUEST_DIFF_BASE_SHA"
    if env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"):
        return env["CI_MERGE_REQUEST_TARGET_BRANCH_NAME"], "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
    if config_base:
        return config_base, "cml.yaml base"
    return None


def policy_branch(
    requested: tuple[str, str] | None, env: Mapping[str, str]
) -> tuple[str, str] | None:
    """The branch whose tip judges when the requested base is a fork point the CI
    computed rather than a branch: GitLab's diff base sha. Without the target branch's
    name there is no safe choice (the fork point is the PR's to choose), so it is an
    error rather than a fall back to the fork point's rules."""
    if requested is None or requested[1] != "CI_MERGE_REQUEST_DIFF_BASE_SHA":
        return None
    target = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
    if not target:
        raise CmlError(
            "CI_MERGE_REQUEST_DIFF_BASE_SHA is set but CI_MERGE_REQUEST_TARGET_BRANCH_NAME "
            "is not: main's numbers are read at the diff base, but the rules come from the "
            "tip of the target branch, never from the merge request's fork point; set both "
            "(GitLab does in merge request pipelines) or pass --base BRANCH"
        )
    return target, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"


def resolve(
    git: Git, requested: tuple[str, str] | None, head: str | None, env: Mapping[str, str]
) -> Resolved:
    """The base for main's numbers and the commit for main's rules: the base's own
    branch tip, or the branch policy_branch names when the base is a commit the CI
    computed. The base is resolved first, so a clone without it says so first."""
    base, policy = _resolve_pair(git, requested, head)
    policy_from = policy_branch(requested, env)
    if policy_from is not None:
        name, source = policy_from
        tip = _branch_tip(git, name)
        if tip is None:
            raise CmlError(
                f"base branch {name!r} (from {source}) not found in this clone: its cml.yaml "
                "at the tip holds the rules that judge this merge request; " + fetch_hint(name)
            )
        policy = tip
    return Resolved(base, policy)


def resolve_base(git: Git, requested: tuple[str, str] | None, head: str | None) -> BaseRef:
    """Turn the requested base (or main/master) into a commit, with a how-to on failure.
    `head` is HEAD's commit, None before the first commit."""
    return _resolve_pair(git, requested, head)[0]


def _resolve_pair(
    git: Git, requested: tuple[str, str] | None, head: str | None
) -> tuple[BaseRef, BaseRef]:
    """(base, policy) for the requested base or main/master; see resolve_base."""
    if head is None:
        raise CmlError("HEAD has no commit yet: commit your work before comparing with a base")
    if requested is not None:
        rev, source = requested
        found = _resolve_one(git, rev, source, head)
        if found is None:
            raise CmlError(
                f"base {rev!r} (from {source}) not found in this clone; " + fetch_hint(rev)
            )
        return found
    for name in ("main", "master"):
        found = _resolve_one(git, name, "default", head)
        if found is not None:
            return found
    raise CmlError(
        "no base branch found: neither 'main' nor 'master' exists here or on origin; "
        "pass --base REV or set `base:` in cml.yaml, or " + fetch_hint("main")
    )


def fetch_hint(name: str) -> str:
    """How to bring the base into the clone. The name comes from a flag, the CI or
    cml.yaml and the command is meant to be pasted, so `git fetch origin NAME` is
    suggested only for a name that can be a branch — which `git fetch` cannot take for
    an option (`--output=x`) or a refspec (`main:metrics.json` would create a branch
    named metrics.json) — and shell-quoted even then."""
    if _could_be_branch(name):
        return f"{_CI_FETCH_HINT}; elsewhere run `git fetch origin {shlex.quote(name)}`"
    return f"{_CI_FETCH_HINT}; elsewhere fetch the branch it is on from your remote"


def _could_be_branch(name: str) -> bool:
    """git check-ref-format's rules for a branch name, and no leading '-' (an option)
    or '+' (a forced refspec)."""
    return not (
        not name
        or name == "@"
        or name.startswith(("-", "+", "/"))
        or name.endswith(("/", ".", ".lock"))
        or any(bad in name for bad in ("..", "//", "@{"))
        or _NOT_IN_REF.search(name)
        or any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
    )


def _resolve_one(git: Git, rev: str, source: str, head: str) -> tuple[BaseRef, BaseRef] | None:
    """A branch (`rev` or `origin/rev`) gives its merge-base with HEAD, and its tip for
    the rules; anything else that names a commit (a sha, a tag, `HEAD~3`) is taken as it
    is, for both."""
    for ref, shown in _branch_refs(rev):
        exists, sha = git.fork_point(ref, head)
        if not exists:
            continue
        if sha is None:
            if git.is_shallow():
                raise CmlError(f"cannot find where HEAD forked from {shown}: " + SHALLOW_HINT)
            raise CmlError(
                f"HEAD and {shown} share no history, so there is no base to compare with"
            )
        base = BaseRef(name=rev, sha=sha, how=f"merge-base of HEAD and {shown}")
        tip = git.commit_sha(ref)
        if tip is None:  # the ref went away between two git calls
            raise CmlError(f"{shown} does not name a commit any more; run cml-py again")
        return base, BaseRef(name=rev, sha=tip, how=f"tip of {shown}")
    sha = git.commit_sha(rev)
    if sha is None:
        if _SHA.match(rev) and git.is_shallow():
            raise CmlError(
                f"base commit {rev} (from {source}) is not in this clone; " + SHALLOW_HINT
            )
        return None
    base = BaseRef(name=rev, sha=sha, how=f"commit {rev} (from {source})")
    return base, base


def _branch_tip(git: Git, name: str) -> BaseRef | None:
    """The tip of branch `name` (or `origin/name`), looked up as _resolve_one does."""
    for ref, shown in _branch_refs(name):
        sha = git.commit_sha(ref)
        if sha is not None:
            return BaseRef(name=name, sha=sha, how=f"tip of {shown}")
    return None


def _branch_refs(name: str) -> list[tuple[str, str]]:
    """The full ref names a branch called `name` may have, in the order they are tried,
    each with the name the report shows; none for a sha (a branch is never looked up
    by forty hex digits)."""
    if not _PLAIN_NAME.match(name) or ".." in name or "@{" in name:
        return []  # revision syntax (main~1, HEAD^, v1^{commit}): a commit, not a branch
    if name.startswith(("refs/heads/", "refs/remotes/")):
        return [(name, name)]
    if name.startswith("refs/") or _FULL_SHA.match(name):
        return []
    refs = [(f"refs/heads/{name}", name), (f"refs/remotes/origin/{name}", f"origin/{name}")]
    if name.startswith("origin/"):
        refs.append((f"refs/remotes/{name}", name))
    return refs
