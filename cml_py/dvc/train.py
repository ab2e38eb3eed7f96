"""Training through DVC: `train: {dvc: repro}` / `{dvc: exp run}`, and main re-run with
`dvc repro` in a worktree (`baseline: {strategy: rerun}` in a DVC project).

Both start `python -m dvc` as a child process: without token variables (tokens.py),
streamed and stopped like any training command. Main's re-run uses main's own dvc.yaml
and .dvc/config (the worktree is the base commit), and shares this checkout's cache, so
stages whose inputs did not change are checked out instead of recomputed; its outputs
are kept outside the checkout, keyed by the base commit and main's dvc.yaml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cml_py.trust import Settings

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from cml_py.config import Config
from cml_py.errors import CmlError
from cml_py.tokens import child_env

Echo = Callable[[str], None]
INSTALL_HINT = 'pip install "cml-py[dvc]"'


def require_dvc(what: str) -> None:
    if importlib.util.find_spec("dvc") is None:
        raise CmlError(f"{what} needs the dvc package, which is not installed: {INSTALL_HINT}")


def dvc_command(train_mode: str, set_params: tuple[str, ...]) -> list[str]:
    """The argv of `dvc repro` or `dvc exp run --set-param …` (pure)."""
    if train_mode == "repro":  # --pull: a CI checkout has no data; unchanged stages are pulled
        return [sys.executable, "-m", "dvc", "repro", "--pull"]
    args = [sys.executable, "-m", "dvc", "exp", "run"]
    for item in set_params:
        args += ["--set-param", item]
    return args


def run_dvc_training(config: Config, echo: Echo) -> None:
    """Run the pipeline in the working tree, where dvc.yaml is."""
    from cml_py.train.command import run_streaming

    train = config.train
    assert train is not None and train.dvc is not None
    require_dvc(f"{config.source}: train.dvc")
    directory = (config.root / config.dvc.file).parent
    args = dvc_command(train.dvc, train.set_params)
    echo(f"running dvc {train.dvc} in {directory}")
    run_streaming(
        args,
        cwd=directory,
        env=child_env(),
        shell=False,
        timeout=train.timeout,
        label=f"dvc {train.dvc}",
    )


def _shared_cache(settings: Settings) -> Path:
    """This checkout's DVC cache, unless the pull request can steer where DVC writes
    through it (see source.base_cache_dir): then one of this run's own."""
    from cml_py.dvc.source import base_cache_dir

    return base_cache_dir(settings.ws.git, settings.ws.root)


def rerun_dvc(settings: Settings, *, echo: Echo) -> tuple[Path, list[str]]:
    """`dvc repro` at the base commit in a temporary worktree; returns a directory laid
    out like the repository holding main's judged files, and report notes."""
    from cml_py.baseline.rerun import COMPLETE, cache_root, sigterm_as_interrupt
    from cml_py.train.outputs import staged_directory

    ws, state = settings.ws, settings.dvc
    base = ws.base
    require_dvc("baseline strategy rerun in a DVC project")
    dvc_yaml = ws.git.read_regular_files(base.sha, [state.project.file]).get(state.project.file)
    if dvc_yaml is None:
        raise CmlError(
            f"baseline strategy rerun: {base.name} has no {state.project.file}, so there is "
            "no pipeline of main's to reproduce"
        )
    wanted = _judged_files(settings)
    key = "\0".join((base.sha, dvc_yaml.decode("utf-8", "replace"), repr(wanted), _version()))
    target = cache_root() / f"{base.sha[:12]}-dvc-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    how = f"reproduced with `dvc repro` at {base.sha[:7]} (baseline strategy rerun)"
    if settings.config.baseline.cache and (target / COMPLETE).exists():
        echo(f"using main's outputs from an earlier dvc repro ({target})")
        return target, [f"main's numbers were {how}."]
    cache = _shared_cache(settings)
    echo(f"reproducing {base.name} at {base.sha[:7]} with dvc repro in a temporary worktree")
    with tempfile.TemporaryDirectory(prefix="cml-py-dvc-base-") as tmp, sigterm_as_interrupt():
        worktree = Path(tmp) / "base"
        ws.git.run("worktree", "add", "--detach", "--quiet", str(worktree), base.sha)
        try:
            project_dir = worktree / Path(state.project.file).parent
            _dvc(worktree, ["config", "--local", "cache.dir", str(cache)], "dvc config")
            _dvc(project_dir, ["repro", "--pull"], "dvc repro (main)")
            _verify_outputs(worktree, state.lock_file, wanted, cache)
            with staged_directory(target) as stage:
                for rel in wanted:
                    source = worktree / rel
                    if source.is_file() and not source.is_symlink():
                        destination = stage / rel
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(source, destination)
                    elif source.is_dir() and not source.is_symlink():
                        shutil.copytree(source, stage / rel, symlinks=False, dirs_exist_ok=True)
                (stage / COMPLETE).write_text("")
        finally:
            ws.git.run("worktree", "remove", "--force", str(worktree), check=False)
            ws.git.run("worktree", "prune", check=False)
    return target, [f"main's numbers were {how}."]


def _judged_files(settings: Settings) -> tuple[str, ...]:
    """Main's files to keep: what dvc.yaml declares, and literal paths in cml.yaml."""
    import os

    project, config, root = settings.dvc.project, settings.config, settings.ws.root
    plot_files = [path for plot in project.plots for path, _ in plot.y]
    listed = [
        Path(os.path.relpath(config.root / p, root)).as_posix()
        for p in (*config.metrics, *config.params)
        if "*" not in p and "?" not in p and "[" not in p
    ]
    return tuple(dict.fromkeys([*project.metrics, *project.param_files, *plot_files, *listed]))


def _verify_outputs(worktree: Path, lock_file: str, wanted: tuple[str, ...], cache: Path) -> None:
    """Every judged file the re-run left that is a DVC output must have the md5 main's
    (re-computed) dvc.lock records. DVC checks unchanged stages' outputs out of the
    shared cache without re-hashing them, and this checkout's cache is the pull
    request's to fill: a fake object planted there would otherwise become main's."""
    from cml_py.dvc.objects import ObjectStore, verified
    from cml_py.dvc.project import find_out
    from cml_py.dvc.source import parse_lock, parse_tree

    lock = worktree / lock_file
    outs = parse_lock(lock.read_bytes() if lock.is_file() else None, lock_file, lock_file)
    store = ObjectStore(cache, None)
    for rel in wanted:
        path = worktree / rel
        located = find_out(rel, outs)
        if located is None or not path.is_file():
            continue
        out, h = located
        if h.is_dir:
            tree = parse_tree(store.read_many([h], {h.md5: out})[h.md5], out, h.legacy)
            h = tree.get(Path(os.path.relpath(path, worktree / out)).as_posix(), h)
        if not h.is_dir and not verified(h, path.read_bytes()):
            raise CmlError(
                f"{rel}: main's re-run produced a file whose md5 is not the {h.md5} its "
                "dvc.lock records — the DVC cache holds a corrupted or planted object; "
                "clear it (rm -rf .dvc/cache) and run again"
            )


def _version() -> str:
    from cml_py import __version__

    return __version__


def _dvc(cwd: Path, args: list[str], label: str) -> None:
    from cml_py.train.command import run_streaming

    run_streaming(
        [sys.executable, "-m", "dvc", *args],
        cwd=cwd,
        env=child_env(),
        shell=False,
        timeout=None,
        label=label,
    )
