"""`cml-py demo`: the whole job on a built-in example, offline, in a temporary repository.

It is the README's first command, so it must work on a fresh machine with nothing but
this package and git. It builds a small real project — a classifier on scikit-learn's
bundled breast-cancer data — with a baseline model committed on `main` and a feature
branch that changes the model, then runs exactly what `cml-py run` runs in CI: train,
re-train main in a worktree, compare with paired statistics, gate, charts, report. The
report is left in ./cml-demo/ as markdown and as HTML rendered the way GitHub renders it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cml_py.errors import EXIT_GATE_FAILED, EXIT_OK
from cml_py.git import Git
from cml_py.paths import replace_output_directory

MAIN_CONFIG = """\
# cml.yaml — what to train, and the gate every pull request must pass.
train:
  sklearn:
    dataset: sklearn:breast_cancer        # bundled with scikit-learn: nothing to download
    target: target
    model: sklearn.linear_model.LogisticRegression
    params: {C: 0.02, max_iter: 5000}
    test_size: 0.3
    seed: 0
gate:
  accuracy: {min: 0.9, max_drop: 0.01, significant: true}
  roc_auc: {min: 0.95}
  log_loss: {max_drop_pct: 25, informational: true}
"""
BRANCH_MODEL = ("sklearn.ensemble.RandomForestClassifier", "{n_estimators: 200, max_depth: 8}")
FAILING_MODEL = ("sklearn.tree.DecisionTreeClassifier", "{max_depth: 1}")


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _outside_the_demo_repo(echo: Callable[[str], None]) -> Callable[[str], None]:
    """The job's progress, but not where it left the report: that is the temporary
    repository's folder, which is copied to the demo's output and then deleted, and the
    demo names the output itself at the end."""

    def forward(line: str) -> None:
        if not line.startswith("no CI detected: nothing posted;"):
            echo(line)

    return forward


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
    """main: the baseline model; a feature branch: the pull request's change."""
    git = Git(root)
    git.run("init", "-q")
    git.run("checkout", "-q", "-b", "main")
    (root / ".gitignore").write_text(".cml-py/\ncml-py-report/\n")
    (root / "cml.yaml").write_text(MAIN_CONFIG)
    _commit(git, "Baseline: logistic regression")
    git.run("checkout", "-q", "-b", "feature/new-model")
    model, params = FAILING_MODEL if fail else BRANCH_MODEL
    text = MAIN_CONFIG.replace("sklearn.linear_model.LogisticRegression", model)
    text = text.replace("{C: 0.02, max_iter: 5000}", params)
    (root / "cml.yaml").write_text(text)
    _commit(git, f"Try {model.rsplit('.', 1)[1]}")


DVC_TRAIN_SCRIPT = """\
import json, os
import yaml
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.metrics import accuracy_score, roc_auc_score, roc_curve

p = yaml.safe_load(open("params.yaml"))["train"]
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
if p["model"] == "tree":
    model = DecisionTreeClassifier(max_depth=p["max_depth"], random_state=0)
else:
    model = LogisticRegression(C=p["C"], max_iter=5000)
model.fit(X_train, y_train)
proba = model.predict_proba(X_test)[:, 1]
pred = model.predict(X_test)
os.makedirs("eval/plots", exist_ok=True)
metrics = {"accuracy": accuracy_score(y_test, pred), "roc_auc": roc_auc_score(y_test, proba)}
json.dump(metrics, open("eval/metrics.json", "w"), indent=2)
fpr, tpr, _ = roc_curve(y_test, proba)
json.dump([{"fpr": a, "tpr": b} for a, b in zip(fpr.tolist(), tpr.tolist())],
          open("eval/plots/roc.json", "w"))
json.dump([{"actual": int(a), "predicted": int(b)} for a, b in zip(y_test, pred)],
          open("eval/plots/confusion.json", "w"))
"""
DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train]
    outs:
    - eval                  # cached by DVC, git-ignored: main's numbers live in the remote
metrics:
- eval/metrics.json
plots:
- ROC:
    template: simple
    x: fpr
    y: {eval/plots/roc.json: tpr}
- Confusion:
    template: confusion
    x: actual
    y: {eval/plots/confusion.json: predicted}
"""
DVC_CONFIG = """\
# cml.yaml — metrics, params and plots come from dvc.yaml; this adds the gate.
train:
  dvc: repro
gate:
  accuracy: {min: 0.9, max_drop: 0.01}
  roc_auc: {min: 0.95}
"""
DVC_PARAMS = "train:\n  model: logistic\n  C: 0.02\n  max_depth: 3\n"


def _dvc(root: Path, *args: str) -> None:
    import subprocess
    import sys

    from cml_py.errors import CmlError
    from cml_py.tokens import child_env

    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=root,
        env=child_env(),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise CmlError(f"demo: dvc {' '.join(args)} failed", details=tuple(tail))


def build_dvc_demo_repo(root: Path, remote: Path, *, fail: bool) -> None:
    """A DVC project: main's pipeline reproduced and pushed to a local directory remote,
    the local cache then emptied so main's numbers must come from the remote; a branch
    changes the params."""
    git = Git(root)
    git.run("init", "-q")
    git.run("checkout", "-q", "-b", "main")
    _dvc(root, "init", "-q")
    _dvc(root, "config", "core.analytics", "false")
    _dvc(root, "remote", "add", "-d", "storage", str(remote))
    (root / ".gitignore").write_text(".cml-py/\ncml-py-report/\n")
    (root / "train.py").write_text(DVC_TRAIN_SCRIPT)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "params.yaml").write_text(DVC_PARAMS)
    (root / "cml.yaml").write_text(DVC_CONFIG)
    _dvc(root, "repro", "-q")
    _commit(git, "Baseline: logistic regression (dvc repro)")
    _dvc(root, "push", "-q")
    shutil.rmtree(root / ".dvc" / "cache")
    git.run("checkout", "-q", "-b", "feature/new-params")
    params = "model: tree\n  C: 0.02\n  max_depth: 1" if fail else "model: logistic\n  C: 0.5"
    (root / "params.yaml").write_text(
        f"train:\n  {params}\n  max_depth: 3\n".replace(
            "max_depth: 1\n  max_depth: 3", "max_depth: 1"
        )
    )
    _commit(git, "Try other params")


def run_demo(output: Path, *, fail: bool, echo: Callable[[str], None], dvc: bool = False) -> int:
    from cml_py.job import JobOptions, run_job

    started = time.perf_counter()
    target = output.resolve()
    with tempfile.TemporaryDirectory(prefix="cml-py-demo-") as tmp:
        repo = Path(tmp) / "project"
        repo.mkdir()
        if dvc:
            from cml_py.dvc.train import require_dvc

            require_dvc("cml-py demo --dvc")
            build_dvc_demo_repo(repo, Path(tmp) / "dvc-remote", fail=fail)
            echo(
                f"DVC demo project in {repo}: main's pipeline was pushed to a local DVC "
                "remote and its cache emptied; the PR branch changes params.yaml"
            )
        else:
            build_demo_repo(repo, fail=fail)
            echo(
                f"demo project in {repo}: main trains a logistic regression, the PR branch "
                f"{'a one-split decision tree' if fail else 'a random forest'}"
            )
        with _working_directory(repo):
            result = run_job(
                JobOptions(out=repo / "cml-py-report", report_id="demo"),
                env={},
                echo=_outside_the_demo_repo(echo),
            )
        replace_output_directory(target, what="-o")
        shutil.copytree(repo / "cml-py-report", target, dirs_exist_ok=True)
    passed = result.exit_code == EXIT_OK
    echo("")
    verdict = "✅ gate passed" if passed else "❌ gate failed"
    echo(f"{verdict} in {time.perf_counter() - started:.1f} s")
    for name in ("report.md", "report.html", "charts"):
        echo(f"  {os.path.relpath(target / name)}")
    echo("open report.html in a browser to see the comment as a reviewer would")
    return EXIT_OK if passed else EXIT_GATE_FAILED
