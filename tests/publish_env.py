"""CI environments for publishing tests: GitHub Actions and GitLab CI, pointed at the
local fakes, with real webhook payloads as GitHub's event file."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.openapi import webhook_examples

PNG = Path(__file__).parent / "golden" / "chart.png"
HEAD_SHA = "c0ffee" + "0" * 34


def pull_request_payload(number: int = 7, *, fork: bool = False) -> dict[str, Any]:
    """A real `pull_request` payload (npm @octokit/webhooks-examples), renumbered."""
    payload = copy.deepcopy(webhook_examples("pull_request")[0])
    payload["number"] = number
    payload["pull_request"]["number"] = number
    payload["pull_request"]["head"]["sha"] = HEAD_SHA
    if fork:
        payload["pull_request"]["head"]["repo"]["full_name"] = "stranger/models"
    return payload


def github_actions(
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeGitHub,
    tmp_path: Path,
    *,
    token: str,
    event: str = "pull_request",
    payload: dict[str, Any] | None = None,
) -> dict[str, Path]:
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(payload if payload is not None else pull_request_payload()))
    files = {"summary": tmp_path / "step_summary.md", "output": tmp_path / "github_output.txt"}
    for key, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": f"{fake.owner}/{fake.repo}",
        "GITHUB_API_URL": fake.api_url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_SHA": "d" * 40,
        "GITHUB_RUN_ID": "4242",
        "GITHUB_TOKEN": token,
        "GITHUB_STEP_SUMMARY": str(files["summary"]),
        "GITHUB_OUTPUT": str(files["output"]),
        "CML_PY_WRITE_INTERVAL": "0",
    }.items():
        monkeypatch.setenv(key, value)
    return files


def gitlab_ci(
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeGitLab,
    *,
    token: str,
    token_variable: str = "GITLAB_TOKEN",
    mr: int | None = 7,
) -> None:
    values = {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": fake.api_url,
        "CI_SERVER_URL": f"{fake.base_url}{fake.prefix}",
        "CI_PROJECT_ID": str(fake.project_id),
        "CI_PROJECT_PATH": fake.project_path,
        "CI_COMMIT_SHA": HEAD_SHA,
        "CI_JOB_URL": "https://gitlab.example/ml/models/-/jobs/99",
        "CI_PIPELINE_SOURCE": "merge_request_event" if mr else "push",
        token_variable: token,
    }
    if mr:
        values["CI_MERGE_REQUEST_IID"] = str(mr)
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def report_with_images(directory: Path, *, rows: int = 3, report_id: str = "default") -> Path:
    """A report linking one markdown image and one <img> inside <details>."""
    charts = directory / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PNG, charts / "metric_changes.png")
    shutil.copyfile(PNG, charts / "roc pr.png")
    (charts / "roc pr.md").write_text(
        "| Side | ROC AUC |\n|:--|--:|\n| main | 0.9 |\n| this PR | 0.95 |\n"
    )
    table = "\n".join(f"| metric_{i} | 0.{i} | 0.{i + 1} |" for i in range(rows))
    path = directory / "report.md"
    path.write_text(
        f"<!-- cml-py report id={report_id} -->\n### ✅ cml-py: gate passed\n\n"
        f"| Metric | main | this PR |\n|:--|--:|--:|\n{table}\n\n"
        "![Metric changes](charts/metric_changes.png)\n\n"
        "<details><summary>More charts</summary>\n\n"
        '<img src="charts/roc%20pr.png" alt="ROC" width="800">\n\n</details>\n'
    )
    return path
