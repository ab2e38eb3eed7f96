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


def run_demo(output: Path, *, fail: bool, echo: Callable[[str], None]) -> int:
    from cml_py.job import JobOptions, run_job

    started = time.perf_counter()
    target = output.resolve()
    with tempfile.TemporaryDirectory(prefix="cml-py-demo-") as tmp:
        repo = Path(tmp) / "project"
        repo.mkdir()
        build_demo_repo(repo, fail=fail)
        echo(
            f"demo project in {repo}: main trains a logistic regression, the PR branch "
            f"{'a one-split decision tree' if fail else 'a random forest'}"
        )
        with _working_directory(repo):
            result = run_job(
                JobOptions(out=repo / "cml-py-report", report_id="demo"), env={}, echo=echo
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
