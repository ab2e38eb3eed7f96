"""Which commit is "main" for this comparison.

A PR is judged against the commit its branch forked from (the merge-base), not against
the tip of main: numbers that changed on main since then are not this PR's doing. The
base is taken from the first source that names one: the --base flag, the CI's own
variables for the PR/MR, cml.yaml's `base:`, then `main`, then `master`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

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


def resolve_base(git: Git, requested: tuple[str, str] | None, head: str | None) -> BaseRef:
    """Turn the requested base (or main/master) into a commit, with a how-to on failure.
    `head` is HEAD's commit, None before the first commit."""
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


def _resolve_one(git: Git, rev: str, source: str, head: str) -> BaseRef | None:
    """A branch (`rev` or `origin/rev`) gives its merge-base with HEAD; anything else
    that names a commit (a sha, a tag, `HEAD~3`) is taken as it is."""
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
        return BaseRef(name=rev, sha=sha, how=f"merge-base of HEAD and {shown}")
    sha = git.commit_sha(rev)
    if sha is None:
        if _SHA.match(rev) and git.is_shallow():
            raise CmlError(
                f"base commit {rev} (from {source}) is not in this clone; " + SHALLOW_HINT
            )
        return None
    return BaseRef(name=rev, sha=sha, how=f"commit {rev} (from {source})")


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
