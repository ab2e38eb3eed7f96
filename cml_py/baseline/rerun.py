"""Main's numbers by re-running main's training: `baseline: {strategy: rerun}`.

The base commit (the merge-base: main's numbers are those of the commit the PR forked
from) is checked out into a temporary `git worktree`, and `cml-py train` runs there with
that commit's code and that commit's own cml.yaml — never this PR's training command,
which is PR code — so the comparison is between two real trainings rather than against
numbers someone once committed. The commit's `train:` is how its code trains (data
about main, not rules): it is named to the training with --base, so the child does not
take train.output_dir and train.outputs from the tip of main, which may not fit the older
code. Whether to re-train at all, the cache and what is compared are policy, from the
tip of the base branch like every rule (`settings.config`, `settings.base_config`).
The worktree is removed whatever happens — failure, Ctrl-C or the SIGTERM a CI sends
when a job is cancelled.

The outputs are cached outside the checkout (under the runner's temporary directory in
CI, else the user's cache directory), keyed by the base commit, main's cml.yaml (at the tip) and the
cml-py version, so `diff`, `gate` and `report` in the same job train main only once. The
cache is never read from the working tree: a PR could commit "main's numbers" there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from cml_py.config import Config, load_config
from cml_py.errors import CmlError
from cml_py.model import BaseRef
from cml_py.tokens import child_env
from cml_py.trust import Settings

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


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """Outside any checkout: the runner's per-job temporary directory in CI (GitHub's
    RUNNER_TEMP), else $XDG_CACHE_HOME or ~/.cache. A relative value is ignored (as the
    XDG spec says): it would put the cache in the working directory, the checkout."""
    env = os.environ if env is None else env
    for variable in ("RUNNER_TEMP", "XDG_CACHE_HOME"):
        value = env.get(variable)
        if value and Path(value).is_absolute():
            return Path(value) / "cml-py" / "baselines"
    home = env.get("HOME") or str(Path.home())
    if not Path(home).is_absolute():
        import tempfile

        home = tempfile.gettempdir()
    return Path(home) / ".cache" / "cml-py" / "baselines"


def cache_dir(base: BaseRef, config_text: str, head_layout: str) -> Path:
    from cml_py import __version__

    key = "\0".join((base.sha, config_text, head_layout, __version__))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return cache_root() / f"{base.sha[:12]}-{digest}"


def rerun_baseline(settings: Settings, *, echo: Callable[[str], None]) -> tuple[Path, list[str]]:
    """Train at the base commit with that commit's own cml.yaml; returns the directory of
    its outputs (laid out like the repository) and report notes."""
    ws, config = settings.ws, settings.config
    git, repo_root, base = ws.git, ws.root, ws.base
    base_config_text, rel_config = settings.base_config_text, settings.base_config_path
    if settings.base_config is None or settings.base_config.train is None:
        raise CmlError(f"baseline strategy rerun: {base.name}'s cml.yaml has no `train:`")
    assert base_config_text is not None and rel_config is not None and config.train is not None
    layout = repr((os.path.relpath(config.root, repo_root), config.train.output_dir))
    layout += repr((config.metrics, config.params, config.train.outputs, config.train.repeats))
    target = cache_dir(base, base_config_text, layout)
    notes: list[str] = []
    how = f"re-trained at {base.sha[:7]} (baseline strategy rerun)"
    if config.baseline.cache and (target / COMPLETE).exists():
        echo(f"using main's outputs from an earlier re-run ({target})")
        return target, [*notes, f"main's numbers were {how}."]
    echo(f"re-training {base.name} at {base.sha[:7]} in a temporary worktree")
    with tempfile.TemporaryDirectory(prefix="cml-py-base-") as tmp, sigterm_as_interrupt():
        worktree = Path(tmp) / "base"
        git.run("worktree", "add", "--detach", "--quiet", str(worktree), base.sha)
        try:
            worktree_config = worktree / rel_config
            at = f"{rel_config} at {base.sha[:7]} ({base.how})"
            if worktree_config.is_symlink():
                raise CmlError(f"baseline strategy rerun: {at} is a symlink")
            if not worktree_config.is_file():
                raise CmlError(
                    f"baseline strategy rerun: {at} does not exist, so main cannot be "
                    "re-trained where this PR forked; use strategy git or store, or rebase"
                )
            base_config = load_config(worktree_config, cwd=worktree_config.parent)
            if base_config.train is None:
                raise CmlError(
                    f"baseline strategy rerun: {at} has no `train:`, so main cannot be "
                    "re-trained where this PR forked; use strategy git or store, or rebase"
                )
            _train_in(worktree_config, echo, config.train.repeats, base.sha)
            _collect(worktree, base_config, config, repo_root, target)
        finally:
            git.run("worktree", "remove", "--force", str(worktree), check=False)
            git.run("worktree", "prune", check=False)
    return target, [*notes, f"main's numbers were {how}."]


def _train_in(
    config_file: Path, echo: Callable[[str], None], repeats: int = 1, sha: str | None = None
) -> None:
    """`cml-py train` with main's cml.yaml — and this PR's train.repeats, so that both
    sides train as many seeds. `sha`, the commit checked out, is its own base: its
    cml.yaml alone says how it trains and where the outputs go (see the module's doc)."""
    from cml_py.train.command import run_streaming

    env = child_env(
        {
            "PYTHONPATH": os.pathsep.join(
                [str(config_file.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
            )
        },
        training=True,
    )
    run_streaming(
        [
            sys.executable,
            "-m",
            "cml_py",
            "train",
            "--config",
            str(config_file),
            "--repeats",
            str(repeats),
            *(("--base", sha) if sha else ()),
        ],
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
