"""Where main's numbers come from for this run: its MLflow run, its committed files, a
re-training of main, or a stored record — and, for stored records, the trend of each
gated metric over main's recent records."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cml_py.config import Config, GateRule
from cml_py.errors import CmlError, ServiceError
from cml_py.git import Git
from cml_py.metrics.files import FileSpec
from cml_py.metrics.parse import parse_file
from cml_py.model import (
    DiffRow,
    Trend,
)
from cml_py.trust import Settings, Workspace

if TYPE_CHECKING:
    from cml_py.baseline.sources import BaseSource
    from cml_py.pipeline import Echo, Selection


def choose_base_source(
    settings: Settings, metrics_spec: FileSpec, *, echo: Echo
) -> tuple[BaseSource, list[str]]:
    """Where main's numbers come from: main's MLflow run (strategy `mlflow`, and first
    with `auto` when cml.yaml has `mlflow:`), else main's files (see _files_source)."""
    from cml_py.baseline.sources import GitBase

    config = settings.config
    notes: list[str] = []
    if config.mlflow is not None and config.baseline.strategy in ("auto", "mlflow"):
        from cml_py.mlflow.source import base_source

        run_source, notes = base_source(settings, echo=echo)
        if run_source is not None:
            return run_source, notes
        if config.baseline.strategy == "mlflow":
            return GitBase(settings.ws.git, settings.ws.base.sha), [
                *notes,
                f"main's numbers are {settings.ws.base.name}'s committed files.",
            ]
    source, more = _files_source(settings, metrics_spec, echo=echo)
    return source, [*notes, *more]


def _files_source(
    settings: Settings, metrics_spec: FileSpec, *, echo: Echo
) -> tuple[BaseSource, list[str]]:
    """The strategy: `git` reads committed files; `rerun` re-trains main with main's own
    `train:`; `auto` picks git when every metrics file exists at the base, else rerun
    when main has a trainer."""
    from cml_py.baseline.sources import DirectoryBase, GitBase
    from cml_py.metrics import files as mf

    config, ws = settings.config, settings.ws
    git = ws.git
    base_train = settings.base_config.train if settings.base_config is not None else None
    strategy = config.baseline.strategy
    if settings.dvc is not None and strategy in ("auto", "git"):
        from cml_py.dvc.source import base_source

        return base_source(settings), []
    if settings.dvc is not None and strategy == "rerun" and (base_train is None or base_train.dvc):
        from cml_py.baseline.sources import DirectoryBase
        from cml_py.dvc.train import rerun_dvc

        directory, notes = rerun_dvc(settings, echo=echo)
        return DirectoryBase(directory), notes
    if strategy == "auto":
        strategy = "git"
        if config.train is not None and base_train is not None:
            head = mf.head_paths(replace(metrics_spec, required=False), ws.root)
            wanted = head or mf.literal_paths(metrics_spec, ws.root)
            if not wanted or git.existing(ws.base.sha, wanted) != set(wanted):
                strategy = "rerun"
    if strategy == "store":
        return _stored_source(config, ws, echo)
    if strategy == "git":
        return GitBase(git, ws.base.sha), []
    if settings.base_config is None or base_train is None or not settings.base_config_text:
        raise CmlError(
            f"baseline strategy rerun: {ws.base.name} has no cml.yaml with a `train:` "
            "section, so there is no way to re-train it (this PR's training is never used "
            f"for {ws.base.name}); use strategy git or store until the PR is merged"
        )
    from cml_py.baseline.rerun import rerun_baseline

    directory, notes = rerun_baseline(settings, echo=echo)
    return DirectoryBase(directory), notes


def _stored_source(config: Config, ws: Workspace, echo: Echo) -> tuple[BaseSource, list[str]]:
    """The record of the merge-base, or of its nearest recorded first-parent ancestor."""
    from cml_py.baseline import store
    from cml_py.baseline.sources import GitBase

    remote = config.baseline.remote
    stale: list[str] = []
    if store.has_remote(ws.git, remote):
        try:
            store.fetch(ws.git, remote)
        except ServiceError as exc:
            # Without the remote's records, "no stored baseline" would be a guess: the
            # report would compare with committed files (often none: every metric new,
            # nothing to gate) and tell the reader to run `baseline save`.
            if not store.recorded(ws.git):
                raise ServiceError(
                    f"{exc}; this clone holds no records either, so {ws.base.name}'s "
                    "numbers cannot be read (strategy store)"
                ) from None
            echo(f"warning: {exc}; using the records already here")
            stale = [
                f"The stored records could not be fetched from {remote!r}; "
                "the ones already in this clone were used."
            ]
    records = store.find_records(ws.git, ws.base.sha, limit=1)
    if not records:
        return GitBase(ws.git, ws.base.sha), [
            *stale,
            f"No stored baseline for {ws.base.name}'s history (run `cml-py baseline save` on "
            "the default branch); main's numbers are its committed files.",
        ]
    sha, distance = records[0]
    where = (
        "the merge-base"
        if distance == 0
        else f"the nearest recorded ancestor, {distance} commit{'s' if distance != 1 else ''} "
        f"before the merge-base {ws.base.sha[:7]}"
    )
    echo(f"main's numbers: the stored record of {sha[:7]} ({where})")
    return store.StoredBase(ws.git, sha), [
        f"main's numbers come from the stored record of {sha[:7]} ({where}).",
        *stale,
    ]


def trends(
    config: Config, ws: Workspace, rules: tuple[GateRule, ...], rows: tuple[DiffRow, ...]
) -> tuple[Trend, ...]:
    """Each gated metric over main's last recorded commits (strategy store)."""
    from cml_py.baseline import store
    from cml_py.metrics.direction import matches

    gated = [r for r in rows if any(matches(rule.pattern, r.path, r.name) for rule in rules)]
    if not gated or config.baseline.trend == 0:
        return ()
    records = store.find_records(ws.git, ws.base.sha, limit=config.baseline.trend)
    series: dict[tuple[str, str], list[tuple[str, Any]]] = {(r.path, r.name): [] for r in gated}
    paths = sorted({r.path for r in gated})
    for sha, _ in reversed(records):
        try:
            blobs = store.StoredBase(ws.git, sha).read_files(paths)
        except CmlError:  # an older record over the limits: no point of the trend
            continue
        for path in paths:
            data = blobs.get(path)
            if data is None:
                continue
            try:
                values = parse_file(data, path)
            except CmlError:
                continue
            for (row_path, name), points in series.items():
                if row_path == path and name in values:
                    points.append((sha[:7], values[name]))
    return tuple(
        Trend(path, name, tuple(points))
        for (path, name), points in series.items()
        if len(points) >= 2
    )


def record_files(
    config: Config, selection: Selection, *, cwd: Path
) -> tuple[Git, str, dict[str, bytes]]:
    """What `cml-py baseline save` records for HEAD: the metrics and params files, and
    the training outputs the charts and statistics need (not the model itself)."""
    from cml_py.artifacts import curve_patterns
    from cml_py.metrics import files as mf

    git = Git(cwd)
    repo_root, head = git.locate()
    if repo_root is None:
        raise CmlError(f"{cwd}: not inside a git repository")
    if head is None:
        raise CmlError("HEAD has no commit yet: nothing to record")
    from cml_py.pipeline import file_specs

    metrics_spec, params_spec = file_specs(config, selection, cwd)
    paths = [*mf.head_paths(metrics_spec, repo_root), *mf.head_paths(params_spec, repo_root)]
    if config.train is not None:
        out_dir = config.root / config.train.output_dir
        paths += [
            _repo_relative(p, repo_root)
            for p in sorted(out_dir.rglob("*"))
            if p.is_file() and p.suffix != ".joblib" and not p.name.startswith(".")
        ]
    for pattern in curve_patterns(config, repo_root):
        paths += [
            _repo_relative(p, repo_root) for p in sorted(repo_root.glob(pattern)) if p.is_file()
        ]
    root = repo_root.resolve()
    files: dict[str, bytes] = {}
    for path in dict.fromkeys(paths):
        target = repo_root / path
        # A record is pushed for anyone who can fetch the repository to read: a link
        # (out/x.json -> ~/.ssh/id_rsa) must not carry a file of the runner into it.
        if target.is_symlink() or root not in target.resolve().parents:
            raise CmlError(
                f"{path}: a symbolic link, or a file reached through one; `cml-py baseline "
                "save` records only regular files inside the repository"
            )
        files[path] = target.read_bytes()
    return git, head, files


def _repo_relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()
