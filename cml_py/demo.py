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
from cml_py.fsio import write_atomic
from cml_py.git import Git

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

HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>cml-py demo report</title>
<style>
body {{ font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial,
       sans-serif; color: #1f2328; margin: 0; background: #f6f8fa; }}
main {{ max-width: 920px; margin: 24px auto; background: #fff; border: 1px solid #d0d7de;
        border-radius: 6px; padding: 16px 24px; }}
.who {{ color: #59636e; border-bottom: 1px solid #d0d7de; margin: -16px -24px 16px;
        padding: 8px 24px; background: #f6f8fa; border-radius: 6px 6px 0 0; }}
table {{ border-collapse: collapse; margin: 8px 0 16px; display: block; overflow: auto; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 12px; }}
tr:nth-child(2n) {{ background: #f6f8fa; }}
code {{ background: rgba(175,184,193,.2); border-radius: 6px; padding: .1em .4em; }}
img {{ max-width: 100%; }}
details {{ margin: 8px 0; }} summary {{ cursor: pointer; }}
sub {{ color: #59636e; }}
</style></head>
<body><main>
<div class="who"><b>github-actions</b> commented — as it would look on the pull request</div>
{body}
</main></body></html>
"""


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


def render_html(markdown: str) -> str:
    """The markdown through GitHub's own renderer (cmark-gfm), in a GitHub-like page."""
    import cmarkgfm
    from cmarkgfm.cmark import Options

    body = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    return HTML_PAGE.format(body=body)


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
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(repo / "cml-py-report", target)
    markdown = (target / "report.md").read_text(encoding="utf-8")
    write_atomic(target / "report.html", render_html(markdown))
    passed = result.exit_code == EXIT_OK
    echo("")
    verdict = "✅ gate passed" if passed else "❌ gate failed"
    echo(f"{verdict} in {time.perf_counter() - started:.1f} s")
    for name in ("report.md", "report.html", "charts"):
        echo(f"  {os.path.relpath(target / name)}")
    echo("open report.html in a browser to see the comment as a reviewer would")
    return EXIT_OK if passed else EXIT_GATE_FAILED
