"""`cml-py run` end to end: temporary git repositories, real training, fake forges."""

from __future__ import annotations

import json
import re

from tests.conftest import Repo
from tests.helpers import run_cli
from tests.publish_env import HEAD_SHA, github_actions, gitlab_ci
from tests.test_baseline_rerun import BRANCH_CONFIG, project

INSTALLATION = "ghs_installation_token_0123456789"
GITLAB_TOKEN = "glpat-secret-token-0123456789"


def test_run_in_github_actions_trains_compares_and_publishes(
    in_repo: Repo, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    project(in_repo)
    files = github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "run")
    assert result.code == 0, result.err
    stages = re.findall(r"cml-py: ✓ (\w+) \(\d+\.\d\d s\)", result.err)
    assert stages == ["config", "train", "compare", "gate", "charts", "report", "publish"]
    (comment,) = github_fake.comments_on(issue=7)
    assert comment["body"].startswith(
        "<!-- cml-py report id=default -->\n### ✅ cml-py: gate passed"
    )
    assert "| accuracy |" in comment["body"] and "raw=true" in comment["body"]
    assert github_fake.refs["heads/cml-py-assets"]
    (check,) = github_fake.check_runs
    assert check["conclusion"] == "success" and check["head_sha"] == HEAD_SHA
    outputs = files["output"].read_text()
    assert "\npass\n" in outputs and "comment-url<<" in outputs and "report-path<<" in outputs
    assert "gate passed" in files["summary"].read_text()
    assert result.err.rstrip().endswith(f"#issuecomment-{comment['id']}")
    out = in_repo.path / "cml-py-report"
    assert {p.name for p in out.iterdir()} >= {
        "report.md",
        "report.json",
        "gate.xml",
        "metrics.txt",
        "charts",
    }
    assert "accuracy " in (out / "metrics.txt").read_text()


def test_run_fails_by_the_gate_and_annotates(
    in_repo: Repo, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    project(in_repo)
    in_repo.git("checkout", "-q", "main")
    in_repo.write(
        "cml.yaml",
        BRANCH_CONFIG.replace(
            "accuracy: {max_drop: 0.01, significant: true}", "accuracy: {min: 0.999}"
        ),
    )
    in_repo.commit("a gate no model passes")
    in_repo.git("checkout", "-q", "feature")
    in_repo.git("merge", "-q", "--no-edit", "main")
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "run", "--no-charts")
    assert result.code == 1, result.err
    assert "::error title=cml-py gate%3A accuracy::accuracy ≥ 0.999" in result.out
    (check,) = github_fake.check_runs
    assert check["conclusion"] == "failure"
    assert "❌ gate failed" in result.err


def test_run_in_gitlab_merge_request_pipeline(
    in_repo: Repo, gitlab_fake, monkeypatch, capsys
) -> None:
    in_repo.write("cml.yaml", "metrics: [m.json]\ngate: {acc: {max_drop: 0.05}}\n")
    in_repo.write("m.json", {"acc": 0.9, "loss": 0.3})
    in_repo.commit()
    in_repo.branch("feature")
    in_repo.write("m.json", {"acc": 0.92, "loss": 0.25})
    gitlab_ci(monkeypatch, gitlab_fake, token=GITLAB_TOKEN)
    monkeypatch.setenv("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main")
    result = run_cli(capsys, "run")
    assert result.code == 0, result.err
    (note,) = gitlab_fake.notes_on("merge_requests", "7")
    assert "| acc | 0.90 | 0.92 |" in note["body"] and "/uploads/" in note["body"]
    (status,) = gitlab_fake.statuses
    assert status["state"] == "success" and status["name"] == "cml-py"
    junit = (in_repo.path / "cml-py-report" / "gate.xml").read_text()
    assert 'tests="1" failures="0"' in junit


def test_dry_run_writes_what_it_would_post_and_talks_to_nobody(
    in_repo: Repo, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    in_repo.write("cml.yaml", "metrics: [m.json]\ngate: {acc: {min: 0.95}}\n")
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.commit()
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "run", "--dry-run", "--out", "preview")
    assert result.code == 1
    assert "dry run: the comment for PR/MR #7 is preview/report.md" in result.err
    assert not github_fake.requests
    status = json.loads((in_repo.path / "preview" / "status.json").read_text())
    assert status == {
        "name": "cml-py",
        "state": "failure",
        "title": "cml-py: gate failed: 1 of 1 check failed",
        "sha": HEAD_SHA,
        "forge": "github",
    }


def test_a_failing_stage_is_named(in_repo: Repo, capsys) -> None:
    in_repo.write("cml.yaml", "train: {command: ['false']}\n")
    in_repo.commit()
    result = run_cli(capsys, "run")
    assert result.code == 2
    assert "cml-py: error in stage train: train.command: exited with code 1" in result.err
    in_repo.write("cml.yaml", "metrics: [nope.json]\n")
    in_repo.commit()
    result = run_cli(capsys, "run")
    assert (
        "cml-py: error in stage compare: cml.yaml: metrics: file 'nope.json' does not exist"
        in result.err
    )


def test_no_ci_keeps_everything_local(in_repo: Repo, capsys) -> None:
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.write("cml.yaml", "metrics: [m.json]\n")
    in_repo.commit()
    result = run_cli(capsys, "run")
    assert result.code == 0
    assert (
        "no CI detected: nothing posted; the report is cml-py-report/report.md "
        "(the status would be cml-py: success)" in result.err
    )


def test_each_run_starts_from_an_empty_report_directory(in_repo: Repo, capsys) -> None:
    in_repo.write("cml.yaml", "metrics: [m.json]\n")
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.commit()
    first = run_cli(capsys, "run", "--no-publish")
    assert first.code == 0, first.err
    out = in_repo.path / "cml-py-report"
    (out / "charts").mkdir(exist_ok=True)
    (out / "charts" / "from-an-older-run.png").write_bytes(b"stale")
    assert run_cli(capsys, "run", "--no-publish").code == 0
    assert not (out / "charts" / "from-an-older-run.png").exists()
    assert (out / ".cml-py-output").is_file()
    html = (out / "report.html").read_text()
    assert "<table>" in html and "cml-py" in html  # the comment, rendered like GitHub
    text = (out / "metrics.txt").read_text()
    assert text.endswith("# EOF\n") and "\nacc 0.9\n" in "\n" + text


def test_out_never_empties_a_directory_cml_py_did_not_create(in_repo: Repo, capsys) -> None:
    in_repo.write("cml.yaml", "metrics: [m.json]\n")
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.write("docs/index.md", "# the user's docs\n")
    in_repo.commit()
    result = run_cli(capsys, "run", "--no-publish", "--out", "docs")
    assert result.code == 2 and "was not created by cml-py" in result.err
    assert (in_repo.path / "docs" / "index.md").read_text() == "# the user's docs\n"


ONE_METRIC_TWO_SOURCES = """
import json, os
os.makedirs("results", exist_ok=True)
json.dump({"accuracy": 0.99, "epochs": 3}, open("results/metrics.json", "w"))
rows = "\\n".join(f"{i},{i % 2},{(i % 2) if i % 5 else 1 - i % 2}" for i in range(200))
open("results/preds.csv", "w").write("id,y_true,y_pred\\n" + rows + "\\n")
"""


def run_two_sources(in_repo: Repo, capsys, *, metrics: str = "", gate: str) -> dict:
    """`run` with ONE_METRIC_TWO_SOURCES as the training; the report.json it wrote."""
    import sys

    in_repo.write("train.py", ONE_METRIC_TWO_SOURCES)
    in_repo.write(
        "cml.yaml",
        metrics + f"train:\n  command: [{sys.executable}, train.py]\n"
        "  outputs: {metrics: [results/metrics.json], predictions: results/preds.csv}\n"
        f"gate:\n  {gate}\n",
    )
    in_repo.write(".gitignore", "results/\n.cml-py/\ncml-py-report/\n")
    in_repo.commit()
    result = run_cli(capsys, "run", "--no-publish", "--no-charts")
    assert result.code == 0, result.err
    return json.loads((in_repo.path / "cml-py-report" / "report.json").read_text())


def test_a_metric_from_two_sources_gets_one_row_and_one_verdict(in_repo: Repo, capsys) -> None:
    data = run_two_sources(in_repo, capsys, gate="accuracy: {min: 0.5}")
    accuracy = [m for m in data["metrics"] if m["name"] == "accuracy"]
    assert [m["file"] for m in accuracy] == [".cml-py/out/metrics.json"]
    assert accuracy[0]["head"] == 0.8  # evaluated from the predictions, not the 0.99 claimed
    assert [c["metric"] for c in data["gate"]] == ["accuracy"]
    assert any(m["name"] == "epochs" for m in data["metrics"])  # the rest of the file stays
    assert any("shown once, as evaluated from the predictions" in n for n in data["notes"])


def test_another_file_with_the_same_metric_name_keeps_its_row(in_repo: Repo, capsys) -> None:
    """Only the training's own copy of an evaluated metric gives way; a metrics file of
    another model that also reports `accuracy` keeps its row and its gate verdict."""
    in_repo.write("baseline_model/metrics.json", {"accuracy": 0.7})
    data = run_two_sources(
        in_repo,
        capsys,
        metrics="metrics: [baseline_model/metrics.json, results/metrics.json, "
        ".cml-py/out/metrics.json]\n",
        gate="'baseline_model/metrics.json:accuracy': {min: 0.5}",
    )
    files = sorted(m["file"] for m in data["metrics"] if m["name"] == "accuracy")
    assert files == [".cml-py/out/metrics.json", "baseline_model/metrics.json"]
    [check] = data["gate"]
    assert (check["file"], check["status"], check["value"]) == (
        "baseline_model/metrics.json",
        "pass",
        0.7,
    )


def test_a_missing_base_fails_before_training(in_repo: Repo, capsys) -> None:
    import sys

    in_repo.write("cml.yaml", f"train: {{command: [{sys.executable}, -c, 'print(1/0)']}}\n")
    in_repo.commit()
    result = run_cli(capsys, "run", "--no-publish", "--base", "nope")
    assert result.code == 2 and "base 'nope' (from --base) not found" in result.err
    assert "▶ train" not in result.err  # seconds, not a training run


def test_diff_before_training_says_to_train_first(in_repo: Repo, capsys) -> None:
    """A fresh checkout has no training outputs yet: the message said only that the file
    does not exist."""
    in_repo.write(
        "cml.yaml",
        "train:\n  command: python3 train.py\n  outputs: {metrics: [m.json]}\n"
        "baseline: {strategy: git}\n",
    )
    in_repo.write(".gitignore", "m.json\n")
    in_repo.commit()
    result = run_cli(capsys, "diff")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.strip() == (
        "cml-py: error: cml.yaml: train outputs: file 'm.json' does not exist (training "
        "writes it: run `cml-py train` or your training first; `cml-py run` trains unless "
        "--skip-train)"
    )
