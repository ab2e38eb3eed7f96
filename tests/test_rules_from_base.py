"""A PR cannot loosen the gate that judges it: main's rules apply unless trusted."""

from __future__ import annotations

import json

from tests.conftest import Repo
from tests.helpers import run_cli

STRICT = "metrics: [m.json]\ngate:\n  acc: {min: 0.9}\n"
LOOSE = "metrics: [m.json]\ngate:\n  acc: {min: 0.5}\n  f1: {min: 0.1}\n"


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
