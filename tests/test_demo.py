"""The README's first command: `cml-py demo`, offline, in a temporary repository."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli


def test_demo_writes_a_real_report(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "demo")
    assert result.code == 0, result.err
    out = tmp_path / "cml-demo"
    report = (out / "report.md").read_text()
    assert report.startswith("<!-- cml-py report id=demo -->\n### ✅ cml-py: gate passed")
    assert "| test.accuracy | 0.9231 | 0.9371 | ▲ +0.014 (+1.52%) | 🟢 better |" in report
    assert json.loads((out / "report.json").read_text())["verdict"] == "pass"
    assert "wrote cml-demo/report.md" in result.err
    assert "gate passed" in result.err


def test_demo_fail_shows_a_failing_gate(tmp_path: Path, capsys) -> None:
    result = run_cli(capsys, "demo", "--fail", "-o", str(tmp_path / "out"))
    assert result.code == 1
    report = (tmp_path / "out" / "report.md").read_text()
    assert "### ❌ cml-py: gate failed" in report
    assert "FAIL  test.accuracy" in result.err
