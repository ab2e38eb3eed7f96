"""Main's numbers by re-running main's training: `baseline: {strategy: rerun}`.

The base commit is checked out into a temporary `git worktree`, and `cml-py train` runs
there with the *base's* code and cml.yaml (this PR's cml.yaml only when main has none),
so the comparison is between two real trainings rather than against numbers someone
once committed. The worktree is removed whatever happens — failure, Ctrl-C or the
SIGTERM a CI sends when a job is cancelled.

The outputs are kept under `.cml-py/baselines/<sha>-<config hash>/`, laid out like the
repository, so `diff`, `gate` and `report` in the same job train main only once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from cml_py.config import Config, load_config
from cml_py.errors import CmlError
from cml_py.git import Git
from cml_py.model import BaseRef

COMPLETE = ".complete"


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so `finally` blocks run on cancellation."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cache_dir(repo_root: Path, base: BaseRef, config_text: str) -> Path:
    digest = hashlib.sha256(config_text.encode("utf-8")).hexdigest()[:10]
    return repo_root / ".cml-py" / "baselines" / f"{base.sha[:12]}-{digest}"


def rerun_baseline(
    git: Git,
    repo_root: Path,
    base: BaseRef,
    config: Config,
    config_path: Path,
    *,
    echo: Callable[[str], None],
) -> tuple[Path, list[str]]:
    """Train at the base commit; returns the directory of its outputs and report notes."""
    if config.train is None:
        raise CmlError(f"{config.source}: baseline strategy rerun needs a `train:` section")
    try:
        rel_config = config_path.resolve().relative_to(repo_root.resolve())
    except ValueError:
        raise CmlError(
            f"{config_path}: baseline strategy rerun needs the cml.yaml inside the "
            "repository, so that main's version of it can be checked out"
        ) from None
    notes: list[str] = []
    committed = git.read_files(base.sha, [rel_config.as_posix()]).get(rel_config.as_posix())
    base_config_text = committed.decode("utf-8", "replace") if committed is not None else None
    if base_config_text is not None:
        try:
            from cml_py.yamlio import load_yaml

            if not (load_yaml(base_config_text, f"{base.name}:{rel_config}") or {}).get("train"):
                base_config_text = None
        except CmlError:
            base_config_text = None
    if base_config_text is None:
        base_config_text = config_path.read_text(encoding="utf-8")
        notes.append(
            f"{base.name} has no usable `train:` in {rel_config}: it was re-trained "
            "with this PR's cml.yaml."
        )
    target = cache_dir(repo_root, base, base_config_text)
    how = f"re-trained at {base.sha[:7]} (baseline strategy rerun)"
    if config.baseline.cache and (target / COMPLETE).exists():
        echo(f"using main's outputs from an earlier re-run ({os.path.relpath(target)})")
        return target, [*notes, f"main's numbers were {how}."]
    echo(f"re-training {base.name} at {base.sha[:7]} in a temporary worktree")
    with tempfile.TemporaryDirectory(prefix="cml-py-base-") as tmp, sigterm_as_interrupt():
        worktree = Path(tmp) / "base"
        git.run("worktree", "add", "--detach", "--quiet", str(worktree), base.sha)
        try:
            worktree_config = worktree / rel_config
            worktree_config.parent.mkdir(parents=True, exist_ok=True)
            worktree_config.write_text(base_config_text, encoding="utf-8")
            base_config = load_config(worktree_config, cwd=worktree_config.parent)
            _train_in(worktree_config, echo)
            _collect(worktree, base_config, config, repo_root, target)
        finally:
            git.run("worktree", "remove", "--force", str(worktree), check=False)
            git.run("worktree", "prune", check=False)
    return target, [*notes, f"main's numbers were {how}."]


def _train_in(config_file: Path, echo: Callable[[str], None]) -> None:
    from cml_py.train.command import run_streaming

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(config_file.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    run_streaming(
        [sys.executable, "-m", "cml_py", "train", "--config", str(config_file)],
        cwd=config_file.parent,
        env=env,
        shell=False,
        timeout=None,
        label="training main (baseline rerun)",
    )
    echo("main re-trained")


def _collect(
    worktree: Path, base_config: Config, head_config: Config, repo_root: Path, target: Path
) -> None:
    """Copy main's outputs into `target`, at the paths this PR's config reads them from."""
    from cml_py.metrics.files import FileSpec, head_paths
    from cml_py.train.outputs import staged_directory

    assert head_config.train is not None and base_config.train is not None
    head_prefix = head_config.root.resolve().relative_to(repo_root.resolve())
    with staged_directory(target) as stage:
        produced = base_config.root / base_config.train.output_dir
        wanted = stage / head_prefix / head_config.train.output_dir
        if produced.is_dir():
            shutil.copytree(produced, wanted)
        patterns = (
            *head_config.train.outputs.metrics,
            *head_config.train.outputs.params,
            *head_config.metrics,
            *head_config.params,
        )
        spec = FileSpec(tuple(patterns), "rerun", worktree / head_prefix, required=False)
        for path in head_paths(spec, worktree):
            destination = stage / path
            if not destination.exists():
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(worktree / path, destination)
        (stage / COMPLETE).write_text("")
