"""`cml-py demo`: the whole job on a built-in example, offline, in a temporary repository.

It is the README's first command, so it must work on a fresh machine with nothing but
this package and git: it builds a tiny project with a baseline on `main` and a feature
branch, then runs the same pipeline a CI job runs and leaves the report in a directory.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from cml_py.errors import EXIT_GATE_FAILED, EXIT_OK
from cml_py.git import Git

CONFIG = """\
# cml.yaml of the demo project: which files hold metrics and params, and the gate.
metrics:
  - metrics.json
params:
  - params.yaml
gate:
  test.accuracy: {min: 0.9, max_drop: 0.01}
  test.roc_auc: {min: 0.95}
  "*loss": {max_drop_pct: 10}
  train.duration_s: {max_drop_pct: 50, informational: true}
"""

MAIN_METRICS = {
    "test": {"accuracy": 0.9231, "roc_auc": 0.9712, "f1": 0.9012, "log_loss": 0.2143},
    "train": {"accuracy": 0.9987, "log_loss": 0.0412, "duration_s": 1.84},
    "per_class": {"f1": [0.8912, 0.9112]},
}
MAIN_PARAMS = "model: RandomForestClassifier\nn_estimators: 100\nmax_depth: 6\nseed: 0\n"

BRANCH_METRICS = {
    "test": {"accuracy": 0.9371, "roc_auc": 0.9804, "f1": 0.9213, "log_loss": 0.1875},
    "train": {"accuracy": 0.9994, "log_loss": 0.0297, "duration_s": 2.71},
    "per_class": {"f1": [0.9102, 0.9324]},
}
BRANCH_PARAMS = "model: RandomForestClassifier\nn_estimators: 300\nmax_depth: 8\nseed: 0\n"

FAILING_METRICS = {
    "test": {"accuracy": 0.8811, "roc_auc": 0.9433, "f1": 0.8607, "log_loss": 0.3391},
    "train": {"accuracy": 0.9001, "log_loss": 0.2874, "duration_s": 0.61},
    "per_class": {"f1": [0.8502, 0.8712]},
}
FAILING_PARAMS = "model: LogisticRegression\nC: 0.01\nmax_iter: 50\nseed: 0\n"


def _commit(git: Git, message: str) -> None:
    git.run("add", "-A")
    git.run(
        "-c",
        "user.name=cml-py demo",
        "-c",
        "user.email=demo@cml-py.invalid",
        "-c",
        "commit.gpgsign=false",
        "commit",
        "-q",
        "-m",
        message,
    )


def build_demo_repo(root: Path, *, fail: bool) -> None:
    """main: the baseline model and its metrics; feature branch: the PR's change."""
    git = Git(root)
    git.run("init", "-q")
    git.run("checkout", "-q", "-b", "main")
    (root / "cml.yaml").write_text(CONFIG)
    (root / "metrics.json").write_text(json.dumps(MAIN_METRICS, indent=2))
    (root / "params.yaml").write_text(MAIN_PARAMS)
    _commit(git, "Baseline model")
    git.run("checkout", "-q", "-b", "feature/bigger-forest")
    metrics, params = (FAILING_METRICS, FAILING_PARAMS) if fail else (BRANCH_METRICS, BRANCH_PARAMS)
    (root / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (root / "params.yaml").write_text(params)
    _commit(git, "Try a different model")


def run_demo(output: Path, *, fail: bool, echo: Callable[[str], None]) -> int:
    from cml_py import pipeline
    from cml_py.config import load_config
    from cml_py.fsio import write_atomic
    from cml_py.report import render

    with tempfile.TemporaryDirectory(prefix="cml-py-demo-") as tmp:
        repo = Path(tmp)
        build_demo_repo(repo, fail=fail)
        echo(f"cml-py demo: project with a baseline on main and a PR branch in {repo}")
        config = load_config(None, cwd=repo)
        compared = pipeline.compare_all(config, pipeline.Selection(), cwd=repo, env={})
        comparison = compared.comparison
        gate_result = pipeline.gate(compared)
        report = pipeline.build_report(
            config, comparison, gate_result, report_id="demo", show_all=False
        )
        output.mkdir(parents=True, exist_ok=True)
        written = []
        for fmt, name in (
            ("md", "report.md"),
            ("text", "report.txt"),
            ("json", "report.json"),
            ("junit", "report.xml"),
        ):
            write_atomic(output / name, render(report, fmt))
            written.append(output / name)
    echo(render(report, "text").rstrip())
    echo("")
    for path in written:
        echo(f"wrote {path}")
    return EXIT_OK if gate_result.passed else EXIT_GATE_FAILED
