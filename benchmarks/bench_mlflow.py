#!/usr/bin/env python3
"""Reading runs from a local MLflow tracking server: cml-py's REST client beside MLflow's.

Starts `mlflow server` (SQLite backend, local artifact root, one worker) on 127.0.0.1,
logs main's run and this PR's run — each 100 metrics × 1,000 steps by default — and
prints min / median / max of several repeats for:

* the import cost of each client (a child process each; peak RSS from `wait4`);
* fetching one run (latest values, params, tags): `runs/get` vs MlflowClient.get_run;
* fetching the full step history of every metric: cml-py's paged `metrics/get-history`
  vs MlflowClient.get_metric_history, one request per metric either way;
* what cml-py fetches for a report: both runs, and the histories of the metrics the
  training-curves chart draws (six per side);
* `cml-py diff` end to end in a git repository whose cml.yaml has `mlflow:` (a child
  process: start-up, the experiment, main's run by commit, this PR's run by commit).

    python benchmarks/bench_mlflow.py
    python benchmarks/bench_mlflow.py --metrics 20 --steps 200 --repeat 3

Needs `mlflow` (the test extra has it). The server and its workers run in their own
process group and are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from cml_py.train.command import stop_process_group


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlflow", "server"),
            *("--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"),
            *("--default-artifact-root", str(root / "art")),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"mlflow server exited: see {root / 'server.log'}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.2)
    stop_process_group(proc, grace=15.0)
    sys.exit("mlflow server did not start")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(root: Path, experiment: str) -> tuple[Path, str, str]:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for key, value in (("user.name", "bench"), ("user.email", "b@example.invalid")):
        git(repo, "config", key, value)
    (repo / "cml.yaml").write_text(
        f"mlflow: {{experiment: {experiment}}}\nbaseline: {{strategy: mlflow}}\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    main = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "pr")
    git(repo, "commit", "-q", "--allow-empty", "-m", "pr")
    return repo, main, git(repo, "rev-parse", "HEAD")


LOGGER = """
import json, sys, time
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

url, experiment, metrics, steps, *commits = sys.argv[1:]
client = MlflowClient(url)
experiment_id = client.create_experiment(experiment)
ids = []
for commit in commits:
    run = client.create_run(experiment_id, tags={"mlflow.source.git.commit": commit})
    now = int(time.time() * 1000)
    points = [
        Metric(f"metric_{m:03d}", 1.0 / (1 + s + m), now + s, s)
        for m in range(int(metrics))
        for s in range(int(steps))
    ]
    for i in range(0, len(points), 1000):  # log_batch takes 1,000 metrics a call
        client.log_batch(run.info.run_id, metrics=points[i : i + 1000])
    client.log_batch(run.info.run_id, params=[Param(f"p{i}", str(i)) for i in range(20)])
    client.set_terminated(run.info.run_id)
    ids.append(run.info.run_id)
print(json.dumps(ids))
"""


def log_runs(url: str, experiment: str, metrics: int, steps: int, *commits: str) -> list[str]:
    """Logged by a child process, so that this one never imports mlflow before the
    child processes below are measured (a fork starts with its parent's memory, and
    the peak RSS that wait4 reports would include it)."""
    out = subprocess.run(
        [sys.executable, "-c", LOGGER, url, experiment, str(metrics), str(steps), *commits],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm-up: connections, caches, .pyc files
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def child(cmd: list[str], repeat: int, cwd: Path | None = None, env=None) -> tuple[list, int]:
    samples, peak = [], 0
    for i in range(repeat + 1):
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if status != 0:
            sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
        if i:  # the first run is a warm-up
            samples.append(elapsed)
            peak = max(peak, usage.ru_maxrss // 1024)
    return samples, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", type=int, default=100)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    history_repeat = max(1, min(args.repeat, 3))

    from cml_py.mlflow import runs as r
    from cml_py.mlflow.rest import Client
    from cml_py.mlflow.source import histories

    rows: list[tuple[str, str, list[float], str]] = []
    with tempfile.TemporaryDirectory(prefix="cml-py-bench-mlflow-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        proc, url = start_server(root)
        print(f"server up in {time.perf_counter() - started:.1f} s at {url}", file=sys.stderr)
        try:
            repo, main_sha, pr_sha = make_repo(root, "bench")
            started = time.perf_counter()
            base_id, head_id = log_runs(url, "bench", args.metrics, args.steps, main_sha, pr_sha)
            print(
                f"logged 2 runs of {args.metrics} × {args.steps} in "
                f"{time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
            # Child processes first, while this one has not imported mlflow (see log_runs).
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            for what, code in (
                ("import MlflowClient (mlflow-skinny)", "from mlflow.tracking import MlflowClient"),
                ("import cml-py's MLflow client", "import cml_py.mlflow.source"),
            ):
                samples, peak = child([sys.executable, "-c", code], args.repeat, env=env)
                rows.append((what, "-", samples, str(peak)))
            env["MLFLOW_TRACKING_URI"] = url
            samples, peak = child(
                [sys.executable, "-m", "cml_py", "diff"], args.repeat, cwd=repo, env=env
            )
            rows.append(("cml-py diff, end to end (child process)", "3", samples, str(peak)))

            from mlflow.tracking import MlflowClient

            theirs = MlflowClient(url)
            ours = Client(url, {})
            requests = count_requests(ours)
            keys = sorted(theirs.get_run(head_id).data.metrics)

            def for_report() -> None:
                head = r.get_run(ours, head_id, "bench")
                base = r.get_run(ours, base_id, "bench")
                histories(ours, ("*",), head, base)

            for what, fn, repeat in (
                ("one run, MlflowClient.get_run", lambda: theirs.get_run(head_id), args.repeat),
                ("one run, cml-py runs/get", lambda: r.get_run(ours, head_id, "b"), args.repeat),
                (
                    f"{len(keys)} full histories, MlflowClient",
                    lambda: [theirs.get_metric_history(head_id, k) for k in keys],
                    history_repeat,
                ),
                (
                    f"{len(keys)} full histories, cml-py",
                    lambda: [r.history(ours, head_id, k) for k in keys],
                    history_repeat,
                ),
                ("cml-py for a report: 2 runs + curves", for_report, args.repeat),
            ):
                requests.clear()
                fn()
                made = len(requests) or (len(keys) if "histories" in what else 1)
                rows.append((what, str(made), timed(fn, repeat), ""))
        finally:
            stop_process_group(proc, grace=15.0)

    print(
        f"\nMLflow {__import__('mlflow').__version__}, {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}, 2 runs of {args.metrics} metrics × {args.steps} steps, "
        f"{args.repeat} repeats ({history_repeat} for full histories), one server worker\n"
    )
    header = ("what", "requests", "min s", "median s", "max s", "peak MiB")
    table = [header] + [
        (what, req, f"{min(s):.3f}", f"{statistics.median(s):.3f}", f"{max(s):.3f}", mib)
        for what, req, s, mib in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def count_requests(client) -> list[str]:
    """Record every request cml-py's client makes (requests for MlflowClient are the
    same endpoints, one per run or per history)."""
    made: list[str] = []
    original = client._request

    def counting(method, path, *args, **kwargs):
        made.append(path)
        return original(method, path, *args, **kwargs)

    client._request = counting
    return made


if __name__ == "__main__":
    main()
