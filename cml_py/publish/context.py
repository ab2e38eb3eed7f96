"""The CI context — which forge, repository, PR/MR, commit and token — from the
environment, with explicit CML_PY_* variables (and flags) overriding every value.

For GitHub `pull_request` and `pull_request_target` events the commit is the PR's *head*
(from the event payload), never the merge commit GITHUB_SHA points at; for GitLab
merged-results pipelines it is CI_MERGE_REQUEST_SOURCE_BRANCH_SHA, not the merge result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cml_py import redact
from cml_py.errors import CmlError

PR_EVENTS = ("pull_request", "pull_request_target")


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


def _event_payload(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CmlError(f"GITHUB_EVENT_PATH: cannot read the event payload {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


def github_event_details(event_name: str | None, payload: Mapping[str, Any]) -> dict[str, Any]:
    """PR number, head sha and fork-ness from a GitHub event payload."""
    if event_name not in PR_EVENTS:
        return {}
    pr = payload.get("pull_request") or {}
    head = pr.get("head") or {}
    base = pr.get("base") or {}
    head_repo = (head.get("repo") or {}).get("full_name")
    base_repo = (base.get("repo") or {}).get("full_name")
    number = pr.get("number") or payload.get("number")
    return {
        "pr_number": int(number) if number else None,
        "head_sha": head.get("sha"),
        "is_fork": bool(base_repo) and head_repo != base_repo,
    }


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
        token_names = ("CML_PY_TOKEN", "GITHUB_TOKEN")
    elif forge == "gitlab":
        iid = env.get("CI_MERGE_REQUEST_IID")
        values.update(
            api_url=(env.get("CI_API_V4_URL") or "").rstrip("/") or None,
            server_url=(env.get("CI_SERVER_URL") or "").rstrip("/") or None,
            repository=env.get("CI_PROJECT_PATH"),
            project_id=env.get("CI_PROJECT_ID"),
            pr_number=int(iid) if iid and iid.isdigit() else None,
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
            if any(ch.isspace() for ch in token):
                raise CmlError(f"{name}: the token contains whitespace; check the secret's value")
            values.update(token=token, token_source=name)
            break
    for key, variable in (
        ("api_url", "CML_PY_API_URL"),
        ("server_url", "CML_PY_SERVER_URL"),
        ("repository", "CML_PY_REPOSITORY"),
        ("project_id", "CML_PY_PROJECT_ID"),
        ("head_sha", "CML_PY_SHA"),
        ("pr_number", "CML_PY_PR"),
    ):
        if env.get(variable):
            if key == "pr_number" and not env[variable].isdigit():
                raise CmlError(f"{variable}: expected a PR/MR number, got {env[variable]!r}")
            values[key] = int(env[variable]) if key == "pr_number" else env[variable]
    values.update({k: v for k, v in overrides.items() if k != "forge"})
    redact.register(values.get("token"))
    for key in ("api_url", "server_url"):
        url = values.get(key)
        if url and not url.startswith(("http://", "https://")):
            raise CmlError(f"{key}: expected an http(s):// URL, got {url!r}")
    return CiContext(**values)
