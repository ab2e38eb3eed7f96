#!/usr/bin/env python3
"""`cml-py diff` on a DVC project beside `dvc metrics diff main`, and what DVC support
costs a project without DVC.

Builds a DVC project in a temporary git repository (main's metrics are a cached DVC
output, pushed to a local directory remote; a branch changes them), then times, as child
processes, alternating A B A B so both see the same machine state:

  dvc-warm    cml-py diff  vs  dvc metrics diff main   (main's objects in the local cache)
  dvc-remote  cml-py diff with the local cache emptied before every run (fetch from the
              remote; dvc metrics diff does not fetch, so it has no counterpart)
  no-dvc      cml-py diff on a plain git project, this checkout vs --ref CHECKOUT (e.g.
              the main branch's worktree), to show DVC support costs nothing there

Needs the dvc package (`pip install -e ".[dvc]"`).

    python benchmarks/bench_dvc.py --repeat 15 --ref /path/to/other/checkout
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
CHECKOUT = HERE.parent


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-400:]}")
    return elapsed


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def dvc(cwd: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path, n: int, with_dvc: bool) -> Path:
    repo = root / ("dvc" if with_dvc else "plain")
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for key, value in (("user.email", "b@example.invalid"), ("user.name", "b")):
        git(repo, "config", key, value)
    git(repo, "config", "commit.gpgsign", "false")
    metrics = {f"metric_{i}": 0.5 + i / 1000 for i in range(n)}
    if with_dvc:
        dvc(repo, "init", "-q")
        dvc(repo, "config", "core.analytics", "false")
        dvc(repo, "remote", "add", "-d", "storage", str(root / "remote"))
        (repo / "write.py").write_text(
            "import json, os, sys\nos.makedirs('eval', exist_ok=True)\n"
            "json.dump(json.load(open('values.json')), open('eval/metrics.json', 'w'))\n"
        )
        (repo / "dvc.yaml").write_text(
            "stages:\n  eval:\n    cmd: python write.py\n    deps: [values.json]\n"
            "    outs: [eval]\nmetrics: [eval/metrics.json]\n"
        )
        (repo / "values.json").write_text(json.dumps(metrics))
        dvc(repo, "repro", "-q")
    else:
        (repo / "metrics.json").write_text(json.dumps(metrics))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    if with_dvc:
        dvc(repo, "push", "-q")
    git(repo, "checkout", "-q", "-b", "feature")
    changed = {k: v + 0.01 for k, v in metrics.items()}
    if with_dvc:
        (repo / "values.json").write_text(json.dumps(changed))
        dvc(repo, "repro", "-q")
    else:
        (repo / "metrics.json").write_text(json.dumps(changed))
    git(repo, "commit", "-q", "-am", "feature")
    return repo


def cml(checkout: Path) -> list[str]:
    code = f"import sys; sys.path.insert(0, {str(checkout)!r}); from cml_py.cli import main; main()"
    return [sys.executable, "-c", code]


def alternate(a, b, repeat: int) -> tuple[list[float], list[float]]:
    """A B A B …: both commands see the same machine state; one warm-up each first."""
    a(), b() if b else None
    times_a, times_b = [], []
    for _ in range(repeat):
        times_a.append(a())
        if b:
            times_b.append(b())
    return times_a, times_b


def stats(times: list[float]) -> str:
    if not times:
        return "-"
    return f"{min(times):.3f} / {statistics.median(times):.3f} / {max(times):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--ref", type=Path, help="Another checkout of cml-py to compare with.")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="cml-py-bench-dvc-") as tmp:
        root = Path(tmp)
        repo = make_repo(root, args.metrics, with_dvc=True)
        plain = make_repo(root, args.metrics, with_dvc=False)
        diff = [*cml(CHECKOUT), "diff"]
        dvc_diff = [sys.executable, "-m", "dvc", "metrics", "diff", "main"]
        a, b = alternate(
            lambda: run(diff, repo, env), lambda: run(dvc_diff, repo, env), args.repeat
        )
        rows.append(
            (
                "dvc-warm",
                "cml-py diff",
                stats(a),
                "dvc metrics diff main",
                stats(b),
                f"{statistics.median(b) / statistics.median(a):.1f}x",
            )
        )

        def cold() -> float:
            shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
            return run(diff, repo, env)

        a, _ = alternate(cold, None, max(3, args.repeat // 3))
        rows.append(("dvc-remote", "cml-py diff", stats(a), "-", "-", "-"))
        if args.ref:
            a, b = alternate(
                lambda: run(diff, plain, env),
                lambda: run([*cml(args.ref.resolve()), "diff"], plain, env),
                args.repeat,
            )
            rows.append(
                (
                    "no-dvc",
                    "cml-py diff (this)",
                    stats(a),
                    f"cml-py diff ({args.ref})",
                    stats(b),
                    f"{statistics.median(b) / statistics.median(a):.2f}x",
                )
            )
    headers = ("scenario", "A", "A min / median / max s", "B", "B min / median / max s", "B ÷ A")
    widths = [max(len(str(r[i])) for r in (headers, *rows)) for i in range(len(headers))]
    for line in (headers, tuple("-" * w for w in widths), *rows):
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
