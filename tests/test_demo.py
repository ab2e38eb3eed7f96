"""The README's first command: `cml-py demo`, offline, in a temporary repository."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import run_cli


def test_demo_as_the_readme_runs_it(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "cml-py"
    command = [str(script), "demo"] if script.exists() else [sys.executable, "-m", "cml_py", "demo"]
    assert shutil.which("git")
    proc = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "cml-demo"
    report = (out / "report.md").read_text()
    assert report.startswith("<!-- cml-py report id=demo -->\n### ✅ cml-py: gate passed")
    assert "| accuracy |" in report and ("within noise" in report or "significant" in report)
    assert "re-trained at" in report  # main was trained again in a worktree
    for chart in ("metric_changes", "roc_pr", "confusion", "feature_importance"):
        assert (out / "charts" / f"{chart}.png").read_bytes().startswith(b"\x89PNG")
    html = (out / "report.html").read_text()
    assert "<table>" in html and '<img src="charts/metric_changes.png"' in html
    assert "<details><summary>More charts" in html and "&lt;!-- cml-py" not in html
    # every metric changed and is in the table, so no collapsed copy of it
    assert "<details><summary>All metrics" not in html
    assert json.loads((out / "report.json").read_text())["verdict"] == "pass"
    assert "✅ gate passed in" in proc.stderr and "cml-demo/report.html" in proc.stderr
    assert "cml-py-report" not in proc.stderr  # the temporary repository's folder


def test_demo_fail_shows_a_failing_gate(tmp_path: Path, capsys) -> None:
    result = run_cli(capsys, "demo", "--fail", "-o", str(tmp_path / "out"))
    assert result.code == 1
    report = (tmp_path / "out" / "report.md").read_text()
    assert "### ❌ cml-py: gate failed" in report
    assert "| ❌ | accuracy | ≥ 0.9 |" in report
    assert "❌ gate failed in" in result.err
