"""Start-up cost, help texts and the version: what a user sees before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from cml_py import __version__
from cml_py.cli import cli
from tests.conftest import Repo
from tests.helpers import run_cli

HEAVY = ("pandas", "matplotlib", "sklearn", "github", "gitlab", "numpy", "scipy")
PROBE = (
    "import sys, atexit\n"
    "atexit.register(lambda: print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & "
    "set(sys.argv[1].split(','))), file=sys.stderr))\n"
    "sys.argv = ['cml-py'] + sys.argv[2:]\n"
    "from cml_py.cli import main\n"
    "main()\n"
)


def loaded_modules(cwd, *args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join((*HEAVY, "jinja2")), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("LOADED"))
    return eval(line.removeprefix("LOADED "))  # a list literal printed by the probe


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["diff"],
        ["diff", "--json"],
        ["diff", "--md"],
        ["gate"],
        ["report", "-o", "-"],
        ["report", "--format", "json", "-o", "-"],
        ["report", "--format", "text", "-o", "-"],
        ["report", "--format", "junit", "-o", "-"],
    ],
)
def test_fast_commands_do_not_import_heavy_libraries(repo: Repo, args: list[str]) -> None:
    repo.write("metrics.json", {"acc": 0.5})
    repo.write("cml.yaml", "gate: {acc: {min: 0.1}}\n")
    repo.commit()
    loaded = loaded_modules(repo.path, *args)
    assert not set(loaded) & set(HEAVY), loaded
    if args[0] in ("diff", "gate", "--help"):
        assert "jinja2" not in loaded


def test_every_command_has_help_with_an_example(capsys) -> None:
    ctx = click.Context(cli)
    names = cli.list_commands(ctx)
    assert {"diff", "gate", "report", "demo"} <= set(names)
    for name in names:
        result = run_cli(capsys, name, "--help")
        assert result.code == 0
        assert "Examples:" in result.out, name
        assert f"cml-py {name}" in result.out
    top = run_cli(capsys, "--help")
    assert "Exit codes:" in top.out and "1  the gate failed" in top.out


def test_version(capsys) -> None:
    result = run_cli(capsys, "--version")
    assert result.code == 0 and result.out == f"cml-py {__version__}\n"


def test_a_bug_exits_4_never_1(in_repo: Repo, capsys, monkeypatch) -> None:
    from cml_py import pipeline

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    in_repo.write("metrics.json", {"acc": 0.5})
    in_repo.commit()
    monkeypatch.setattr(pipeline, "gate", broken)
    result = run_cli(capsys, "gate")
    assert result.code == 4
    assert result.err.startswith("cml-py: internal error: ZeroDivisionError: boom")
    assert "Traceback" not in result.err and result.err.count("\n") == 1
    monkeypatch.setenv("CML_PY_DEBUG", "1")
    assert "Traceback" in run_cli(capsys, "gate").err


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])  # click writes UTF-8 to "ascii"
def test_a_log_that_cannot_show_every_character_gets_question_marks(
    repo: Repo, encoding: str
) -> None:
    """A Windows runner's log is often cp1252: no `≥`, no `—`, no metric name in Greek.
    What cannot be shown becomes `?`; the run itself must not fail."""
    repo.write("metrics.json", {"accuracy_α": 0.5})
    repo.write("cml.yaml", "gate: {accuracy_α: {min: 0.1}}\n")
    repo.commit()
    proc = subprocess.run(
        [sys.executable, "-m", "cml_py", "gate"],
        cwd=repo.path,
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": encoding},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode(encoding)
    assert "PASS  accuracy_?" in out and "? 0.1" in out


def test_a_name_the_pr_chose_cannot_write_its_own_log_lines(capsys) -> None:
    """An MLflow run's name, a file's name: quoted in a progress line, a line break in it
    would start a log line the runner reads as a workflow command."""
    from cml_py.cli.options import stderr

    stderr("this PR's numbers: MLflow run ok\n::error title=x::merge\r::stop-commands::t\x1b[2J")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\r" not in err and "\x1b" not in err
    assert err.startswith("cml-py: this PR's numbers: MLflow run ok ::error title=x::merge")
    assert not any(line.startswith("::") for line in err.splitlines())


def test_an_errors_detail_lines_stay_one_line_each(capsys, monkeypatch) -> None:
    from cml_py.cli import app
    from cml_py.errors import CmlError

    def fail(*args: object, **kwargs: object) -> None:
        raise CmlError("training failed", details=["last line\r::error::forged", "x\ny"])

    monkeypatch.setattr(app.cli, "main", fail)
    with pytest.raises(SystemExit):
        app.main(["diff"])
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "cml-py: error: training failed",
        "  | last line ::error::forged",
        "  | x y",
    ]


def test_an_error_naming_a_file_cannot_drive_the_terminal(capsys, monkeypatch) -> None:
    from cml_py.cli import app
    from cml_py.errors import CmlError

    def fail(*args: object, **kwargs: object) -> None:
        raise CmlError("m\x1b[2J\u202e.json: invalid JSON")

    monkeypatch.setattr(app.cli, "main", fail)
    with pytest.raises(SystemExit):
        app.main(["diff"])
    assert capsys.readouterr().err == "cml-py: error: m\ufffd[2J\ufffd.json: invalid JSON\n"
