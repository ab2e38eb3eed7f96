"""Smoke runs of the speed benchmarks at tiny sizes: they must keep running and printing
their tables as cml-py changes (the real runs take minutes; see benchmarks/README.md).
Their numbers are not asserted: timings belong to the benchmark, not to the suite."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
TIMES = re.compile(r"\d+\.\d+ / \d+\.\d+ / \d+\.\d+")


def run(script: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_", "CML_PY_"))}
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_bench_diff_prints_every_command_and_the_start_up_floor() -> None:
    out = run("bench_diff.py", "--no-dvc", "--sizes", "5,300", "--repeat", "1", "--floor")
    lines = out.splitlines()
    for command, size in [("cml-py diff", "5"), ("cml-py diff", "300"), ("report md", "300")]:
        row = next(line for line in lines if re.match(rf"\| {command} +\| {size} +\|", line))
        assert TIMES.search(row), row
    floor = [line for line in lines if line.startswith(("| python -c pass", "| of which"))]
    assert len(floor) == 2
    assert re.search(r"generating \d+ dataclasses' methods +\| \d+ / \d+ / \d+", floor[1])


def test_the_start_up_budget_is_what_5x_dvc_allows_minus_the_floor() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_diff", BENCHMARKS / "bench_diff.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    floor = [
        ("python -c pass", "10 / 11 / 12"),
        ("the same imports and 4 git processes", "60 / 66 / 70"),
        ("cml-py diff", "100 / 109 / 120"),
    ]
    rows = dict(bench.budget_rows(floor, 0.415))
    assert rows["5x faster than dvc's median (0.415 s) allows"] == "83"
    assert rows["of which left for cml-py's own imports and work"] == "17"
    assert rows["cml-py's own imports and work now (diff - imports and git)"] == "43"


def test_bench_evaluate_prints_the_ratio_to_scikit_learn() -> None:
    out = run("bench_evaluate.py", "--scenarios", "binary-10k", "--repeat", "1", "--no-charts")
    row = next(line for line in out.splitlines() if line.startswith("| binary-10k"))
    assert len(TIMES.findall(row)) == 2
    assert re.search(r"\| \d+\.\d+x +\|$", row), row
