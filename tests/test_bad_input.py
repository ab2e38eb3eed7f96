"""A corpus of bad inputs: each exits 2 with one line on stderr naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Repo
from tests.helpers import run_cli, run_process

GOOD_METRICS = '{"acc": 0.9}'

CASES = [
    # (files to write before the run, CLI args, expected fragment of the one-line error)
    ({"cml.yaml": "gate: {acc: [\n"}, ["gate"], "cml.yaml:2:1: invalid YAML"),
    ({"cml.yaml": "metrcs: [m.json]\n"}, ["diff"], "cml.yaml: metrcs: unknown key"),
    (
        {"cml.yaml": "gate: {acc: {min: '0.9x'}}\n"},
        ["gate"],
        "cml.yaml: gate.acc.min: expected a number, got '0.9x' (str)",
    ),
    (
        {"cml.yaml": "gate: {acc: {max_drop: 0.1, informational: 1}}\n"},
        ["gate"],
        "gate.acc.informational: expected true or false, got 1 (int)",
    ),
    ({}, ["diff", "--config", "nope.yaml"], "nope.yaml: config file not found"),
    (
        {"cml.yaml": "metrics: [missing.json]\n"},
        ["diff"],
        "cml.yaml: metrics: file 'missing.json' does not exist",
    ),
    (
        {"cml.yaml": "metrics: ['out/*.json']\n"},
        ["diff"],
        "cml.yaml: metrics: 'out/*.json' matches no file",
    ),
    (
        {"cml.yaml": "metrics: [out]\n", "out/x.json": GOOD_METRICS},
        ["diff"],
        "cml.yaml: metrics: file 'out' is a directory, expected a file",
    ),
    ({}, ["diff", "--metrics", "nope.json"], "--metrics: file 'nope.json' does not exist"),
    ({"m.txt": "acc 1"}, ["diff", "--metrics", "m.txt"], "m.txt: unsupported file type '.txt'"),
    ({"metrics.json": '{"acc": 0.9,}'}, ["diff"], "metrics.json:1:13: invalid JSON"),
    (
        {"metrics.yaml": "acc: 1\nacc: 2\n"},
        ["diff"],
        "metrics.yaml:2:1: invalid YAML: duplicate key 'acc'",
    ),
    ({"metrics.toml": "acc = = 1\n"}, ["diff"], "metrics.toml: invalid TOML"),
    (
        {"metrics.csv": "a,b\n1,2\n3,4\n"},
        ["diff"],
        "metrics.csv: expected a header row and one row of values",
    ),
    ({"metrics.json": "[1, 2]"}, ["gate"], "metrics.json: expected a mapping of names to values"),
    (
        {"metrics.json": GOOD_METRICS},
        ["report", "--template", "nope.j2", "-o", "-"],
        "nope.j2: template file not found",
    ),
    (
        {"metrics.json": GOOD_METRICS, "t.j2": "{% for %}"},
        ["report", "--template", "t.j2", "-o", "-", "--trust-pr-config"],
        "t.j2:1: template syntax error",
    ),
    ({"readme.md": "no metrics here"}, ["diff"], "no metrics file found in"),
]


@pytest.mark.parametrize(("files", "args", "message"), CASES)
def test_bad_input_exits_2_with_one_line(in_repo: Repo, capsys, files, args, message) -> None:
    in_repo.commit("an empty base")
    for name, content in files.items():
        in_repo.write(name, content)
    result = run_cli(capsys, *args)
    assert result.code == 2, (result.out, result.err)
    assert message in result.err
    assert result.err.startswith("cml-py: error: ") and result.err.count("\n") == 1
    assert "Traceback" not in result.err


def test_outside_a_git_repository(tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "metrics.json").write_text(GOOD_METRICS)
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "diff")
    assert result.code == 2 and "not inside a git repository" in result.err


def test_repository_without_commits(in_repo: Repo, capsys) -> None:
    in_repo.write("metrics.json", GOOD_METRICS)
    result = run_cli(capsys, "diff")
    assert result.code == 2 and "HEAD has no commit yet" in result.err


def test_unwritable_output(in_repo: Repo, capsys) -> None:
    in_repo.write("metrics.json", GOOD_METRICS)
    in_repo.commit()
    in_repo.write("blocker", "a file, not a directory")
    result = run_cli(capsys, "report", "-o", "blocker/report.md")
    assert result.code == 2 and "blocker/report.md: cannot write" in result.err


def test_usage_errors_exit_2(in_repo: Repo, capsys) -> None:
    assert run_cli(capsys, "diff", "--no-such-flag").code == 2
    assert run_cli(capsys, "report", "--format", "pdf").code == 2
    assert run_cli(capsys, "no-such-command").code == 2


def test_subprocess_bad_config_has_no_traceback(in_repo: Repo) -> None:
    in_repo.write("metrics.json", GOOD_METRICS)
    in_repo.write("cml.yaml", "gate: {acc: {min: [1]}}\n")
    in_repo.commit()
    result = run_process(in_repo.path, "gate")
    assert result.code == 2
    assert (
        result.err == "cml-py: error: cml.yaml: gate.acc.min: expected a number, got [1] (list)\n"
    )


def test_a_tracking_uri_whose_password_breaks_the_url_never_prints_it(
    in_repo: Repo, capsys, monkeypatch
) -> None:
    """`#`, `/` or `?` in a password that is not percent-encoded makes the URL parse
    with part of the password as its port; the parser's message quoted it."""
    in_repo.write("metrics.json", {"acc": 0.9})
    in_repo.write("cml.yaml", "metrics: [metrics.json]\nmlflow: {experiment: e}\n")
    in_repo.commit("main")
    for password in ("S3cretPW#tail0123", "S3cretPW/tail0123", "S3cretPW?tail0123"):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://admin:{password}@127.0.0.1:5917")
        result = run_cli(capsys, "diff")
        assert result.code == 2, result.err
        assert "MLFLOW_TRACKING_URI: not a valid URL" in result.err
        assert "percent-encode" in result.err
        assert "S3cret" not in result.out + result.err and "tail0123" not in result.err
