"""The CI context — which forge, repository, PR/MR, commit and token — from the
environment, with explicit CML_PY_* variables (and flags) overriding every value.

For GitHub `pull_request` and `pull_request_target` events the commit is the PR's *head*
(from the event payload), never the merge commit GITHUB_SHA points at; for GitLab
merged-results pipelines it is CI_MERGE_REQUEST_SOURCE_BRANCH_SHA, not the merge result.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cml_py import limits as lim
from cml_py import redact
from cml_py.errors import CmlError

PR_EVENTS = ("pull_request", "pull_request_target")
PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)
_SHA = re.compile(r"[0-9A-Fa-f]{7,64}\Z")  # a commit id (abbreviated or full); never a path
MAX_PR_NUMBER = 2**31 - 1  # GitHub's and GitLab's issue numbers are 32-bit integers
_NUMBER = re.compile(r"[0-9]{1,10}\Z")  # ASCII only: str.isdigit() also accepts "²"
_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class CiContext:
    forge: str | None  # "github", "gitlab", or None (local)
    api_url: str | None = None
    server_url: str | None = None
    repository: str | None = None  # GitHub owner/name; GitLab project path
    project_id: str | None = None  # GitLab
    pr_number: int | None = None  # PR number or MR iid
    head_sha: str | None = None
    event_name: str | None = None
    run_url: str | None = None
    token: str | None = field(default=None, repr=False)
    token_source: str | None = None
    is_fork: bool = False
    step_summary: Path | None = None
    output_file: Path | None = None
    github_actions: bool = False
    comment_author: str | None = None  # CML_PY_COMMENT_AUTHOR: whose comments are ours
    # GitLab: the project the merge request belongs to, and its path. A fork's merge
    # request pipeline runs in the fork (CI_PROJECT_ID), but the MR, its notes and their
    # uploads are the target project's. None: the pipeline's project.
    mr_project_id: str | None = None
    mr_repository: str | None = None


def _event_payload(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    where = f"GITHUB_EVENT_PATH ({path})"
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            # A pipe would block the step until a writer comes; /dev/zero never ends.
            raise CmlError(
                f"{where}: expected the runner's event payload file, not a "
                "directory, pipe or device"
            )
        lim.check_size(where, info.st_size, lim.active())
        data = json.loads(Path(path).read_text(encoding="utf-8"), parse_int=_event_int)
    except FileNotFoundError:
        return {}
    except RecursionError:
        raise CmlError(f"{where}: the event payload is nested too deeply") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise CmlError(f"{where}: cannot read the event payload: {reason}") from None
    if not isinstance(data, dict):
        raise CmlError(f"{where}: expected a JSON object, got {_kind(data)}")
    return data


def parse_pr_number(text: str) -> int | None:
    """A PR/MR number as the forge gives it (1 to 2^31-1, ASCII digits), else None."""
    if not _NUMBER.match(text):
        return None
    number = int(text)
    return number if 0 < number <= MAX_PR_NUMBER else None


def _event_int(digits: str) -> int:
    """JSON integers of the payload; one of thousands of digits (Python refuses to
    convert it, with advice about sys.set_int_max_str_digits) is simply not valid here."""
    if len(digits) > 20:
        raise ValueError(f"an integer of {len(digits):,} digits")
    return int(digits)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _field(data: Mapping[str, Any], path: tuple[str, ...], kind: type | tuple[type, ...]) -> Any:
    """`data[path...]` checked against `kind` (absent or null: None); a wrong type is bad
    input naming the key, never a crash further down."""
    value: Any = data
    for i, key in enumerate(path):
        if value is None:
            return None
        if not isinstance(value, dict):
            where = ".".join(path[:i]) or "the payload"
            raise CmlError(f"GITHUB_EVENT_PATH: {where}: expected an object, got {_kind(value)}")
        value = value.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        names: dict[Any, str] = {dict: "an object", list: "a list", str: "a string"}
        expected = names.get(kind, "an integer")
        raise CmlError(
            f"GITHUB_EVENT_PATH: {'.'.join(path)}: expected {expected}, got {_kind(value)}"
        )
    return value


def github_event_details(event_name: str | None, payload: Mapping[str, Any]) -> dict[str, Any]:
    """PR number, head sha and fork-ness from a GitHub event payload, type-checked."""
    if event_name not in PR_EVENTS:
        return {}
    pr = "pull_request"
    _field(payload, (pr,), dict)
    number = _field(payload, (pr, "number"), int) or _field(payload, ("number",), int)
    if number is not None and not 0 < number <= MAX_PR_NUMBER:
        raise CmlError(
            f"GITHUB_EVENT_PATH: {pr}.number: expected a positive integer up to "
            f"{MAX_PR_NUMBER:,}, got {number}"
        )
    head_sha = _field(payload, (pr, "head", "sha"), str)
    if head_sha is not None and not _SHA.match(head_sha):
        raise CmlError(
            f"GITHUB_EVENT_PATH: {pr}.head.sha: expected a commit sha, got {head_sha!r:.60}"
        )
    head_repo = _field(payload, (pr, "head", "repo", "full_name"), str)
    base_repo = _field(payload, (pr, "base", "repo", "full_name"), str)
    return {
        "pr_number": number,
        "head_sha": head_sha,
        "is_fork": bool(base_repo) and head_repo != base_repo,
    }


def check_token(name: str, token: str) -> None:
    """A token goes into an HTTP header: only visible ASCII can. The message never shows
    the token, only where the offending character is."""
    for position, ch in enumerate(token, start=1):
        if not "!" <= ch <= "~":
            what = (
                "whitespace"
                if ch.isspace()
                else "a character that cannot be sent in an HTTP header"
            )
            raise CmlError(
                f"{name}: the token contains {what} (character {position} of {len(token)}); "
                "check the secret's value"
            )


def check_url(name: str, url: str, *, schemes: tuple[str, ...]) -> None:
    """A URL from the environment must parse, with a host and a numeric port; the message
    shows it with any credentials masked."""
    shown = redact.redact_url(url)
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        port = parts.port
    except ValueError as exc:
        raise CmlError(f"{name}: not a valid URL ({exc}): {shown}") from None
    if parts.scheme.lower() not in schemes:
        raise CmlError(f"{name}: expected a {'/'.join(schemes)} URL, got {shown}")
    if not parts.hostname or (port is not None and not 0 < port < 65536):
        raise CmlError(f"{name}: expected a URL with a host name, got {shown}")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise CmlError(f"{name}: the URL contains whitespace or control characters: {shown!r}")


def check_proxies(env: Mapping[str, str]) -> None:
    """Proxy variables as requests will read them: their credentials are secrets from now
    on, and a malformed one is bad input naming the variable (not a crash inside urllib3
    whose message prints the password)."""
    for name in PROXY_VARIABLES:
        value = env.get(name, "").strip()
        if not value:
            continue
        redact.register_url(value)
        check_url(name, value, schemes=("http", "https", "socks4", "socks4a", "socks5", "socks5h"))


def detect(env: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> CiContext:
    """Read the context; `overrides` (from flags) and CML_PY_* variables win."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    forge = (
        overrides.get("forge")
        or env.get("CML_PY_FORGE")
        or (
            "github"
            if env.get("GITHUB_ACTIONS") == "true"
            else "gitlab"
            if env.get("GITLAB_CI") == "true"
            else None
        )
    )
    if forge not in (None, "github", "gitlab", "local"):
        raise CmlError(f"CML_PY_FORGE: expected github, gitlab or local, got {forge!r}")
    values: dict[str, Any] = {"forge": None if forge == "local" else forge}
    if forge == "github":
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repository = env.get("GITHUB_REPOSITORY")
        event_name = env.get("GITHUB_EVENT_NAME")
        details = github_event_details(event_name, _event_payload(env))
        run_id = env.get("GITHUB_RUN_ID")
        values.update(
            api_url=env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
            server_url=server,
            repository=repository,
            event_name=event_name,
            head_sha=details.get("head_sha") or env.get("GITHUB_SHA"),
            pr_number=details.get("pr_number"),
            is_fork=details.get("is_fork", False),
            run_url=f"{server}/{repository}/actions/runs/{run_id}"
            if run_id and repository
            else None,
            step_summary=Path(env["GITHUB_STEP_SUMMARY"])
            if env.get("GITHUB_STEP_SUMMARY")
            else None,
            output_file=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
            github_actions=env.get("GITHUB_ACTIONS") == "true",
        )
        token_names: tuple[str, ...] = ("CML_PY_TOKEN", "GITHUB_TOKEN")
    elif forge == "gitlab":
        iid = env.get("CI_MERGE_REQUEST_IID")
        values.update(
            api_url=(env.get("CI_API_V4_URL") or "").rstrip("/") or None,
            server_url=(env.get("CI_SERVER_URL") or "").rstrip("/") or None,
            repository=env.get("CI_PROJECT_PATH"),
            project_id=env.get("CI_PROJECT_ID"),
            mr_project_id=env.get("CI_MERGE_REQUEST_PROJECT_ID") if iid else None,
            mr_repository=env.get("CI_MERGE_REQUEST_PROJECT_PATH") if iid else None,
            pr_number=parse_pr_number(iid) if iid else None,
            head_sha=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or env.get("CI_COMMIT_SHA"),
            event_name=env.get("CI_PIPELINE_SOURCE"),
            run_url=env.get("CI_JOB_URL"),
        )
        token_names = ("CML_PY_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN")
    else:
        token_names = ()
    if forge in ("github", "gitlab"):
        from cml_py.tokens import extra_token_variables

        token_names = (*extra_token_variables(), *token_names)  # --token-env comes first
    for name in token_names:
        if env.get(name, "").strip():
            token = env[name].strip()
            redact.register(token)
            redact.register(env[name])
            check_token(name, token)
            values.update(token=token, token_source=name)
            break
    for key, variable in (
        ("api_url", "CML_PY_API_URL"),
        ("server_url", "CML_PY_SERVER_URL"),
        ("repository", "CML_PY_REPOSITORY"),
        ("project_id", "CML_PY_PROJECT_ID"),
        ("head_sha", "CML_PY_SHA"),
        ("pr_number", "CML_PY_PR"),
        ("comment_author", "CML_PY_COMMENT_AUTHOR"),
    ):
        if env.get(variable):
            if key == "pr_number":
                number = parse_pr_number(env[variable])
                if number is None:
                    got = env[variable]
                    raise CmlError(f"{variable}: expected a PR/MR number, got {got!r:.40}")
                values[key] = number
            else:
                values[key] = env[variable]
            if key in ("project_id", "repository"):  # the one project, said explicitly
                values["mr_project_id" if key == "project_id" else "mr_repository"] = None
    values.update({k: v for k, v in overrides.items() if k != "forge"})
    redact.register(values.get("token"))
    if values.get("token"):
        check_token(values.get("token_source") or "token", values["token"])
    for key in ("api_url", "server_url"):
        url = values.get(key)
        if url:
            name = _url_source(key, forge, env, overrides)
            redact.register_url(url)
            if not url.startswith(("http://", "https://")):
                raise CmlError(
                    f"{name}: expected an http(s):// URL, got {redact.redact_url(url)!r}"
                )
            check_url(name, url, schemes=("http", "https"))
    if forge in ("github", "gitlab"):
        check_proxies(env)
    _check_shapes(values)
    return CiContext(**values)


def _url_source(
    key: str, forge: str | None, env: Mapping[str, str], overrides: Mapping[str, Any]
) -> str:
    """Which setting a URL came from, to name it in a message."""
    if key in overrides:
        return f"--{key.replace('_', '-')}"
    variable = {"api_url": "CML_PY_API_URL", "server_url": "CML_PY_SERVER_URL"}[key]
    if env.get(variable):
        return variable
    if forge == "gitlab":
        return {"api_url": "CI_API_V4_URL", "server_url": "CI_SERVER_URL"}[key]
    return {"api_url": "GITHUB_API_URL", "server_url": "GITHUB_SERVER_URL"}[key]


def _check_shapes(values: dict[str, Any]) -> None:
    """Values that end up in API paths must have the shape the forge gives them."""
    number = values.get("pr_number")
    if number is not None and not 0 < number <= MAX_PR_NUMBER:
        raise CmlError(f"the PR/MR number {number} is not between 1 and {MAX_PR_NUMBER:,}")
    sha = values.get("head_sha")
    if sha and not _SHA.match(sha):
        raise CmlError(f"the commit sha {sha!r:.60} is not a commit id (CML_PY_SHA?)")
    repository = values.get("repository")
    dots = repository and {".", ".."} & set(str(repository).split("/"))  # climbs in an API path
    if (
        values.get("forge") == "github"
        and repository
        and (dots or not _GITHUB_REPOSITORY.match(repository))
    ):
        raise CmlError(
            f"GITHUB_REPOSITORY: expected owner/name, got {repository!r:.80} (CML_PY_REPOSITORY?)"
        )
