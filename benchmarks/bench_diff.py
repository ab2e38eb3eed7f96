#!/usr/bin/env python3
"""Wall time and peak memory of `cml-py diff`, `gate` and `report`, beside `dvc metrics diff`.

For each size it generates a git repository whose `main` holds N metrics in one
`metrics.json` nested three levels deep (`stage<k>.group<j>.metric_<i>`), with a
feature branch that changes every value (so every row is compared and rendered) and a
cml.yaml with two gate rules (a name and a glob). It then runs the commands in rounds,
one after the other (A B A B …, so a noisy machine slows every tool alike), and prints
min / median / max of the wall time, the peak RSS, and the ratios measured in the same
run. dvc lives in its own virtual environment (benchmarks/.venv-dvc, created on first
use); it is never a dependency of cml-py.

    python benchmarks/bench_diff.py                          # 5, 5,000, 50,000, 500,000
    python benchmarks/bench_diff.py --sizes 5,50000 --repeat 9
    python benchmarks/bench_diff.py --files 20000            # many small metrics files
    python benchmarks/bench_diff.py --no-dvc
    python benchmarks/bench_diff.py --floor --sizes 5 --repeat 15   # what start-up is made of
"""

from __future__ import annotations

import argparse
import dataclasses
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
GATE = (
    "metrics: [{target}]\n"
    "gate:\n"
    "  stage0.group0.metric_0: {{min: 0.1, max_drop: 0.5}}\n"
    "  '*metric_1': {{max_drop_pct: 50}}\n"
)
REPORTS = {
    "gate": ["gate"],
    "report md": ["report", "-o", "-"],
    "report json": ["report", "-o", "-", "--format", "json"],
    "report text": ["report", "-o", "-", "--format", "text"],
    "report junit": ["report", "-o", "-", "--format", "junit"],
}


def run_measured(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak MiB) of one child process, from wait4's own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({code}): {err.strip()[-500:]}")
    return elapsed, usage.ru_maxrss / 1024.0


def alternate(
    commands: dict[str, list[str]], cwd: Path, env: dict[str, str], repeat: int
) -> dict[str, list[tuple[float, float]]]:
    """Every command once to warm up (page cache, .pyc files), then `repeat` rounds in
    which each runs once, in turn."""
    for cmd in commands.values():
        run_measured(cmd, cwd, env)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            samples[name].append(run_measured(cmd, cwd, env))
    return samples


def spread(samples: list[tuple[float, float]]) -> str:
    times = [s[0] for s in samples]
    return f"{min(times):.3f} / {statistics.median(times):.3f} / {max(times):.3f}"


def median_time(samples: list[tuple[float, float]]) -> float:
    return statistics.median(s[0] for s in samples)


def peak(samples: list[tuple[float, float]]) -> str:
    return f"{max(s[1] for s in samples):.0f}"


def write_metrics(path: Path, n: int, shift: float) -> None:
    """N metrics nested three levels (100 per group, 10,000 per stage), written as it is
    generated: the benchmark process must stay small, or every child it forks would
    report the parent's memory as its own peak."""
    with path.open("w") as out:
        out.write("{")
        for i in range(n):
            stage, group, first_in_stage, first_in_group = (
                i // 10_000,
                i // 100,
                i % 10_000 == 0,
                i % 100 == 0,
            )
            if first_in_stage:
                out.write(("}}, " if i else "") + f'"stage{stage}": {{')
            if first_in_group:
                out.write(("}, " if not first_in_stage else "") + f'"group{group}": {{')
            value = round(0.5 + (i % 97) / 1000 + shift + i * 1e-9, 9)
            out.write(("" if first_in_group else ", ") + f'"metric_{i}": {value!r}')
        out.write("}}}" if n else "}")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def new_repo(path: Path, dvc: Path | None) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "bench@example.invalid")
    git(path, "config", "user.name", "bench")
    git(path, "config", "commit.gpgsign", "false")
    if dvc:
        subprocess.run([str(dvc), "init", "-q"], cwd=path, check=True, capture_output=True)
        subprocess.run([str(dvc), "config", "core.analytics", "false"], cwd=path, check=True)
    return path


def make_repo(root: Path, n: int, dvc: Path | None) -> Path:
    repo = new_repo(root / f"repo-{n}", dvc)
    write_metrics(repo / "metrics.json", n, 0.0)
    (repo / "cml.yaml").write_text(GATE.format(target="metrics.json"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "baseline")
    git(repo, "gc", "-q")
    git(repo, "checkout", "-q", "-b", "feature")
    write_metrics(repo / "metrics.json", n, 0.01)
    return repo


def make_files_repo(root: Path, files: int, dvc: Path | None) -> Path:
    """`files` metrics files of two metrics each in one directory, matched by a glob."""
    repo = new_repo(root / f"files-{files}", dvc)
    folder = repo / "metrics"
    folder.mkdir()
    for shift, commit in ((0.0, True), (0.01, False)):
        for i in range(files):
            values = {"acc": round(0.5 + i % 97 / 1000 + shift, 6), "loss": 0.3 - shift}
            (folder / f"run{i}.json").write_text(json.dumps(values))
        if commit:
            (repo / "cml.yaml").write_text(
                "metrics: ['metrics/*.json']\ngate:\n  acc: {min: 0.1}\n  '*loss': {max: 1}\n"
            )
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", "baseline")
            git(repo, "gc", "-q")
            git(repo, "checkout", "-q", "-b", "feature")
    return repo


FLOOR_IMPORTS = "import click, yaml, json, subprocess, pathlib, dataclasses"
"""What any cml-py command imports before its own code: its CLI, its config format, and
the standard modules it cannot do without."""
GIT_CALLS = "; ".join(["subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True)"] * 4)
"""Four git processes, as many as a diff starts (rev-parse stands in for each)."""
DATACLASS_TIME = """
import dataclasses, io, sys, time, contextlib
make = dataclasses._process_class
spent = []
def timed(cls, *args):
    start = time.perf_counter()
    try:
        return make(cls, *args)
    finally:
        spent.append(time.perf_counter() - start)
dataclasses._process_class = timed
from cml_py.cli import main
sys.argv = ["cml-py", "diff", "--base", "main"]
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main()
print(len(spent), sum(spent))
"""
"""Instrumentation, not a measure of speed: how long Python spends generating the
methods of the dataclasses a diff imports (a private function of dataclasses, wrapped)."""


def start_up_floor(
    cml: list[str], repo: Path, env: dict[str, str], repeat: int
) -> list[tuple[str, str]]:
    """The parts of a 5-metric diff that are not cml-py's own code, measured beside it."""
    python = sys.executable
    commands = {
        "python -c pass": [python, "-c", "pass"],
        f"imports: {FLOOR_IMPORTS[7:]}": [python, "-c", FLOOR_IMPORTS],
        "the same imports and 4 git processes": [python, "-c", f"{FLOOR_IMPORTS}; {GIT_CALLS}"],
        "cml-py diff": [*cml, "diff", "--base", "main"],
    }
    samples = alternate(commands, repo, env, repeat)
    rows = [(name, spread_ms(runs)) for name, runs in samples.items()]
    if hasattr(dataclasses, "_process_class"):
        spent = []
        for _ in range(repeat):
            out = subprocess.run(
                [python, "-c", DATACLASS_TIME], cwd=repo, env=env, capture_output=True, text=True
            )
            count, seconds = out.stdout.split()
            spent.append((float(seconds), 0.0))
        rows.append((f"of which generating {count} dataclasses' methods", spread_ms(spent)))
    return rows


TARGET_RATIO = 5.0
"""Issue #9's target at 5 and 50,000 metrics: `diff` this many times faster than dvc."""


def budget_rows(floor: list[tuple[str, str]], dvc_median: float) -> list[tuple[str, str]]:
    """What the target leaves for cml-py's own code, from the medians just measured: the
    time 5x dvc allows, minus the floor (Python, the imports any command needs, the git
    processes), against what cml-py's own imports and work take now."""
    medians = {name: float(cell.split(" / ")[1]) for name, cell in floor}
    allowed = dvc_median * 1000 / TARGET_RATIO
    base = medians["the same imports and 4 git processes"]
    own = medians["cml-py diff"] - base
    return [
        (
            f"{TARGET_RATIO:g}x faster than dvc's median ({dvc_median:.3f} s) allows",
            f"{allowed:.0f}",
        ),
        ("of which left for cml-py's own imports and work", f"{allowed - base:.0f}"),
        ("cml-py's own imports and work now (diff - imports and git)", f"{own:.0f}"),
    ]


def spread_ms(samples: list[tuple[float, float]]) -> str:
    times = [s[0] * 1000 for s in samples]
    return f"{min(times):.0f} / {statistics.median(times):.0f} / {max(times):.0f}"


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


def dvc_version(dvc: Path) -> str:
    out = subprocess.run([str(dvc), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


def table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,5000,50000,500000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", type=int, default=0, help="Also: this many metrics files.")
    parser.add_argument("--no-dvc", action="store_true", help="Skip the dvc comparison.")
    parser.add_argument(
        "--no-reports", action="store_true", help="Only diff (and dvc), not gate/report."
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="Also: what start-up is made of, on the smallest size's repository.",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    dvc = None if args.no_dvc else ensure_dvc(install=True)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "NO_COLOR": "1"}
    # Measure what an installed tool costs: pip writes .pyc files at install time, so the
    # warm-up run may write them here too (some CI images set PYTHONDONTWRITEBYTECODE).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for key in [k for k in env if k.startswith(("GITHUB_", "CI_", "GITLAB_", "CML_PY_"))]:
        env.pop(key)
    cml = cml_command()
    versus: list[tuple[str, ...]] = []
    floor: list[tuple[str, str]] = []
    reports: list[tuple[str, ...]] = []
    root = Path(tempfile.mkdtemp(prefix="cml-py-bench-"))
    try:
        helped = alternate({"help": [*cml, "--help"]}, root, env, args.repeat)["help"]
        versus.append(("cml-py --help", "-", "-", spread(helped), "-", peak(helped)))
        cases = [(f"{n:,}", make_repo(root, n, dvc), "metrics.json") for n in sizes]
        if args.files:
            cases.append(
                (f"{args.files:,} files", make_files_repo(root, args.files, dvc), "metrics")
            )
        for label, repo, target in cases:
            print(f"measuring {label} ...", file=sys.stderr)
            commands = {"cml-py diff": [*cml, "diff", "--base", "main"]}
            if dvc:
                commands["dvc"] = [str(dvc), "metrics", "diff", "--targets", target, "--", "main"]
            if not args.no_reports:
                commands.update(
                    {name: [*cml, *cmd, "--base", "main"] for name, cmd in REPORTS.items()}
                )
            samples = alternate(commands, repo, env, args.repeat)
            diff = samples["cml-py diff"]
            if dvc:
                ratio = median_time(samples["dvc"]) / median_time(diff)
                versus.append(
                    (
                        "cml-py diff",
                        label,
                        spread(samples["dvc"]),
                        spread(diff),
                        f"{ratio:.1f}x",
                        f"{peak(diff)} / {peak(samples['dvc'])}",
                    )
                )
            else:
                versus.append(("cml-py diff", label, "-", spread(diff), "-", peak(diff)))
            if args.floor and label == cases[0][0]:
                floor = start_up_floor(cml, repo, env, args.repeat)
                if dvc:
                    floor += budget_rows(floor, median_time(samples["dvc"]))
            for name in REPORTS if not args.no_reports else ():
                ratio = median_time(samples[name]) / median_time(diff)
                reports.append(
                    (name, label, spread(samples[name]), f"{ratio:.2f}x", peak(samples[name]))
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    table(
        (
            "command",
            "metrics",
            "dvc metrics diff s (min / median / max)",
            "cml-py s (min / median / max)",
            "dvc ÷ cml-py (median)",
            "peak MiB cml-py / dvc",
        ),
        versus,
    )
    if reports:
        print()
        table(
            ("command", "metrics", "s (min / median / max)", "÷ cml-py diff (median)", "peak MiB"),
            reports,
        )
    if floor:
        print()
        table(("what runs", "ms (min / median / max)"), floor)
    where = f"dvc {dvc_version(dvc)}, " if dvc else ""
    print(
        f"\n{args.repeat} alternating rounds after a warm-up; {where}python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
