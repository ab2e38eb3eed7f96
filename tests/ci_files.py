"""The CI files cml-py ships and the ones `cml-py init` writes, for the tests that check
them: the lint tests (test_ci_lint.py) and the security-property tests
(test_init_and_ci_files.py) look at exactly the same set, so a new workflow, action or
template cannot escape either."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PR_TEMPLATE = TEMPLATES / "init" / "github-cml-py.yml"
PUBLISH_TEMPLATE = TEMPLATES / "init" / "github-cml-py-publish.yml"
SINGLE_TEMPLATE = TEMPLATES / "init" / "github-single-workflow.yml"
GITLAB_TEMPLATE = TEMPLATES / "gitlab" / "cml-py.gitlab-ci.yml"
REPORT_ACTION = ROOT / "actions" / "report" / "action.yml"
PUBLISH_ACTION = ROOT / "actions" / "publish" / "action.yml"

# Every action cml-py's files use, pinned to the commit its release tag points to.
# Verified against each repository's tags (`git rev-parse vX.Y.Z^{commit}` in a clone of
# github.com/actions/<name>); change a pin only the same way, never by guessing.
PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "pypa/gh-action-pypi-publish": ("81e9d935c883d0b210363ab89cf05f3894778450", "v1.8.14"),
}


def shipped_workflows() -> list[Path]:
    """The workflow templates `init` copies into users' repositories."""
    return sorted((TEMPLATES / "init").glob("github-*.yml"))


def repository_workflows() -> list[Path]:
    """cml-py's own workflows (the release): linted and pinned like the shipped ones."""
    return sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))


def shipped_actions() -> list[Path]:
    return sorted((ROOT / "actions").glob("*/action.y*ml"))


def shipped_gitlab() -> list[Path]:
    return sorted((TEMPLATES / "gitlab").glob("*.yml"))


@dataclass(frozen=True)
class Written:
    """What `cml-py init` wrote in temporary repositories, per setup."""

    split: dict[str, Path]  # --github: repository path -> file
    single: dict[str, Path]  # --github --single-workflow
    gitlab: dict[str, Path]  # --gitlab

    def workflows(self) -> list[Path]:
        return [
            path
            for files in (self.split, self.single)
            for rel, path in files.items()
            if rel.startswith(".github/workflows/")
        ]

    def gitlab_files(self) -> list[Path]:
        return [path for rel, path in self.gitlab.items() if rel.endswith(".yml")]


def clean_env() -> dict[str, str]:
    """The environment without any CI or forge variable, as the autouse fixture makes it."""
    prefixes = ("GITHUB_", "GITLAB_", "CI_", "CML_PY_", "RUNNER_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k not in ("CI",)}


def run_init(base: Path) -> Written:
    """Run the real `cml-py init` (a child process, as a user would) in three fresh git
    repositories and collect every file it wrote."""
    written = {}
    for setup, flags in (
        ("split", ["--github"]),
        ("single", ["--github", "--single-workflow"]),
        ("gitlab", ["--gitlab"]),
    ):
        repo = base / setup
        repo.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
        proc = subprocess.run(
            [sys.executable, "-m", "cml_py", "init", *flags],
            cwd=repo,
            capture_output=True,
            text=True,
            env=clean_env(),
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        written[setup] = {
            path.relative_to(repo).as_posix(): path
            for path in sorted(repo.rglob("*"))
            if path.is_file() and ".git" not in path.relative_to(repo).parts[:1]
        }
    return Written(**written)


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def on_of(workflow: dict) -> dict:
    """The `on:` mapping (PyYAML reads the bare key `on` as the boolean True)."""
    value = workflow.get("on", workflow.get(True))
    if isinstance(value, str):
        return {value: None}
    if isinstance(value, list):
        return dict.fromkeys(value)
    return value


def steps_of(document: dict) -> list[tuple[str, int, dict]]:
    """(job id, index, step) for every step of a workflow, or of a composite action (job
    id '')."""
    if "runs" in document:
        return [("", i, step) for i, step in enumerate(document["runs"].get("steps", []))]
    return [
        (job_id, i, step)
        for job_id, job in document["jobs"].items()
        for i, step in enumerate(job["steps"])
    ]
