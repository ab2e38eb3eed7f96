"""Stored baselines against a local bare remote: save, load, trend, concurrent saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Repo, git
from tests.helpers import run_cli

CONFIG = (
    "metrics: [out/m.json]\nbaseline: {strategy: store, trend: 5}\ngate: {acc: {max_drop: 0.05}}\n"
)


def clone(remote: Path, path: Path) -> Path:
    git(remote.parent, "clone", "-q", str(remote), str(path))
    git(path, "config", "commit.gpgsign", "false")
    return path


def make_remote(tmp_path: Path) -> tuple[Path, Path]:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "config", "commit.gpgsign", "false")
    (work / ".gitignore").write_text("out/\n")
    (work / "cml.yaml").write_text(CONFIG)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "start")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    return remote, work


def main_commit(work: Path, message: str, acc: float | None, capsys) -> str:
    (work / "notes.txt").write_text(message)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    if acc is not None:
        (work / "out").mkdir(exist_ok=True)
        (work / "out" / "m.json").write_text(json.dumps({"acc": acc}))
        result = run_cli(capsys, "baseline", "save")
        assert result.code == 0, result.err
        assert "and pushed it to origin" in result.err
    return git(work, "rev-parse", "HEAD")


def test_records_are_pushed_and_judge_the_pr(tmp_path, monkeypatch, capsys) -> None:
    remote, work = make_remote(tmp_path)
    monkeypatch.chdir(work)
    shas = [main_commit(work, f"main {i}", acc, capsys) for i, acc in enumerate((0.80, 0.85, 0.90))]
    git(work, "push", "-q", "origin", "main")
    records = git(remote, "ls-tree", "--name-only", "refs/cml-py/baselines").split()
    assert set(shas) <= set(records)
    assert git(work, "status", "--porcelain") == ""  # nothing committed to branches
    pr = clone(remote, tmp_path / "pr")
    monkeypatch.chdir(pr)
    git(pr, "checkout", "-q", "-b", "feature")
    (pr / "out").mkdir()
    (pr / "out" / "m.json").write_text(json.dumps({"acc": 0.88}))
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    acc = next(m for m in data["metrics"] if m["name"] == "acc")
    assert (acc["base"], acc["head"], acc["verdict"]) == (0.9, 0.88, "worse")
    assert (
        f"main's numbers come from the stored record of {shas[2][:7]} (the merge-base)."
        in data["notes"]
    )
    (trend,) = data["trends"]
    assert [p["value"] for p in trend["points"]] == [0.8, 0.85, 0.9]
    md = run_cli(capsys, "report", "-o", "-").out
    assert "#### Trend on main" in md
    assert "| acc | ▁▄█ | 0.8 → 0.85 → 0.9 | 0.88 |" in md


def test_nearest_recorded_ancestor_is_used(tmp_path, monkeypatch, capsys) -> None:
    _, work = make_remote(tmp_path)
    monkeypatch.chdir(work)
    recorded = main_commit(work, "recorded", 0.9, capsys)
    main_commit(work, "docs only", None, capsys)
    main_commit(work, "more docs", None, capsys)
    git(work, "checkout", "-q", "-b", "feature")
    (work / "out" / "m.json").write_text(json.dumps({"acc": 0.91}))
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    assert (
        f"main's numbers come from the stored record of {recorded[:7]} (the nearest recorded "
        "ancestor, 2 commits before the merge-base"
    ) in data["notes"][0]


def test_without_records_the_report_says_so(tmp_path, monkeypatch, capsys) -> None:
    _, work = make_remote(tmp_path)
    monkeypatch.chdir(work)
    git(work, "checkout", "-q", "-b", "feature")
    (work / "out").mkdir()
    (work / "out" / "m.json").write_text(json.dumps({"acc": 0.9}))
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    assert "No stored baseline for main's history" in data["notes"][0]


def save_in(directory: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cml_py", "baseline", "save", *flags],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def prepared_clone(remote: Path, path: Path, acc: float) -> tuple[Path, str]:
    clone(remote, path)
    (path / "notes.txt").write_text(str(path))
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", f"work in {path.name}")
    (path / "out").mkdir()
    (path / "out" / "m.json").write_text(json.dumps({"acc": acc}))
    return path, git(path, "rev-parse", "HEAD")


def test_a_push_rejected_by_a_concurrent_save_is_merged(tmp_path) -> None:
    """Deterministic race: B's pre-push hook lets A save first, so B's push is rejected."""
    remote, _ = make_remote(tmp_path)
    a, sha_a = prepared_clone(remote, tmp_path / "a", 0.8)
    b, sha_b = prepared_clone(remote, tmp_path / "b", 0.9)
    hook = b / ".git" / "hooks" / "pre-push"
    hook.write_text(
        f"#!/bin/sh\nif [ ! -e {tmp_path}/raced ]; then touch {tmp_path}/raced; "
        f"cd {a} && {sys.executable} -m cml_py baseline save >/dev/null 2>&1; fi\n"
    )
    hook.chmod(0o755)
    proc = save_in(b)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "another job saved a record at the same time; merging (attempt 1)" in err
    records = git(remote, "ls-tree", "--name-only", "refs/cml-py/baselines").split()
    assert {sha_a, sha_b} <= set(records)


@pytest.mark.parametrize("jobs", [4])
def test_concurrent_saves_all_survive(tmp_path, jobs: int) -> None:
    remote, _ = make_remote(tmp_path)
    clones = [prepared_clone(remote, tmp_path / f"c{i}", 0.8 + i / 100) for i in range(jobs)]
    procs = [save_in(path) for path, _ in clones]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    records = set(git(remote, "ls-tree", "--name-only", "refs/cml-py/baselines").split())
    assert {sha for _, sha in clones} <= records
    log = git(remote, "log", "--format=%s", "refs/cml-py/baselines").splitlines()
    assert len(log) == jobs  # one commit per record, none lost or duplicated


def test_save_without_a_remote_keeps_it_local(in_repo, capsys) -> None:
    in_repo.write("cml.yaml", CONFIG)
    in_repo.write("out/m.json", {"acc": 0.9})
    in_repo.commit()
    result = run_cli(capsys, "baseline", "save")
    assert result.code == 0 and "(no remote 'origin': not pushed)" in result.err
    listed = run_cli(capsys, "baseline", "list")
    assert listed.out.startswith(in_repo.git("rev-parse", "HEAD") + "  0 commits before HEAD")
    assert os.path.exists(in_repo.path / "out" / "m.json")


def test_a_push_the_remote_declines_is_reported_not_retried(tmp_path) -> None:
    remote, _ = make_remote(tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'baselines are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    a, _ = prepared_clone(remote, tmp_path / "a", 0.8)
    proc = save_in(a, "--strict")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3
    assert (
        "cannot push refs/cml-py/baselines to origin:" in err and "pre-receive hook declined" in err
    )
    assert "merging (attempt" not in err
    lenient = save_in(a)  # the default branch stays green: a warning, exit 0
    _, err = lenient.communicate(timeout=120)
    assert lenient.returncode == 0
    assert "warning: the record was not saved: cannot push" in err


def test_save_without_strategy_store_records_nothing(in_repo: Repo, capsys) -> None:
    in_repo.write("cml.yaml", "metrics: [m.json]\n")
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.commit()
    result = run_cli(capsys, "baseline", "save", "--train")
    assert result.code == 0 and "not store: nothing to record" in result.err
    assert in_repo.git("for-each-ref", "refs/cml-py") == ""


def test_gitlab_pushes_with_cml_py_token_in_a_header_not_an_argument() -> None:
    import base64

    from cml_py.baseline.store import push_auth

    env = {"GITLAB_CI": "true", "CML_PY_TOKEN": "glpat-0123456789", "CI_JOB_TOKEN": "job"}
    config = push_auth(env)
    header = config["GIT_CONFIG_VALUE_0"]
    assert config["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert base64.b64decode(header.split()[-1]).decode() == "oauth2:glpat-0123456789"
    assert push_auth({"GITLAB_CI": "true", "CI_JOB_TOKEN": "job"}) == {}  # the job's own
    assert push_auth({"GITHUB_ACTIONS": "true", "CML_PY_TOKEN": "x" * 10}) == {}


def test_a_private_github_repository_gives_the_records_to_the_token(
    tmp_path, monkeypatch, capsys
) -> None:
    """cml-py's workflows check out without persisting credentials, and a private
    repository answers a fetch of the records only with a token: the one the cml-py step
    was given goes to the GitHub server as a header (never on a command line)."""
    from tests.fakes.git_http import serving

    remote, work = make_remote(tmp_path)
    monkeypatch.chdir(work)
    sha = main_commit(work, "main", 0.9, capsys)
    git(work, "push", "-q", "origin", "main")
    pr = clone(remote, tmp_path / "pr")
    git(pr, "checkout", "-q", "-b", "feature")
    (pr / "out").mkdir()
    (pr / "out" / "m.json").write_text(json.dumps({"acc": 0.88}))
    monkeypatch.chdir(pr)
    token = "ghs_private0123456789abcdef"
    # a hook the PR's training could have left: it must not run beside the token
    hook = pr / ".git" / "hooks" / "reference-transaction"
    hook.write_text(f"#!/bin/sh\nenv > {tmp_path / 'hook-saw'}\n")
    hook.chmod(0o755)
    with serving(tmp_path, token) as (url, seen):
        git(pr, "remote", "set-url", "origin", f"{url}/remote.git")
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        monkeypatch.setenv("GITHUB_SERVER_URL", url)
        monkeypatch.setenv("GITHUB_BASE_REF", "main")
        refused = run_cli(capsys, "report", "--format", "json", "-o", "-")
        assert refused.code == 3, refused.err  # no token: the repository says no
        assert "cannot fetch refs/cml-py/baselines from origin" in refused.err
        monkeypatch.setenv("GITHUB_TOKEN", token)
        result = run_cli(capsys, "report", "--format", "json", "-o", "-")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (
        f"main's numbers come from the stored record of {sha[:7]} (the merge-base)."
        in (data["notes"])
    )
    assert any(header.lower().startswith("basic ") for header in seen)
    assert token not in result.out + result.err
    assert not (tmp_path / "hook-saw").exists()


def test_github_auth_leaves_a_checkouts_own_credentials_alone(in_repo: Repo) -> None:
    """actions/checkout with persist-credentials keeps its header in git's config; a
    second Authorization header would make GitHub refuse both."""
    from cml_py.baseline.store import github_auth
    from cml_py.git import Git

    env = {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghs_0123456789"}
    config = github_auth(Git(in_repo.path), env)
    assert config["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraheader"
    in_repo.git("config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic eA==")
    assert github_auth(Git(in_repo.path), env) == {}
    assert github_auth(Git(in_repo.path), {"GITHUB_TOKEN": "ghs_0123456789"}) == {}  # not CI
