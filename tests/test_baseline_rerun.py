"""Baseline strategies end to end: main and a branch that train different models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import Repo
from tests.helpers import run_cli

MAIN_CONFIG = """\
train:
  sklearn:
    dataset: sklearn:breast_cancer
    model: sklearn.linear_model.LogisticRegression
    params: {C: 0.0005, max_iter: 3000}
gate:
  accuracy: {max_drop: 0.01, significant: true}
"""
BRANCH_CONFIG = MAIN_CONFIG.replace(
    "model: sklearn.linear_model.LogisticRegression\n    params: {C: 0.0005, max_iter: 3000}",
    "model: sklearn.ensemble.RandomForestClassifier\n    params: {n_estimators: 50}",
)


def project(repo: Repo, *, ignore_outputs: bool = True) -> Repo:
    if ignore_outputs:
        repo.write(".gitignore", ".cml-py/\n")
    repo.write("cml.yaml", MAIN_CONFIG)
    repo.commit("main: logistic regression")
    repo.branch("feature")
    repo.write("cml.yaml", BRANCH_CONFIG)
    repo.commit("feature: random forest")
    return repo


def worktrees(repo: Repo) -> list[str]:
    return [
        ln
        for ln in repo.git("worktree", "list", "--porcelain").splitlines()
        if ln.startswith("worktree ")
    ]


def test_rerun_trains_main_with_its_own_config(in_repo: Repo, capsys) -> None:
    project(in_repo)
    assert run_cli(capsys, "train").code == 0
    result = run_cli(capsys, "report", "--format", "json", "-o", "-")
    assert result.code == 0, result.err
    assert "re-training main at" in result.err and "main re-trained" in result.err
    data = json.loads(result.out)
    accuracy = next(m for m in data["metrics"] if m["name"] == "accuracy")
    assert accuracy["file"] == ".cml-py/out/metrics.json"
    assert accuracy["base"] != accuracy["head"]
    assert accuracy["interval"]["low"] <= accuracy["change"] <= accuracy["interval"]["high"]
    assert accuracy["test"]["name"] == "McNemar score test"
    assert any("re-trained at" in n and "strategy rerun" in n for n in data["notes"])
    params = {p["name"]: p for p in data["params"]}
    assert params["model"]["base"] == "sklearn.linear_model.LogisticRegression"
    assert params["model"]["head"] == "sklearn.ensemble.RandomForestClassifier"
    assert len(worktrees(in_repo)) == 1
    again = run_cli(capsys, "gate")
    assert "using main's outputs from an earlier re-run" in again.err
    assert "re-training" not in again.err


def test_markdown_marks_significance(in_repo: Repo, capsys) -> None:
    project(in_repo)
    run_cli(capsys, "train")
    text = run_cli(capsys, "report", "-o", "-").out
    metrics = text.split("#### Metrics")[1]
    line = next(ln for ln in metrics.splitlines() if ln.startswith("| accuracy |"))
    assert "[" in line and ("significant" in line or "within noise" in line)
    assert "Intervals: 95%, over the 143 test rows both sides predicted" in text
    details = text.split("<details><summary>Is it noise? 1 rule with significant: true")[1]
    row = next(ln for ln in details.splitlines() if ln.startswith("| accuracy | max_drop |"))
    assert "≥ -0.01" in row and "of 143 | test rows (1 seed a side) |" in row


def test_auto_uses_committed_outputs(in_repo: Repo, capsys) -> None:
    in_repo.write("cml.yaml", MAIN_CONFIG)
    run_cli(capsys, "train")
    in_repo.commit("main with committed outputs")
    in_repo.branch("feature")
    in_repo.write("cml.yaml", BRANCH_CONFIG)
    run_cli(capsys, "train")
    result = run_cli(capsys, "report", "--format", "json", "-o", "-")
    assert "re-training" not in result.err
    data = json.loads(result.out)
    assert not any("re-trained" in n for n in data["notes"])
    accuracy = next(m for m in data["metrics"] if m["name"] == "accuracy")
    assert "interval" in accuracy  # committed predictions are paired too


def test_strategy_git_without_committed_outputs_means_added(in_repo: Repo, capsys) -> None:
    in_repo.write(".gitignore", ".cml-py/\n")
    in_repo.write("cml.yaml", MAIN_CONFIG + "baseline: {strategy: git}\n")
    in_repo.commit("main: logistic regression, committed-files baseline")
    in_repo.branch("feature")
    in_repo.write("cml.yaml", BRANCH_CONFIG + "baseline: {strategy: git}\n")
    run_cli(capsys, "train")
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    assert {m["verdict"] for m in data["metrics"]} == {"added"}


def test_a_pr_cannot_choose_the_baseline_strategy(in_repo: Repo, capsys) -> None:
    project(in_repo)
    in_repo.write("cml.yaml", BRANCH_CONFIG + "baseline: {strategy: git}\n")
    run_cli(capsys, "train")
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    accuracy = next(m for m in data["metrics"] if m["name"] == "accuracy")
    assert accuracy["verdict"] != "added"  # main was re-trained, as main's cml.yaml says
    assert {"setting": "baseline.strategy", "main": "auto", "this_pr": "git"} in data[
        "policy_change"
    ]["changes"]


def test_main_without_train_section_is_never_trained_with_the_prs_command(
    in_repo: Repo, capsys
) -> None:
    in_repo.write(".gitignore", ".cml-py/\n")
    in_repo.write("cml.yaml", "gate: {}\n")
    in_repo.commit()
    in_repo.branch("feature")
    in_repo.write("cml.yaml", BRANCH_CONFIG)
    run_cli(capsys, "train")
    result = run_cli(capsys, "report", "--format", "json", "--all", "-o", "-")
    assert "re-training main" not in result.err
    data = json.loads(result.out)
    assert {m["verdict"] for m in data["metrics"]} == {"added"}  # auto: main's files, none
    assert worktrees(in_repo) == [f"worktree {in_repo.path}"]
    forced = run_cli(capsys, "report", "-o", "-", "--trust-pr-config")
    assert forced.code == 0  # the PR's policy (auto) still cannot re-train main with PR code
    in_repo.write("cml.yaml", BRANCH_CONFIG + "baseline: {strategy: rerun}\n")
    refused = run_cli(capsys, "report", "-o", "-", "--trust-pr-config")
    assert refused.code == 2
    assert "main has no cml.yaml with a `train:` section" in refused.err
    assert "this PR's training is never used for main" in refused.err


def test_unpaired_predictions_are_explained(in_repo: Repo, capsys) -> None:
    project(in_repo)
    in_repo.write(
        "cml.yaml",
        BRANCH_CONFIG.replace(
            "params: {n_estimators: 50}", "params: {n_estimators: 50}\n    test_size: 0.3"
        ),
    )
    run_cli(capsys, "train")
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    assert any(
        "No confidence intervals: main has 143 test rows and this PR has 171" in n
        for n in data["notes"]
    )
    assert all("interval" not in m for m in data["metrics"])


def test_failing_main_training_is_reported_and_cleaned_up(in_repo: Repo, capsys) -> None:
    in_repo.write(".gitignore", ".cml-py/\n")
    in_repo.write("cml.yaml", MAIN_CONFIG.replace("C: 0.0005", "C: -1"))
    in_repo.commit()
    in_repo.branch("feature")
    in_repo.write("cml.yaml", BRANCH_CONFIG)
    run_cli(capsys, "train")
    result = run_cli(capsys, "report", "-o", "-")
    assert result.code == 2
    assert "training main (baseline rerun): exited with code 2" in result.err
    assert "LogisticRegression failed to fit" in result.err
    assert len(worktrees(in_repo)) == 1
    assert not (in_repo.path / ".cml-py" / "baselines").exists() or not any(
        (in_repo.path / ".cml-py" / "baselines").iterdir()
    )


def test_sigterm_during_rerun_removes_the_worktree(repo: Repo) -> None:
    repo.write(".gitignore", ".cml-py/\n")
    repo.write("slow.py", "import time\nprint('main is training', flush=True)\ntime.sleep(60)\n")
    repo.write("cml.yaml", f"train: {{command: [{sys.executable}, slow.py]}}\nmetrics: [m.json]\n")
    repo.commit()
    repo.branch("feature")
    repo.write("m.json", '{"acc": 1}')
    proc = subprocess.Popen(
        [sys.executable, "-m", "cml_py", "report", "-o", "-"],
        cwd=repo.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    deadline = time.monotonic() + 30
    while len(worktrees(repo)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(worktrees(repo)) == 2, "the worktree was never created"
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert len(worktrees(repo)) == 1


@pytest.mark.parametrize("strategy", ["rerun", "auto"])
def test_rerun_needs_a_trainer(in_repo: Repo, capsys, strategy: str) -> None:
    in_repo.write("m.json", '{"acc": 1}')
    in_repo.write("cml.yaml", f"metrics: [m.json]\nbaseline: {{strategy: {strategy}}}\n")
    in_repo.commit()
    result = run_cli(capsys, "diff")
    if strategy == "rerun":
        assert result.code == 2 and "has no cml.yaml with a `train:` section" in result.err
    else:
        assert result.code == 0


def test_report_with_charts_links_them_relative_to_the_report(in_repo: Repo, capsys) -> None:
    project(in_repo)
    run_cli(capsys, "train")
    result = run_cli(capsys, "report", "-o", "out/report.md", "--charts", "out/img")
    assert result.code == 0, result.err
    text = (in_repo.path / "out" / "report.md").read_text()
    for name in ("metric_changes", "roc_pr", "confusion", "feature_importance"):
        assert f'src="img/{name}.png"' in text
        assert (in_repo.path / "out" / "img" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    assert "Charts not drawn" not in text  # no curves configured: nothing to say
    data = json.loads(
        run_cli(capsys, "report", "--format", "json", "-o", "-", "--charts", "img").out
    )
    assert [c["path"] for c in data["charts"]][:2] == ["img/metric_changes.png", "img/roc_pr.png"]


def test_the_cache_is_never_inside_the_checkout_even_with_relative_settings(tmp_path) -> None:
    """A relative RUNNER_TEMP, XDG_CACHE_HOME or HOME would put main's re-trained
    outputs in the working directory: the checkout the PR controls."""
    from cml_py.baseline.rerun import cache_root

    assert cache_root({"RUNNER_TEMP": str(tmp_path)}) == tmp_path / "cml-py" / "baselines"
    relative = {"RUNNER_TEMP": "-1", "XDG_CACHE_HOME": "cache", "HOME": "."}
    assert cache_root(relative).is_absolute()
    assert cache_root({"XDG_CACHE_HOME": "x", "HOME": str(tmp_path)}) == (
        tmp_path / ".cache" / "cml-py" / "baselines"
    )


def forked_before_main_moved(repo: Repo, tip_config: str) -> tuple[str, str]:
    """main: MAIN_CONFIG <- fork point <- tip_config (the tip); the PR trains another
    model with the fork point's cml.yaml as it found it. (fork point, tip)"""
    repo.write(".gitignore", ".cml-py/\nout/\n")
    repo.write(
        "cml.yaml",
        MAIN_CONFIG.replace(
            "accuracy: {max_drop: 0.01, significant: true}", "accuracy: {min: 0.1}"
        ),
    )
    fork = repo.commit("main: logistic regression, a loose gate")
    repo.write("cml.yaml", tip_config)
    tip = repo.commit("main moves on")
    repo.git("checkout", "-q", "-b", "feature", fork)
    repo.write("cml.yaml", BRANCH_CONFIG)
    repo.commit("feature: random forest")
    return fork, tip


def test_rerun_trains_the_fork_point_under_the_tips_rules(in_repo: Repo, capsys) -> None:
    """main's numbers are the fork point's, re-trained as the fork point's cml.yaml says
    (its outputs where it writes them); the gate, and where this PR's outputs go, are the
    tip's."""
    tip_config = MAIN_CONFIG.replace("max_drop: 0.01, significant: true", "min: 0.99").replace(
        "train:\n", "train:\n  output_dir: out/model\n"
    )
    fork, tip = forked_before_main_moved(in_repo, tip_config)
    assert run_cli(capsys, "train").code == 0
    assert (in_repo.path / "out" / "model" / "metrics.json").is_file()  # the tip's output_dir
    result = run_cli(capsys, "report", "--format", "json", "-o", "-")
    assert result.code == 0, result.err
    assert f"re-training main at {fork[:7]}" in result.err
    data = json.loads(result.out)
    assert data["verdict"] == "fail"
    accuracy = next(m for m in data["metrics"] if m["name"] == "accuracy")
    assert accuracy["file"] == "out/model/metrics.json" and accuracy["verdict"] != "added"
    (check,) = data["gate"]
    assert check["status"] == "fail" and check["limit"] == 0.99, check
    params = {p["name"]: p for p in data["params"]}
    assert params["model"]["base"] == "sklearn.linear_model.LogisticRegression"
    assert f"main's cml.yaml at {tip[:7]} (tip of main)" in " ".join(data["notes"])
    assert any(f"re-trained at {fork[:7]}" in n for n in data["notes"])
    assert len(worktrees(in_repo)) == 1


def test_rerun_where_the_fork_point_cannot_train_says_so(in_repo: Repo, capsys) -> None:
    in_repo.write(".gitignore", ".cml-py/\n")
    in_repo.write("cml.yaml", "gate: {}\n")
    fork = in_repo.commit("main without a trainer")
    in_repo.write("cml.yaml", MAIN_CONFIG)
    in_repo.commit("main trains")
    in_repo.git("checkout", "-q", "-b", "feature", fork)
    in_repo.write("cml.yaml", BRANCH_CONFIG)
    run_cli(capsys, "train")
    result = run_cli(capsys, "report", "-o", "-")
    assert result.code == 2 and "Traceback" not in result.err, result.err
    assert result.err.splitlines()[-1].startswith("cml-py: error: ")
    assert f"baseline strategy rerun: cml.yaml at {fork[:7]} (merge-base" in result.err
    assert "has no `train:`" in result.err
    assert len(worktrees(in_repo)) == 1
