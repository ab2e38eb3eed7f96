#!/usr/bin/env python3
"""Data drift between main and a PR: cml-py beside Evidently's data-drift preset.

Writes main's and the PR's dataset as Parquet (ROWS × 45 numeric + 5 categorical
columns; the PR shifts 3 numeric columns, changes 1 category and adds missing values),
then times, each as a child process and alternating A B A B so both see the same machine
state:

  cml-py compute   read both files, then every measure (schema, quality, PSI,
                   Wasserstein, JS, KS/chi² p-values, duplicates); the compute part is
                   timed on its own
  cml-py diff      the whole command in a git repository whose cml.yaml has `data:`
                   (main's file streamed from git, both read, compared, rendered)
  evidently        read both files, then `Report([DataDriftPreset()])` on them (its
                   per-column choice: normed Wasserstein for numbers, Jensen-Shannon for
                   categories above 1,000 rows); the compute part is timed on its own

Peak memory is the child's max RSS (wait4). Evidently is installed on first use into
benchmarks/.venv-evidently (with pandas < 3, which it needs); it is never a dependency
of cml-py. The numbers both tools give for the same columns are printed side by side.

    python benchmarks/bench_data.py                       # 1,000,000 rows, 3 runs each
    python benchmarks/bench_data.py --rows 100000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
EVIDENTLY_VENV = HERE / ".venv-evidently"
NUMERIC, CATEGORICAL = 45, 5

CML_CHILD = """
import json, sys, time
start = time.perf_counter()
from cml_py.data.compare import Side, compare_dataset
from cml_py.data.config import DatasetSpec
from cml_py.data.read import read_frame
spec = DatasetSpec("d", ("d.parquet",))
base = read_frame(sys.argv[1], "main", "parquet", max_columns=1000)
head = read_frame(sys.argv[2], "pr", "parquet", max_columns=1000)
read = time.perf_counter()
result = compare_dataset(spec, Side.of(base, spec), Side.of(head, spec))
done = time.perf_counter()
values = {k: v for k, v in result.head.items() if k.endswith((".wasserstein", ".js"))}
print(json.dumps({"read": read - start, "compute": done - read, "values": values}))
"""

EVIDENTLY_CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
start = time.perf_counter()
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
base = pd.read_parquet(sys.argv[1])
head = pd.read_parquet(sys.argv[2])
read = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=head, reference_data=base)
data = snapshot.dict()
done = time.perf_counter()
values = {}
for metric in data["metrics"]:
    config = metric.get("config", {})
    if "column" in config:
        kind = "wasserstein" if "Wasserstein" in config.get("method", "") else "js"
        values[f"data.d.{config['column']}.{kind}"] = metric["value"]
print(json.dumps({"read": read - start, "compute": done - read, "values": values}))
"""


def run_child(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, dict]:
    """(wall seconds, peak MiB from wait4 on the exact process, the child's JSON)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_chunks = []
    assert proc.stdout is not None and proc.stderr is not None
    out_chunks.append(proc.stdout.read())
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({code}): {err.decode()[-600:]}")
    try:
        data = json.loads(b"".join(out_chunks).decode().strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        data = {}
    return wall, usage.ru_maxrss / 1024, data


def make_data(directory: Path, rows: int, changed: str = "some") -> tuple[Path, Path]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    base = {f"num_{i}": rng.normal(i % 7, 1 + i % 3, rows) for i in range(NUMERIC)}
    base.update(
        {
            f"cat_{i}": rng.choice(["a", "b", "c", "d", "e", "f"][: 3 + i], rows)
            for i in range(CATEGORICAL)
        }
    )
    base_frame = pd.DataFrame(base)
    head_frame = base_frame.copy()
    rng = np.random.default_rng(1)
    for i in range(NUMERIC) if changed == "all" else (0, 1, 2):
        head_frame[f"num_{i}"] = rng.normal(i % 7 + 0.1 * (i + 1), 1 + i % 3, rows)
    head_frame.loc[rng.random(rows) < 0.05, "num_3"] = np.nan
    head_frame["cat_0"] = rng.choice(["a", "b", "z"], rows)
    paths = directory / "main.parquet", directory / "pr.parquet"
    base_frame.to_parquet(paths[0], index=False)
    head_frame.to_parquet(paths[1], index=False)
    return paths


def make_repo(directory: Path, base: Path, head: Path) -> Path:
    import shutil

    repo = directory / "repo"
    (repo / "data").mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "b@example.invalid")
    git("config", "user.name", "b")
    git("config", "commit.gpgsign", "false")
    (repo / "m.json").write_text('{"acc": 0.9}')
    (repo / "cml.yaml").write_text(
        'metrics: [m.json]\ndata:\n  train: data/train.parquet\ngate:\n  "data.*.psi": {max: 0.2}\n'
    )
    shutil.copyfile(base, repo / "data/train.parquet")
    git("add", "-A")
    git("commit", "-q", "-m", "main")
    git("checkout", "-q", "-b", "pr")
    shutil.copyfile(head, repo / "data/train.parquet")
    git("commit", "-q", "-am", "pr")
    return repo


def ensure_evidently() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently", "pandas<3", "pyarrow"],
            check=True,
        )
    return python


def summary(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--make-data", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument(
        "--changed",
        choices=("some", "all"),
        default="some",
        help="the PR shifts 3 numeric columns (default) or all 45",
    )
    args = parser.parse_args()
    if args.make_data:  # in a child: the parent stays small (a forked child starts its
        make_data(Path(args.make_data), args.rows, args.changed)  # peak RSS at the parent's)
        return
    evidently = None if args.no_evidently else ensure_evidently()
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        directory = Path(tmp)
        maker = [sys.executable, __file__, "--make-data", tmp, "--rows", str(args.rows)]
        subprocess.run([*maker, "--changed", args.changed], check=True)
        base, head = directory / "main.parquet", directory / "pr.parquet"
        repo = make_repo(directory, base, head)
        size = base.stat().st_size / 1024 / 1024
        print(
            f"{args.rows:,} rows × {NUMERIC + CATEGORICAL} columns per side, Parquet "
            f"{size:,.0f} MiB per file; the PR shifts {args.changed} numeric columns; "
            f"{args.repeat} runs each, alternating\n"
        )
        runs: dict[str, list[tuple[float, float, dict]]] = {}
        tools = {
            "cml-py compute": ([sys.executable, "-c", CML_CHILD, str(base), str(head)], None),
            "cml-py diff": (
                [sys.executable, "-m", "cml_py", "diff", "--json"],
                repo,
            ),
        }
        if evidently is not None:
            tools["evidently"] = (
                [str(evidently), "-c", EVIDENTLY_CHILD, str(base), str(head)],
                None,
            )
        for cmd, cwd in tools.values():  # warm-up: page cache, .pyc files
            run_child(cmd, cwd)
        for _ in range(args.repeat):
            for name, (cmd, cwd) in tools.items():
                runs.setdefault(name, []).append(run_child(cmd, cwd))
        print(
            "| tool | wall s (min / median / max) | compute s (min / median / max) "
            "| peak MiB (max) |"
        )
        print("|---|---|---|---|")
        for name, results in runs.items():
            walls = [r[0] for r in results]
            computes = [r[2].get("compute", float("nan")) for r in results]
            compute = summary(computes) if results[0][2].get("compute") is not None else "-"
            print(f"| {name} | {summary(walls)} | {compute} | {max(r[1] for r in results):,.0f} |")
        if "evidently" in runs:
            ours = runs["cml-py compute"][0][2]["values"]
            theirs = runs["evidently"][0][2]["values"]
            shared = sorted(set(ours) & set(theirs))
            worst = max((abs(ours[k] - theirs[k]) for k in shared), default=float("nan"))
            print(
                f"\nSame measures, both tools ({len(shared)} columns): "
                f"largest difference {worst:.2g}"
            )
            for key in [
                k for k in shared if any(f".{c}." in k for c in ("num_0", "num_5", "cat_0"))
            ]:
                print(f"  {key}: cml-py {ours[key]:.4f}, evidently {theirs[key]:.4f}")


if __name__ == "__main__":
    main()
