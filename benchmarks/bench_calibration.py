#!/usr/bin/env python3
"""Calibration of `significant: true` gate rules: how often a no-op PR fails (false-fail
rate) and how often a real regression is caught (power), with real scikit-learn models.

Each trial draws a training set and a test set from one fixed synthetic world
(`make_classification`, 20 features) and trains random forests the way the built-in
trainer does — one split, a seed per model:

* main: 3 seeds;
* a no-op PR: 3 other seeds, nothing else changed;
* a degraded PR: half the training rows and 8 % of their labels flipped (about a
  1.5-point accuracy drop; the table prints the drop measured in the same run), 3 seeds.

Every test size is a prefix of one test draw, and `repeats: 1` uses each side's first
seed, so all cells of a trial share their models. The gate is cml-py's own: paired
statistics (`cml_py.train.stats.paired_statistics`, 1,000 resamples) and
`cml_py.gate.evaluate_gate` on the resulting rows, exactly as `cml-py run` judges them.
Rates come with Wilson 95 % intervals over the trials.

    python benchmarks/bench_calibration.py                      # 300 trials, 2 processes
    python benchmarks/bench_calibration.py --trials 40 --sizes 5000 --jobs 1
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np

from cml_py import inference
from cml_py.config import GateRule
from cml_py.gate import evaluate_gate
from cml_py.metrics.diff import diff_sets
from cml_py.model import MetricFile, MetricSet, Status
from cml_py.train.predictions import Predictions
from cml_py.train.stats import paired_statistics

POOL_TRAIN = 100_000  # rows the training sets are drawn from; the rest feed the test sets
POOL_SIZE = 300_000
GATE4 = ("accuracy", "f1_macro", "roc_auc", "log_loss")
RULES = {
    "max_drop: 0 (no statistics)": [GateRule("accuracy", max_drop=0)],
    "max_drop: 0, significant": [GateRule("accuracy", max_drop=0, significant=True)],
    "max_drop: 0.005, significant": [GateRule("accuracy", max_drop=0.005, significant=True)],
    "4 rules, Holm": [GateRule(m, max_drop=0, significant=True) for m in GATE4],
}
NO_HOLM = "4 rules, each alone"


@dataclass(frozen=True)
class Setup:
    sizes: tuple[int, ...]
    train_rows: int
    trees: int
    resamples: int
    seed: int


_world: tuple[np.ndarray, np.ndarray] | None = None


def world() -> tuple[np.ndarray, np.ndarray]:
    global _world
    if _world is None:
        from sklearn.datasets import make_classification

        _world = make_classification(
            n_samples=POOL_SIZE,
            n_features=20,
            n_informative=8,
            n_redundant=4,
            flip_y=0.05,
            class_sep=0.8,
            random_state=0,
        )
    return _world


def _forest(X, y, seed: int, trees: int, test_X) -> np.ndarray:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1)
    return model.fit(X, y).predict_proba(test_X)


def _side(y: np.ndarray, probas: list[np.ndarray], n: int, r: int) -> list[Predictions]:
    return [
        Predictions(
            source="bench",
            y_true=y[:n],
            y_pred=p[:n].argmax(axis=1),
            ids=None,
            proba=p[:n],
            proba_labels=("0", "1"),
            task="classification",
        )
        for p in probas[:r]
    ]


def _fails(rules: list[GateRule], rows) -> bool:
    return any(c.status is Status.FAIL for c in evaluate_gate(rules, rows).checks)


def trial(args: tuple[Setup, int]) -> list[tuple]:
    """One trial: train 9 forests, judge every (PR, size, repeats) cell — on one core,
    since --jobs runs trials side by side."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _trial(*args)


def _trial(setup: Setup, t: int) -> list[tuple]:
    X, y = world()
    rng = np.random.default_rng([setup.seed, t])
    train = rng.choice(POOL_TRAIN, setup.train_rows, replace=False)
    test = POOL_TRAIN + rng.choice(POOL_SIZE - POOL_TRAIN, max(setup.sizes), replace=False)
    test_X, test_y = X[test], y[test]
    half = train[: setup.train_rows // 2]
    noisy = y[half].copy()
    flip = rng.random(len(half)) < 0.08
    noisy[flip] = 1 - noisy[flip]
    base_seed = 1000 * t + 100_000 * setup.seed
    models = {
        "main": [_forest(X[train], y[train], base_seed + i, setup.trees, test_X) for i in range(3)],
        "no-op": [
            _forest(X[train], y[train], base_seed + 10 + i, setup.trees, test_X) for i in range(3)
        ],
        "degraded": [
            _forest(X[half], noisy, base_seed + 20 + i, setup.trees, test_X) for i in range(3)
        ],
    }
    out = []
    for n in setup.sizes:
        for pr in ("no-op", "degraded"):
            for r in (1, 3):
                result = paired_statistics(
                    _side(test_y, models["main"], n, r),
                    _side(test_y, models[pr], n, r),
                    resamples=setup.resamples,
                    seed=t,
                )
                rows = diff_sets(
                    MetricSet((MetricFile("m.json", result.base),)),
                    MetricSet((MetricFile("m.json", result.head),)),
                )
                rows = tuple(row._replace(stat=result.stats.get(row.name)) for row in rows)
                delta = result.head["accuracy"] - result.base["accuracy"]
                for name, rules in RULES.items():
                    out.append((pr, n, r, name, _fails(rules, rows), delta))
                alone = any(_fails([rule], rows) for rule in RULES["4 rules, Holm"])
                out.append((pr, n, r, NO_HOLM, alone, delta))
    return out


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    z = inference.norm_ppf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def table(records: list[tuple], trials: int) -> str:
    """One row per (PR, rule, seeds a side), one column per test size: the share of
    trials whose gate failed, with its Wilson 95 % interval."""
    counts: dict[tuple, int] = defaultdict(int)
    deltas: dict[tuple, list[float]] = defaultdict(list)
    for pr, n, r, name, failed, delta in records:
        counts[(pr, n, r, name)] += failed
        if name == NO_HOLM:
            deltas[(pr, n, r)].append(delta)
    sizes = sorted({key[1] for key in counts})
    lines = [
        "| PR | rule | seeds a side | " + " | ".join(f"{n:,} test rows" for n in sizes) + " |",
        "|---|---|---|" + "---|" * len(sizes),
    ]
    for pr in ("no-op", "degraded"):
        for name in (*RULES, NO_HOLM):
            for r in (1, 3):
                cells = []
                for n in sizes:
                    k = counts[(pr, n, r, name)]
                    lo, hi = wilson(k, trials)
                    cells.append(f"{k / trials:.1%} [{lo:.1%}, {hi:.1%}]")
                lines.append(f"| {pr} | {name} | {r} | " + " | ".join(cells) + " |")
    largest = sizes[-1]
    drops = np.array(deltas[("degraded", largest, 3)])
    noop = np.array(deltas[("no-op", largest, 3)])
    spread = np.array(deltas[("no-op", largest, 1)])
    lines.append("")
    lines.append(
        f"Accuracy change on {largest:,} test rows, mean over 3 seeds a side: degraded PR "
        f"{drops.mean():+.4f} (sd {drops.std(ddof=1):.4f} over {len(drops)} trials), no-op PR "
        f"{noop.mean():+.4f} (sd {noop.std(ddof=1):.4f}); one seed a side, no-op: sd "
        f"{spread.std(ddof=1):.4f}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--sizes", default="5000,30000,100000", help="test rows, comma-separated")
    parser.add_argument("--jobs", type=int, default=2, help="processes (one core each)")
    parser.add_argument("--train-rows", type=int, default=4000)
    parser.add_argument("--trees", type=int, default=40)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    setup = Setup(
        sizes=tuple(int(s) for s in args.sizes.split(",")),
        train_rows=args.train_rows,
        trees=args.trees,
        resamples=args.resamples,
        seed=args.seed,
    )
    started = time.perf_counter()
    work = [(setup, t) for t in range(args.trials)]
    records: list[tuple] = []
    if args.jobs > 1:
        with get_context("fork").Pool(args.jobs) as pool:
            for i, out in enumerate(pool.imap_unordered(trial, work), start=1):
                records.extend(out)
                _progress(i, args.trials, started)
    else:
        for i, item in enumerate(work, start=1):
            records.extend(trial(item))
            _progress(i, args.trials, started)
    elapsed = time.perf_counter() - started
    print(
        f"{args.trials} trials, test sizes {args.sizes}, random forests of {args.trees} trees "
        f"on {args.train_rows:,} training rows, {args.resamples:,} resamples; "
        f"{args.jobs} process(es), {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{elapsed / 60:.1f} min"
    )
    print()
    print(table(records, args.trials))
    return 0


def _progress(done: int, total: int, started: float) -> None:
    if done % 10 == 0 or done == total:
        elapsed = time.perf_counter() - started
        print(f"  {done}/{total} trials, {elapsed:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
