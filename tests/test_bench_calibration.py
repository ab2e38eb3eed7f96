"""A small, seeded smoke run of the calibration benchmark (the real one takes ~20 min and
is statistical; see benchmarks/README.md)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_calibration.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_calibration", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_wilson_interval(bench) -> None:
    z2 = 1.959963984540054**2
    assert bench.wilson(0, 10) == pytest.approx((0.0, z2 / (10 + z2)))
    lo, hi = bench.wilson(5, 100)
    assert lo == pytest.approx(0.02154, abs=1e-4) and hi == pytest.approx(0.11175, abs=1e-4)


def test_smoke_run_prints_the_table(bench, capsys) -> None:
    args = ["--trials", "4", "--sizes", "1500,3000", "--trees", "8", "--resamples", "200"]
    assert bench.main([*args, "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "4 trials, test sizes 1500,3000" in out
    assert "| PR | rule | seeds a side | 1,500 test rows | 3,000 test rows |" in out
    rows = [line for line in out.splitlines() if line.startswith(("| no-op", "| degraded"))]
    assert len(rows) == 2 * 5 * 2
    rates = {}
    for line in rows:
        pr, rule, seeds, *cells = (c.strip() for c in line.strip("|").split("|"))
        rates[(pr, rule, int(seeds))] = [float(c.split("%")[0]) / 100 for c in cells]
    # a degradation of a few points is caught on every trial, by every rule
    assert rates[("degraded", "max_drop: 0, significant", 3)] == [1.0, 1.0]
    # a no-op PR never fails a tolerance of 0.005 with three seeds a side
    assert rates[("no-op", "max_drop: 0.005, significant", 3)] == [0.0, 0.0]
    # Holm's gate fails no more often than its rules each alone
    for pr in ("no-op", "degraded"):
        for seeds in (1, 3):
            holm = rates[(pr, "4 rules, Holm", seeds)]
            alone = rates[(pr, "4 rules, each alone", seeds)]
            assert all(h <= a for h, a in zip(holm, alone, strict=True))
    assert "Accuracy change on 3,000 test rows" in out
    drop = float(out.split("degraded PR ")[1].split(" ")[0])
    assert drop < -0.01 and not math.isnan(drop)


def test_trials_are_reproducible_whatever_the_process(bench) -> None:
    setup = bench.Setup(sizes=(1000,), train_rows=1000, trees=5, resamples=100, seed=3)
    assert bench.trial((setup, 1)) == bench.trial((setup, 1))
