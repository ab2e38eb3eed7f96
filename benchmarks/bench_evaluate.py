#!/usr/bin/env python3
"""Evaluation with paired confidence intervals, and chart drawing, at growing sizes.

For each scenario it writes main's and this PR's predictions as CSV and measures, as
child processes run in alternation (A B A B …, so a busy machine slows both alike),
min / median / max wall time and peak RSS of:

* `cml-py evaluate head.csv --base base.csv --json` — read both files, every metric,
  1,000 paired bootstrap resamples, McNemar and DeLong;
* a peer in the same run: scikit-learn computing the point metrics alone (accuracy,
  F1, ROC AUC, average precision, log loss; no intervals) from the same files.

Then, in-process, the median time to draw and save each chart as PNG.

    python benchmarks/bench_evaluate.py
    python benchmarks/bench_evaluate.py --scenarios binary-10k --repeat 3
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SCENARIOS = {
    "binary-10k": (2, 10_000),
    "binary-1M": (2, 1_000_000),
    "10-class-100k": (10, 100_000),
    "10000-class-20k": (10_000, 20_000),  # labels only: bounded memory with many classes
}
SCORES_UP_TO = 100  # classes; above, the files hold labels only (no proba_ columns)

PEER = """
import sys
import numpy as np, pandas as pd
from sklearn import metrics as m
for path in sys.argv[1:]:
    f = pd.read_csv(path)
    proba = f[[c for c in f.columns if c.startswith("proba_")]].to_numpy()
    y, p = f["y_true"].to_numpy(), f["y_pred"].to_numpy()
    m.accuracy_score(y, p); m.f1_score(y, p, average="macro")
    if proba.shape[1] == 2:
        m.roc_auc_score(y, proba[:, 1]); m.average_precision_score(y, proba[:, 1])
    elif proba.shape[1] > 2:
        m.roc_auc_score(y, proba, multi_class="ovr")
    if proba.shape[1]:
        m.log_loss(y, proba)
"""


def write_predictions(directory: Path, k: int, n: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, k, n)
    paths = []
    for name, boost in (("base", 0.30), ("head", 0.32)):
        import pandas as pd

        if k > SCORES_UP_TO:
            right = rng.random(n) < 0.5 + boost
            pred = np.where(right, y, rng.integers(0, k, n))
            columns = {"id": np.arange(n), "y_true": [f"c{v}" for v in y]}
            columns["y_pred"] = [f"c{v}" for v in pred]
            path = directory / f"{name}.csv"
            pd.DataFrame(columns).to_csv(path, index=False)
            paths.append(path)
            continue
        scores = rng.dirichlet(np.ones(k), n)
        scores[np.arange(n), y] += rng.uniform(0, 2 * boost, n)
        scores /= scores.sum(axis=1, keepdims=True)
        columns = {"id": np.arange(n), "y_true": y, "y_pred": scores.argmax(axis=1)}
        columns.update({f"proba_{c}": np.round(scores[:, c], 6) for c in range(k)})

        path = directory / f"{name}.csv"
        pd.DataFrame(columns).to_csv(path, index=False)
        paths.append(path)
    return paths[0], paths[1]


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err[-800:]}")
    return elapsed, usage.ru_maxrss / 1024


def alternate(commands: list[list[str]], repeat: int) -> list[list[tuple[float, float]]]:
    """Each command once to warm up, then `repeat` rounds of each in turn."""
    # As installed: .pyc files may be written (pip compiles them at install time).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for cmd in commands:
        run_measured(cmd, env)
    samples: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(repeat):
        for i, cmd in enumerate(commands):
            samples[i].append(run_measured(cmd, env))
    return samples


def spread(samples: list[tuple[float, float]]) -> str:
    times = [s[0] for s in samples]
    return f"{min(times):.2f} / {statistics.median(times):.2f} / {max(times):.2f}"


def median_time(samples: list[tuple[float, float]]) -> float:
    return statistics.median(s[0] for s in samples)


def peak(samples: list[tuple[float, float]]) -> float:
    return max(s[1] for s in samples)


def chart_times(base: Path, head: Path, repeat: int) -> dict[str, float]:
    from cml_py.charts.data import ChartData, Side
    from cml_py.metrics.diff import diff_sets
    from cml_py.model import MetricFile, MetricSet
    from cml_py.train.evaluate import evaluate
    from cml_py.train.predictions import encode, read_predictions

    b, h = read_predictions(base), read_predictions(head)
    eb, eh = encode(b, h)
    rows = diff_sets(
        MetricSet((MetricFile("m.json", evaluate(b)),)),
        MetricSet((MetricFile("m.json", evaluate(h)),)),
    )
    importance = {f"feature {i}": 1.0 / (i + 1) for i in range(40)}
    steps = np.arange(200.0)
    data = ChartData(
        rows=rows,
        task="classification",
        labels=eb.labels,
        base=Side(eb.y, eb.pred, eb.scores),
        head=Side(eh.y, eh.pred, eh.scores),
        base_importance=importance,
        head_importance=importance,
        base_curves={"loss": (steps, np.exp(-steps / 50))},
        head_curves={"loss": (steps, np.exp(-steps / 40))},
    )
    times: dict[str, list[float]] = {}
    for _ in range(repeat):
        for draw_one in _each_chart():
            start = time.perf_counter()
            chart = draw_one(data)
            if chart.figure is not None:
                chart.figure.savefig(io.BytesIO(), format="png", dpi=chart.figure.dpi)
            times.setdefault(chart.name, []).append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _each_chart():
    from cml_py.charts import classification, curves, importance, metric_changes

    return (
        metric_changes.metric_changes,
        classification.roc_pr,
        classification.confusion,
        curves.training_curves,
        importance.feature_importance,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-charts", action="store_true", help="Skip the chart timings.")
    args = parser.parse_args()
    cml = [sys.executable, "-m", "cml_py"]
    rows = []
    chart_rows = []
    with tempfile.TemporaryDirectory(prefix="cml-py-bench-eval-") as tmp:
        for name in args.scenarios.split(","):
            k, n = SCENARIOS[name]
            directory = Path(tmp) / name
            directory.mkdir()
            # In a child process: a benchmark process grown by writing a million rows
            # would lend its size to the peak memory of every command it starts.
            subprocess.run(
                [sys.executable, __file__, "--write", str(directory), str(k), str(n)], check=True
            )
            base, head = directory / "base.csv", directory / "head.csv"
            ours, peer = alternate(
                [
                    [*cml, "evaluate", str(head), "--base", str(base), "--json"],
                    [sys.executable, "-c", PEER, str(base), str(head)],
                ],
                args.repeat,
            )
            rows.append(
                (
                    name,
                    f"{n:,}",
                    f"{k:,}",
                    spread(ours),
                    f"{peak(ours):.0f}",
                    spread(peer),
                    f"{peak(peer):.0f}",
                    f"{median_time(ours) / median_time(peer):.2f}x",
                )
            )
        # Charts in this process, after every command was measured (see above).
        for name in args.scenarios.split(","):
            k, _ = SCENARIOS[name]
            if k > SCORES_UP_TO or args.no_charts:
                continue
            directory = Path(tmp) / name
            times = chart_times(directory / "base.csv", directory / "head.csv", 3)
            chart_rows += [(name, chart, f"{seconds:.3f}") for chart, seconds in times.items()]
    _table(
        (
            "scenario",
            "rows",
            "classes",
            "cml-py evaluate --base s (min / median / max)",
            "peak MiB",
            "sklearn point metrics s (min / median / max)",
            "peak MiB",
            "cml-py ÷ sklearn (median)",
        ),
        rows,
    )
    if chart_rows:
        print()
        _table(("scenario", "chart", "draw + PNG s"), chart_rows)
    print(
        f"\n{args.repeat} alternating rounds after a warm-up (charts: median of 3); "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
        "1,000 paired bootstrap resamples",
        file=sys.stderr,
    )


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write_predictions(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
