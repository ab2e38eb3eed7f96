"""Running the real CLI entry point in-process and as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cml_py.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """`cml-py ARGS` through `main()`, with its exit code and both streams."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    code = exc.value.code
    return Result(code if isinstance(code, int) else 0, captured.out, captured.err)


def run_process(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """`python -m cml_py ARGS` in a child process, exactly as CI would run it."""
    proc = subprocess.run(
        [sys.executable, "-m", "cml_py", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
