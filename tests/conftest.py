"""Shared fixtures: a clean environment and real temporary git repositories."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_FORGE_PREFIXES = ("GITHUB_", "GITLAB_", "CI_", "CML_PY_", "RUNNER_")
_FORGE_NAMES = ("CI", "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN", "GH_TOKEN")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test can see the CI it runs in, reach a real forge, or read the user's git config."""
    for name in list(os.environ):
        if name.startswith(_FORGE_PREFIXES) or name in _FORGE_NAMES:
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test User")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.invalid")


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


class Repo:
    """A real git repository in a temporary directory, driven the way a user would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", "main")
        git(path, "config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        return git(self.path, *args)

    def write(self, rel: str, content: Any) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, (dict, list)):
            content = json.dumps(content)
        target.write_text(content)
        return target

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str) -> None:
        self.git("checkout", "-q", "-b", name)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


@pytest.fixture
def in_repo(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    monkeypatch.chdir(repo.path)
    yield repo


@pytest.fixture
def github_fake():
    """A fake GitHub on 127.0.0.1; any request or response outside GitHub's OpenAPI
    description fails the test."""
    from tests.fakes.github import FakeGitHub, Token

    fake = FakeGitHub(
        tokens={
            "ghs_installation_token_0123456789": Token(None),
            "ghp_personal_token_0123456789": Token("octocat", app=False),
            "ghs_readonly_token_0123456789": Token(None, permissions=frozenset()),
            "ghs_app_token_0123456789": Token(None, bot="cml-py-app[bot]"),
        }
    )
    with fake.serve():
        yield fake
    assert not fake.spec_errors, "\n".join(fake.spec_errors)


@pytest.fixture
def gitlab_fake():
    from tests.fakes.gitlab import FakeGitLab

    fake = FakeGitLab(
        tokens={"glpat-secret-token-0123456789": "cml-bot"}, job_tokens={"job-token-0123456789"}
    )
    with fake.serve():
        yield fake
    assert not fake.errors, "\n".join(fake.errors)
