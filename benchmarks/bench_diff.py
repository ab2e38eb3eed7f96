#!/usr/bin/env python3
"""Wall time and peak memory of `cml-py --help` and `cml-py diff`, beside `dvc metrics diff`.

Generates one git repository per size (main holds N metrics, a feature branch changes
every one of them, so every row is rendered), runs each command several times and
prints the median wall time, the median peak RSS and the ratio against dvc measured in
the same run. dvc lives in its own virtual environment (benchmarks/.venv-dvc, created
on first use); it is never a dependency of cml-py.

    python benchmarks/bench_diff.py                      # sizes 5, 5000, 50000
    python benchmarks/bench_diff.py --sizes 5 --repeat 15 --no-dvc
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DVC_VENV = HERE / ".venv-dvc"


def run_measured(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak MiB) of one child process, from wait4's own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-500:]}")
    return elapsed, usage.ru_maxrss / 1024.0


def median_of(cmd: list[str], cwd: Path, env: dict[str, str], repeat: int) -> tuple[float, float]:
    run_measured(cmd, cwd, env)  # warm the page cache and .pyc files
    samples = [run_measured(cmd, cwd, env) for _ in range(repeat)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def metrics_tree(n: int, shift: float) -> dict:
    """N metrics as DVCLive-like nested JSON: groups of 100 under `group<k>`."""
    tree: dict[str, dict[str, float]] = {}
    for i in range(n):
        tree.setdefault(f"group{i // 100}", {})[f"metric_{i}"] = round(
            0.5 + (i % 97) / 1000 + shift, 6
        )
    return tree


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path, n: int, with_dvc: Path | None) -> Path:
    repo = root / f"repo-{n}"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "bench@example.invalid")
    git(repo, "config", "user.name", "bench")
    git(repo, "config", "commit.gpgsign", "false")
    if with_dvc:
        subprocess.run([str(with_dvc), "init", "-q"], cwd=repo, check=True, capture_output=True)
        subprocess.run([str(with_dvc), "config", "core.analytics", "false"], cwd=repo, check=True)
    (repo / "metrics.json").write_text(json.dumps(metrics_tree(n, 0.0)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "baseline")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "metrics.json").write_text(json.dumps(metrics_tree(n, 0.01)))
    return repo


def ensure_dvc(install: bool) -> Path | None:
    dvc = DVC_VENV / "bin" / "dvc"
    if dvc.exists():
        return dvc
    if not install:
        return None
    print(f"installing dvc into {DVC_VENV} (once) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(DVC_VENV)], check=True)
    subprocess.run([str(DVC_VENV / "bin" / "pip"), "install", "-q", "dvc"], check=True)
    return dvc


def cml_command() -> list[str]:
    script = Path(sys.executable).parent / "cml-py"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cml_py"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,5000,50000")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-dvc", action="store_true", help="Skip the dvc comparison.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    dvc = None if args.no_dvc else ensure_dvc(install=True)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "NO_COLOR": "1"}
    # Measure what an installed tool costs: pip writes .pyc files at install time, so the
    # warm-up run may write them here too (some CI images set PYTHONDONTWRITEBYTECODE).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for key in [k for k in env if k.startswith(("GITHUB_", "CI_", "GITLAB_"))]:
        env.pop(key)
    cml = cml_command()
    rows: list[tuple[str, str, str, str, str, str]] = []
    root = Path(tempfile.mkdtemp(prefix="cml-py-bench-"))
    try:
        help_t, help_m = median_of([*cml, "--help"], root, env, args.repeat)
        rows.append(("cml-py --help", "-", f"{help_t:.3f}", f"{help_m:.0f}", "-", "-"))
        for n in sizes:
            repo = make_repo(root, n, dvc)
            t, m = median_of(
                [*cml, "diff", "--metrics", "metrics.json", "--base", "main"],
                repo,
                env,
                args.repeat,
            )
            dvc_t = dvc_m = None
            if dvc:
                dvc_t, dvc_m = median_of(
                    [str(dvc), "metrics", "diff", "--targets", "metrics.json", "--", "main"],
                    repo,
                    env,
                    args.repeat,
                )
            rows.append(
                (
                    "cml-py diff",
                    f"{n:,}",
                    f"{t:.3f}",
                    f"{m:.0f}",
                    f"{dvc_t:.3f} / {dvc_m:.0f}" if dvc_t is not None else "-",
                    f"{dvc_t / t:.1f}x" if dvc_t is not None else "-",
                )
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    headers = ("command", "metrics", "median s", "peak MiB", "dvc median s / MiB", "dvc ÷ cml-py")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(
        f"\n{args.repeat} runs each after one warm-up; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
