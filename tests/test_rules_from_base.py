"""A PR cannot loosen the gate that judges it: main's rules apply unless trusted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Repo, git
from tests.helpers import run_cli

STRICT = "metrics: [m.json]\ngate:\n  acc: {min: 0.9}\n"
LOOSE = "metrics: [m.json]\ngate:\n  acc: {min: 0.5}\n  f1: {min: 0.1}\n"
LOOSE_OLD = "metrics: [m.json]\ngate:\n  acc: {min: 0.5}\n"


def pr_that_loosens_its_gate(repo: Repo) -> Repo:
    repo.write("cml.yaml", STRICT)
    repo.write("m.json", {"acc": 0.95, "f1": 0.9})
    repo.commit("main")
    repo.branch("feature")
    repo.write("cml.yaml", LOOSE)
    repo.write("m.json", {"acc": 0.7, "f1": 0.9})
    repo.commit("loosen the gate and regress")
    return repo


def test_main_rules_judge_a_pr_that_loosens_them(in_repo: Repo, capsys) -> None:
    pr_that_loosens_its_gate(in_repo)
    result = run_cli(capsys, "gate")
    assert result.code == 1
    assert "FAIL  acc     ≥ 0.9" in result.out
    assert "This PR changes cml-py settings that judge it; main's settings applied" in result.out
    assert "gate: acc  {min: 0.9}  {min: 0.5}" in result.out
    assert "gate: f1   —           {min: 0.1}" in result.out


def test_trust_pr_config_applies_the_new_rules(in_repo: Repo, capsys) -> None:
    pr_that_loosens_its_gate(in_repo)
    result = run_cli(capsys, "gate", "--trust-pr-config")
    assert result.code == 0
    assert "and they applied (--trust-pr-config)" in result.out
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    assert data["policy_change"] == {
        "applied": "main",
        "changes": [
            {"setting": "gate: acc", "main": "{min: 0.9}", "this_pr": "{min: 0.5}"},
            {"setting": "gate: f1", "main": "—", "this_pr": "{min: 0.1}"},
        ],
    }
    md = run_cli(capsys, "report", "-o", "-").out
    assert "⚠️ **This PR changes cml-py settings that judge it; main's settings applied" in md
    assert "| gate: acc | {min: 0.9} | {min: 0.5} |" in md


def test_deleting_cml_yaml_does_not_escape_the_gate(in_repo: Repo, capsys) -> None:
    pr_that_loosens_its_gate(in_repo)
    in_repo.git("rm", "-q", "cml.yaml")
    result = run_cli(capsys, "gate", "--metrics", "m.json")
    assert result.code == 1 and "FAIL  acc" in result.out


def test_first_pr_adding_cml_yaml_uses_its_rules(in_repo: Repo, capsys) -> None:
    in_repo.write("m.json", {"acc": 0.95})
    in_repo.commit("main without cml.yaml")
    in_repo.branch("feature")
    in_repo.write("cml.yaml", STRICT)
    result = run_cli(capsys, "gate")
    assert result.code == 0 and "PASS  acc" in result.out
    assert "changes cml-py settings" not in result.out


def test_unchanged_rules_say_nothing(in_repo: Repo, capsys) -> None:
    in_repo.write("cml.yaml", STRICT)
    in_repo.write("m.json", {"acc": 0.95})
    in_repo.commit()
    in_repo.branch("feature")
    assert "changes cml-py settings" not in run_cli(capsys, "report", "-o", "-").out


def test_renaming_cml_yaml_does_not_escape_main_rules(in_repo: Repo, capsys) -> None:
    pr_that_loosens_its_gate(in_repo)
    in_repo.git("mv", "cml.yaml", "cml.yml")
    result = run_cli(capsys, "gate")
    assert (
        result.code == 1
        and "This PR changes cml-py settings that judge it; main's settings applied" in result.out
    )


def test_a_config_outside_the_repository(in_repo: Repo, capsys, tmp_path) -> None:
    pr_that_loosens_its_gate(in_repo)
    outside = tmp_path / "elsewhere" / "cml.yaml"
    outside.parent.mkdir()
    outside.write_text(f"metrics: [{in_repo.path / 'm.json'}]\ngate: {{acc: {{min: 0.1}}}}\n")
    result = run_cli(capsys, "gate", "--config", str(outside))
    assert result.code == 2
    assert "the config file must be inside the repository" in result.err


# A PR chooses where it forks from main. The rules come from the tip of main, not from
# the fork point, or a PR branched before main tightened its gate (or before main had a
# cml.yaml at all) would choose its own rules; main's numbers still come from the fork
# point, which is what the PR changed.

TIGHT = "metrics: [m.json]\ngate:\n  acc: {min: 0.9, max_drop: 0.02}\n"


def old_fork_point(repo: Repo, *, first_config: str | None = LOOSE_OLD) -> tuple[str, str]:
    """main: [no cml.yaml or a loose one] <- fork point <- a tight gate (the tip); the
    PR regresses and leaves its copy of cml.yaml as it was. (fork point, tip)"""
    repo.write("m.json", {"acc": 0.95})
    if first_config is not None:
        repo.write("cml.yaml", first_config)
    fork = repo.commit("main, long ago")
    repo.write("cml.yaml", TIGHT)
    repo.write("m.json", {"acc": 0.97})
    tip = repo.commit("main: tighten the gate")
    repo.git("checkout", "-q", "-b", "feature", fork)
    repo.write("m.json", {"acc": 0.6})
    repo.commit("regress, forked before the gate was tightened")
    return fork, tip


def expect_tip_rules(result, data: dict, fork: str, tip: str, shown: str = "main") -> None:
    assert result.code == 1, result.out + result.err
    assert "FAIL  acc     ≥ 0.9" in result.out and "FAIL  acc     worse by ≤ 0.02" in result.out
    assert data["base"]["sha"] == fork  # main's numbers: the fork point's
    (acc,) = data["metrics"]
    assert acc["base"] == 0.95
    assert (
        f"main's cml.yaml at {tip[:7]} (tip of {shown}) set the gate rules and settings; "
        f"main's numbers are from {fork[:7]} ({data['base']['how']})."
    ) in data["notes"]


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"GITHUB_BASE_REF": "main"},
        {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"},
        {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_MERGE_REQUEST_DIFF_BASE_SHA": ""},
    ],
    ids=["default", "github", "gitlab-target", "gitlab-diff-base"],
)
def test_an_old_fork_point_does_not_choose_the_rules(
    in_repo: Repo, capsys, monkeypatch, env: dict
) -> None:
    fork, tip = old_fork_point(in_repo)
    for key, value in env.items():
        monkeypatch.setenv(key, value or fork)  # GitLab's diff base is the fork point
    result = run_cli(capsys, "gate")
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    expect_tip_rules(result, data, fork, tip)
    # the PR did not touch cml.yaml; it differs from the rules that judged it all the same
    assert "gate: acc  {min: 0.9, max_drop: 0.02}  {min: 0.5}" in result.out


def test_base_flag_naming_a_branch_judges_by_its_tip(in_repo: Repo, capsys) -> None:
    fork, tip = old_fork_point(in_repo)
    result = run_cli(capsys, "gate", "--base", "main")
    data = json.loads(
        run_cli(capsys, "report", "--format", "json", "-o", "-", "--base", "main").out
    )
    expect_tip_rules(result, data, fork, tip)


def test_base_flag_naming_a_commit_is_the_workflows_choice(in_repo: Repo, capsys) -> None:
    """A commit names no branch to take a tip of: the workflow chose that commit, and its
    cml.yaml judges. Only a branch (here origin/main) is read at its tip."""
    fork, tip = old_fork_point(in_repo)
    pinned = run_cli(capsys, "gate", "--base", fork)
    assert pinned.code == 0 and "PASS  acc     ≥ 0.5" in pinned.out
    notes = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-", "--base", fork).out)
    assert not any("set the gate rules" in n for n in notes["notes"])
    in_repo.git("update-ref", "refs/remotes/origin/main", tip)
    in_repo.git("branch", "-q", "-D", "main")
    result = run_cli(capsys, "gate")
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    assert result.code == 1 and "FAIL  acc     ≥ 0.9" in result.out
    assert f"main's cml.yaml at {tip[:7]} (tip of origin/main)" in " ".join(data["notes"])


def test_forking_before_main_had_a_cml_yaml_is_no_first_adoption(
    in_repo: Repo, capsys, monkeypatch
) -> None:
    fork, tip = old_fork_point(in_repo, first_config=None)
    in_repo.write("cml.yaml", "metrics: [m.json]\ngate:\n  acc: {min: 0.1}\n")
    in_repo.commit("the PR brings its own lax cml.yaml")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    result = run_cli(capsys, "gate")
    report = run_cli(capsys, "report", "-o", "-").out
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    expect_tip_rules(result, data, fork, tip)
    assert "first adoption" not in report and "has no cml.yaml" not in report
    assert "| gate: acc | {min: 0.9, max\\_drop: 0.02} | {min: 0.1} |" in report


def test_main_moving_to_another_base_is_read_at_its_tip(in_repo: Repo, capsys) -> None:
    """main's `base:` is policy too: the tip's moves the base even when the fork point's
    cml.yaml says nothing about it, and the rules then come from that branch's tip."""
    fork, _ = old_fork_point(in_repo)
    in_repo.git("checkout", "-q", "main")
    in_repo.write("cml.yaml", TIGHT + "base: develop\n")
    in_repo.commit("main: PRs target develop")
    in_repo.git("branch", "develop", fork)
    in_repo.git("checkout", "-q", "develop")
    in_repo.write("cml.yaml", TIGHT.replace("0.9", "0.8"))
    develop_tip = in_repo.commit("develop: its own gate")
    in_repo.git("checkout", "-q", "feature")
    result = run_cli(capsys, "gate")
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    assert result.code == 1 and "FAIL  acc     ≥ 0.8" in result.out
    assert data["base"] == {
        "name": "develop",
        "sha": fork,
        "how": "merge-base of HEAD and develop",
    }
    assert f"develop's cml.yaml at {develop_tip[:7]} (tip of develop)" in " ".join(data["notes"])


def _clone_without_main(tmp_path: Path, upstream: Repo) -> Path:
    """A full-history clone of the PR's branch only, as a CI fetches it: the fork point
    is there, main's tip is not."""
    clone = tmp_path / "clone"
    git(
        tmp_path,
        "clone",
        "-q",
        "--single-branch",
        "--branch",
        "feature",
        str(upstream.path),
        "clone",
    )
    return clone


def test_gitlab_target_branch_missing_is_refused_not_read_at_the_fork_point(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    upstream = Repo(tmp_path / "upstream")
    fork, tip = old_fork_point(upstream)
    clone = _clone_without_main(tmp_path, upstream)
    monkeypatch.chdir(clone)
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_MERGE_REQUEST_DIFF_BASE_SHA", fork)
    monkeypatch.setenv("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main")
    result = run_cli(capsys, "gate")
    assert result.code == 2 and result.err.count("\n") == 1, result.out + result.err
    assert "base branch 'main' (from CI_MERGE_REQUEST_TARGET_BRANCH_NAME) not found" in result.err
    assert "GIT_DEPTH: 0" in result.err and "git fetch origin main" in result.err
    # a single-branch clone keeps no origin/main from a bare `git fetch origin main`
    git(clone, "fetch", "-q", "origin", "main:refs/remotes/origin/main")
    result = run_cli(capsys, "gate")
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    expect_tip_rules(result, data, fork, tip, shown="origin/main")


def test_gitlab_diff_base_without_a_target_branch_is_refused(
    in_repo: Repo, capsys, monkeypatch
) -> None:
    fork, _ = old_fork_point(in_repo)
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_MERGE_REQUEST_DIFF_BASE_SHA", fork)
    result = run_cli(capsys, "gate")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "CI_MERGE_REQUEST_TARGET_BRANCH_NAME is not" in result.err
    assert "never from the merge request's fork point" in result.err


def test_the_report_template_is_the_tips(in_repo: Repo, capsys) -> None:
    """The template is policy too: read from the tip's commit, so a PR that forked
    before main chose one (or changed it) cannot render with the old one."""
    old_fork_point(in_repo)
    in_repo.git("checkout", "-q", "main")
    in_repo.write("cml.yaml", TIGHT + "report: {template: t.j2}\n")
    in_repo.write("t.j2", "main's template: {{ headline }}\n")
    in_repo.commit("main: its own template")
    in_repo.git("checkout", "-q", "feature")
    assert not (in_repo.path / "t.j2").exists()
    result = run_cli(capsys, "report", "-o", "-")
    assert result.code == 0, result.err
    assert "main's template:" in result.out


def test_a_local_base_key_that_chose_the_base_is_said_so_not_listed_as_overruled(
    in_repo: Repo, capsys
) -> None:
    """Without main or master, a local run takes the base from the checkout's own
    `base:`; the report listed that key as a change "main's settings" overruled while it
    had decided the comparison."""
    in_repo.git("branch", "-m", "trunk")
    in_repo.write("cml.yaml", "metrics: [m.json]\ngate: {acc: {min: 0.5}}\n")
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.commit("trunk")
    in_repo.branch("feature")
    in_repo.write("cml.yaml", "metrics: [m.json]\ngate: {acc: {min: 0.5}}\nbase: trunk\n")
    in_repo.write("m.json", {"acc": 0.8})
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    assert data["base"]["name"] == "trunk"
    assert data["policy_change"] is None
    assert any("The base, 'trunk', comes from this checkout's cml.yaml" in n for n in data["notes"])
