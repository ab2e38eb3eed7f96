"""`cml-py init`, the GitHub Action and the GitLab CI template."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.conftest import Repo
from tests.helpers import run_cli
from tests.publish_env import github_actions

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "actions" / "report" / "action.yml"
GITLAB_TEMPLATE = ROOT / "templates" / "gitlab" / "cml-py.gitlab-ci.yml"
INSTALLATION = "ghs_installation_token_0123456789"


def test_init_writes_config_workflow_and_gitignore(in_repo: Repo, capsys) -> None:
    in_repo.write(".gitignore", "*.pyc")
    result = run_cli(capsys, "init")
    assert result.code == 0, result.err
    workflow = yaml.safe_load((in_repo.path / ".github/workflows/cml-py.yml").read_text())
    assert workflow["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "checks": "write",
        "statuses": "write",
    }
    checkout = workflow["jobs"]["cml-py"]["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
    assert (in_repo.path / ".gitignore").read_text() == "*.pyc\n.cml-py/\ncml-py-report/\n"
    config = (in_repo.path / "cml.yaml").read_text()
    again = run_cli(capsys, "init")
    assert again.code == 2
    assert "cml.yaml, .github/workflows/cml-py.yml already exist; nothing was written" in again.err
    (in_repo.path / "cml.yaml").write_text("# mine\n")
    assert run_cli(capsys, "init", "--force").code == 0
    assert (in_repo.path / "cml.yaml").read_text() == config
    assert (in_repo.path / ".gitignore").read_text().count(".cml-py/") == 1


def test_init_gitlab_keeps_an_existing_ci_file(in_repo: Repo, capsys) -> None:
    in_repo.write(".gitlab-ci.yml", "stages: [test]\n")
    result = run_cli(capsys, "init")  # detected from the existing CI file
    assert result.code == 0
    assert (in_repo.path / ".gitlab-ci.yml").read_text() == "stages: [test]\n"
    assert (in_repo.path / ".gitlab/cml-py.gitlab-ci.yml").exists()
    assert (
        "add this to .gitlab-ci.yml:\ninclude:\n  - local: .gitlab/cml-py.gitlab-ci.yml"
        in result.err
    )


def test_init_output_is_read_back_by_run_dry_run(in_repo: Repo, capsys) -> None:
    assert run_cli(capsys, "init", "--github").code == 0
    in_repo.commit("adopt cml-py")
    in_repo.branch("feature")
    text = (
        (in_repo.path / "cml.yaml")
        .read_text()
        .replace("{n_estimators: 200, max_depth: 8}", "{n_estimators: 50, max_depth: 4}")
    )
    (in_repo.path / "cml.yaml").write_text(text)
    result = run_cli(capsys, "run", "--dry-run", "--no-charts")
    assert result.code in (0, 1), result.err
    report = (in_repo.path / "cml-py-report" / "report.md").read_text()
    assert "| accuracy |" in report and "| params.n\\_estimators | 200 | 50 |" in report
    assert "re-trained at" in report


def test_action_yml_is_complete() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(action)
    runs = action["runs"]
    assert runs["using"] == "composite"
    steps_text = yaml.safe_dump(runs["steps"])
    for name, spec in action["inputs"].items():
        assert "description" in spec, name
        assert f"inputs.{name}" in steps_text, f"input {name} is never used"
    ids = {step.get("id") for step in runs["steps"]}
    for name, spec in action["outputs"].items():
        match = re.fullmatch(r"\$\{\{ steps\.(\w+)\.outputs\.([\w-]+) \}\}", spec["value"])
        assert match and match.group(1) in ids and match.group(2) == name, name
    for step in runs["steps"]:
        if "run" in step:
            assert step.get("shell") == "bash", step
            assert "${{" not in step["run"], "inputs reach scripts through env, never inline"
        else:
            assert re.match(r"^[\w-]+/[\w-]+@v\d+$", step["uses"]), step
    upload = next(s for s in runs["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()"
    assert '"$GITHUB_ACTION_PATH/../.."' in steps_text  # installs the action's own version


def test_every_action_output_is_set_by_cml_py_run(
    in_repo: Repo, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.write("cml.yaml", "metrics: [m.json]\n")
    in_repo.commit()
    files = github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    assert run_cli(capsys, "run", "--no-charts").code == 0
    written = set(re.findall(r"^([\w-]+)<<", files["output"].read_text(), re.MULTILINE))
    assert set(yaml.safe_load(ACTION.read_text())["outputs"]) <= written


def test_gitlab_template_shape() -> None:
    document = yaml.safe_load(GITLAB_TEMPLATE.read_text())
    job = document["cml-py"]
    conditions = [rule["if"] for rule in job["rules"]]
    assert '$CI_PIPELINE_SOURCE == "merge_request_event"' in conditions
    assert "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in conditions
    assert job["variables"]["GIT_DEPTH"] == "0"
    assert job["cache"]["paths"] == [".cache/pip"] and "PIP_CACHE_DIR" in job["variables"]
    reports = job["artifacts"]["reports"]
    assert reports == {"junit": "cml-py-report/gate.xml", "metrics": "cml-py-report/metrics.txt"}
    assert job["artifacts"]["when"] == "always" and "cml-py-report/" in job["artifacts"]["paths"]
    script = "\n".join(job["script"])
    assert "cml-py run" in script and "cml-py baseline save" in script


def test_the_files_gitlab_reports_read_are_what_run_writes(in_repo: Repo, capsys) -> None:
    in_repo.write("m.json", {"eval": {"acc": 0.9, "loss": float("nan")}, "flag": True})
    in_repo.write("cml.yaml", "metrics: [m.json]\ngate: {eval.acc: {min: 0.5}}\n")
    in_repo.commit()
    assert run_cli(capsys, "run", "--no-charts").code == 0
    metrics = (in_repo.path / "cml-py-report" / "metrics.txt").read_text()
    assert metrics == "eval_acc 0.9\n"  # OpenMetrics names; NaN and flags left out
    assert (in_repo.path / "cml-py-report" / "gate.xml").read_text().startswith("<?xml")
