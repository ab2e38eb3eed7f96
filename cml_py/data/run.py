"""The data stage: which datasets, both sides read, compared, turned into metric rows.

Called by the pipeline after the metrics are compared. The datasets are main's `data:`
(policy, see trust.py) — or, without `data:`, the built-in trainer's dataset and its
train/test split, each side as that side's own `train.sklearn` says (main's file at the
base, the PR's in the working tree), the split taken from each side's predictions ids.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cml_py.config import Config
from cml_py.data.config import DatasetSpec
from cml_py.errors import CmlError
from cml_py.model import DiffRow, MetricFile, MetricSet

PATH_PREFIX = "data:"  # the "file" of a data metric row: data:<dataset>
AUTO_DATASET, AUTO_TRAIN, AUTO_TEST = "dataset", "train", "test"


@dataclass(frozen=True)
class DataComparison:
    """The data rows (ordinary metric rows), notes for the report, chart series."""

    rows: tuple[DiffRow, ...] = ()
    notes: tuple[str, ...] = ()
    drift: tuple[Any, ...] = ()  # compare.DriftSeries, worst first
    thresholds: dict[str, float] = field(default_factory=dict)


def wanted(config: Config) -> bool:
    """Cheap: does this run compare data at all? (no pandas unless it does)"""
    data = config.data
    if data is not None:
        return bool(data.enabled and data.datasets)
    sklearn = config.train.sklearn if config.train is not None else None
    return sklearn is not None and not sklearn.dataset.startswith("sklearn:")


def is_data_row(path: str, name: str) -> bool:
    """A row the data stage made: its file is `data:<dataset>`, its name under it."""
    if not path.startswith(PATH_PREFIX):
        return False
    return name.startswith(f"data.{path.removeprefix(PATH_PREFIX)}.")


def _rel_dir(config_root: Path, repo_root: Path) -> str:
    rel = Path(os.path.relpath(config_root, repo_root)).as_posix()
    return "" if rel == "." else rel + "/"


@dataclass
class _Loaded:
    """One side of one dataset, read: its frame (None: no such data on this side) and
    files, and whether it is byte for byte the other side's."""

    frame: Any = None
    files: tuple[Any, ...] = ()


def _read_files(found: list[Any], spec: DatasetSpec, display: Callable[[str], str]) -> Any:
    import pandas as pd

    from cml_py.data.read import file_format, read_frame

    frames = []
    for item in found:
        fmt = file_format(item.path, spec.format)
        frames.append(
            read_frame(
                item.local,
                display(item.path),
                fmt,
                max_columns=spec.max_columns,
                max_mb=spec.max_mb,
            )
        )
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def _head_paths(spec: DatasetSpec, config: Config, root: Path) -> list[str]:
    from cml_py.metrics.diff import natural_key
    from cml_py.metrics.files import is_glob
    from cml_py.paths import lookup_error

    out: list[str] = []
    where = f"{config.source}: data.{spec.name}.path"
    for pattern in spec.paths:
        if is_glob(pattern):
            try:
                matches = sorted(
                    (
                        Path(os.path.relpath(p, root)).as_posix()
                        for p in config.root.glob(pattern)
                        if p.is_file() or p.is_symlink()
                    ),
                    key=natural_key,
                )
            except OSError as exc:
                raise lookup_error(where, repr(pattern), exc) from None
            if not matches:
                raise CmlError(f"{where}: {pattern!r} matches no file in the working tree")
            out += matches
        else:
            out.append(Path(os.path.relpath(config.root / pattern, root)).as_posix())
    return list(dict.fromkeys(out))


def _base_paths(spec: DatasetSpec, prefix: str, base: Any) -> list[str]:
    from cml_py.metrics.diff import natural_key
    from cml_py.metrics.files import glob_regex, is_glob

    out: list[str] = []
    listing: list[str] | None = None
    for pattern in spec.paths:
        full = posixpath_normalise(prefix + pattern)
        if is_glob(pattern):
            if listing is None:
                listing = base.list_files()
            regex = glob_regex(full)
            out += sorted((p for p in listing if regex.match(p)), key=natural_key)
        else:
            out.append(full)
    return list(dict.fromkeys(out))


def posixpath_normalise(path: str) -> str:
    import posixpath

    return posixpath.normpath(path)


def _load_head(spec: DatasetSpec, config: Config, root: Path, git: Any) -> _Loaded:
    from cml_py.data.sources import head_file

    paths = _head_paths(spec, config, root)
    found = [head_file(root, p, spec.max_mb, f"data.{spec.name}:", git) for p in paths]
    return _Loaded(_read_files(found, spec, lambda p: p), tuple(found))


def _start_base(spec: DatasetSpec, prefix: str, base: Any) -> tuple[list[str], list[Any]]:
    """Start fetching main's files (git streams them in the background)."""
    paths = _base_paths(spec, prefix, base)
    found = [item for item in (base.fetch(p, spec.max_mb) for p in paths) if item is not None]
    return paths, found


def _finish_base(
    spec: DatasetSpec, base: Any, started: tuple[list[str], list[Any]], notes: list[str]
) -> _Loaded:
    paths, found = started
    found = [item.ready() for item in found]
    if not found:
        notes.append(
            f"data.{spec.name}: {', '.join(paths) or ', '.join(spec.paths)} does not exist on "
            f"{base.base_name}: this PR's data is new."
        )
        return _Loaded()
    try:
        frame = _read_files(found, spec, lambda p: f"{base.base_name}:{p}")
    except CmlError as exc:
        notes.append(f"data.{spec.name}: {base.base_name}'s data could not be read ({exc}).")
        return _Loaded()
    return _Loaded(frame, tuple(found))


def _identical(git: Any, base: _Loaded, head: _Loaded) -> bool:
    from cml_py.data.sources import same_content

    if base.frame is None or len(base.files) != len(head.files):
        return False
    return all(
        b.path == h.path and same_content(git, b, h)
        for b, h in zip(base.files, head.files, strict=True)
    )


def _check_columns(spec: DatasetSpec, loaded: list[_Loaded], where: str) -> None:
    """A configured target or id column must exist on at least one side."""
    frames = [side.frame for side in loaded if side.frame is not None]
    for key in ("target", "id"):
        column = getattr(spec, key)
        if column is not None and not any(column in f.columns for f in frames):
            raise CmlError(
                f"{where}: data.{spec.name}.{key}: column {column!r} is not in "
                f"{', '.join(spec.paths)}"
            )


def _leak_keys(side: Any, spec: DatasetSpec, other: Any, other_spec: DatasetSpec) -> Any:
    """(this, other) keys to match rows on: the id column when both have it, else the
    row hash over the columns both share."""
    from cml_py.data.compare import prepare
    from cml_py.data.hashing import row_hashes

    if spec.id and other_spec.id and spec.id in side.frame and other_spec.id in other.frame:
        return (
            prepare(side.frame[spec.id], spec.id).hashes(),
            prepare(other.frame[other_spec.id], other_spec.id).hashes(),
            f"by {spec.id!r}",
        )
    common = sorted(set(side.columns) & set(other.columns))
    return (
        row_hashes([side.columns[c] for c in common], len(side.frame)),
        row_hashes([other.columns[c] for c in common], len(other.frame)),
        f"by the {len(common)} shared columns' values",
    )


def compare_data(settings: Any, artifacts: Any, *, echo: Callable[[str], None]) -> DataComparison:
    """Read and compare every dataset of this run."""
    from cml_py.data.sources import BaseFiles

    config, ws = settings.config, settings.ws
    dvc = settings.dvc
    notes: list[str] = []
    with BaseFiles(
        ws.git,
        ws.base.sha,
        ws.base.name,
        ws.root,
        dvc_lock=dvc.lock_file if dvc is not None else None,
        dvc_remote=dvc.remote if dvc is not None else None,
    ) as base:
        if config.data is not None and config.data.enabled:
            results, thresholds = _explicit(config, ws, base, notes, echo)
        else:
            results, thresholds = _auto(settings, artifacts, base, notes, echo)
        notes += base.notes
    return _as_comparison(results, notes, config, thresholds)


Results = tuple[list[Any], dict[str, float]]  # compare.DatasetResult each; PSI thresholds


def _explicit(
    config: Config, ws: Any, base: Any, notes: list[str], echo: Callable[[str], None]
) -> Results:
    from cml_py.data.compare import Side, compare_dataset
    from cml_py.data.hashing import leaked_share

    prefix = _rel_dir(config.root, ws.root)
    specs = {spec.name: spec for spec in config.data.datasets}
    sides: dict[str, tuple[Any, Any]] = {}
    results = []
    for spec in config.data.datasets:
        echo(f"data.{spec.name}: reading {', '.join(spec.paths)} on both sides")
        started = _start_base(spec, prefix, base)
        head = _load_head(spec, config, ws.root, ws.git)
        head_side = Side.of(head.frame, spec)  # while git streams main's file
        main = _finish_base(spec, base, started, notes)
        _check_columns(spec, [head, main], config.source)
        identical = _identical(ws.git, main, head)
        base_side = Side.of(main.frame, spec) if main.frame is not None else None
        results.append(compare_dataset(spec, base_side, head_side, identical=identical))
        sides[spec.name] = (base_side, head_side)
    for result, spec in zip(results, config.data.datasets, strict=True):
        if spec.leakage is None:
            continue
        other_spec = specs[spec.leakage]
        metric = f"data.{spec.name}.leaked"
        for index, values in ((0, result.base), (1, result.head)):
            this, other = sides[spec.name][index], sides[spec.leakage][index]
            if values is None or this is None or other is None:
                continue
            mine, theirs, how = _leak_keys(this, spec, other, other_spec)
            values[metric] = leaked_share(mine, theirs)
            if index == 1 and values[metric]:
                result.notes.append(
                    f"data.{spec.name}: {values[metric]:.2%} of its rows also occur in "
                    f"data.{spec.leakage} (matched {how})."
                )
    return results, {spec.name: spec.psi_threshold for spec in config.data.datasets}


def _split_positions(frame: Any, predictions: Any) -> Any:
    """Rows of the built-in trainer's test split: its predictions ids, which are the
    dataset's own row labels (see train/sklearn_worker.py)."""
    import numpy as np

    if predictions is None or predictions.ids is None:
        return None
    ids = predictions.ids
    try:
        positions = frame.index.get_indexer(ids)
    except (TypeError, ValueError):
        return None
    if (positions < 0).any():
        return None
    return np.sort(positions)


def _auto(
    settings: Any, artifacts: Any, base: Any, notes: list[str], echo: Callable[[str], None]
) -> Results:
    """The built-in trainer's dataset, and its train/test split, on both sides."""
    import numpy as np

    from cml_py.data.compare import Side, compare_dataset
    from cml_py.data.hashing import leaked_share

    config, ws = settings.config, settings.ws
    head_train = config.train.sklearn
    base_config = settings.base_config
    base_train = (
        base_config.train.sklearn
        if base_config is not None and base_config.train is not None
        else None
    )
    target = head_train.target
    spec = DatasetSpec(AUTO_DATASET, (head_train.dataset,), target=target)
    echo(f"data.{AUTO_DATASET}: comparing {head_train.dataset} with {ws.base.name}'s dataset")
    head = _load_head(spec, config, ws.root, ws.git)
    main = _Loaded()
    if base_train is not None and not base_train.dataset.startswith("sklearn:"):
        prefix = _rel_dir(base_config.root, ws.root)
        base_spec = replace(spec, paths=(base_train.dataset,))
        main = _finish_base(base_spec, base, _start_base(base_spec, prefix, base), notes)
        if base_train.test is not None or head_train.test is not None:
            notes.append(
                "data: a fixed train.sklearn.test file is compared as the dataset only; "
                "list it under data: to compare it too."
            )
    identical = _identical(ws.git, main, head) and (
        base_train is not None and base_train.dataset == head_train.dataset
    )
    base_side = Side.of(main.frame, spec) if main.frame is not None else None
    head_side = Side.of(head.frame, spec)
    results = [compare_dataset(spec, base_side, head_side, identical=identical)]
    # the split: train and test rows of each side, their label balance and leakage
    split_spec = replace(spec, columns=(target,) if target else ())
    split: dict[str, list[dict[str, Any]]] = {AUTO_TRAIN: [{}, {}], AUTO_TEST: [{}, {}]}
    present = [False, False]
    test_rows_of: list[Any] = [None, None]
    for index, (side, predictions, train_spec) in enumerate(
        (
            (base_side, artifacts.base_predictions if artifacts else None, base_train),
            (head_side, artifacts.head_predictions if artifacts else None, head_train),
        )
    ):
        if side is None or train_spec is None or train_spec.test is not None:
            continue
        test_rows = _split_positions(side.frame, predictions)
        if test_rows is None:
            continue
        present[index] = True
        test_rows_of[index] = test_rows
        mask = np.zeros(len(side.frame), dtype=bool)
        mask[test_rows] = True
        for name, rows in ((AUTO_TRAIN, ~mask), (AUTO_TEST, mask)):
            split[name][index] = {"side": Side.of(side.frame.loc[rows], split_spec), "values": {}}
        # test rows whose every value occurs in a training row
        split[AUTO_TEST][index]["values"]["leaked"] = leaked_share(
            side.hashes[mask], side.hashes[~mask]
        )
    same_split = (
        identical and present == [True, True] and np.array_equal(test_rows_of[0], test_rows_of[1])
    )
    for name in (AUTO_TRAIN, AUTO_TEST):
        entries = split[name]
        sub_spec = replace(split_spec, name=name)
        base_sub = entries[0].get("side") if present[0] else None
        head_sub = entries[1].get("side") if present[1] else None
        result = compare_dataset(sub_spec, base_sub, head_sub, identical=same_split, quality=False)
        for index, values in ((0, result.base), (1, result.head)):
            if values is not None:
                for key, value in entries[index]["values"].items():
                    values[f"data.{name}.{key}"] = value
        if present[1] and not present[0] and base_side is not None:
            result.notes.append(
                f"data.{name}: {ws.base.name}'s split is unknown ({ws.base.name} has no "
                "predictions with ids): its rows are shown as new."
            )
        results.append(result)
    leaked = split[AUTO_TEST][1].get("values", {}).get("leaked") if present[1] else None
    if leaked:
        results[-1].notes.append(
            f"data.{AUTO_TEST}: {leaked:.2%} of the test rows also occur, value for value, "
            "among the training rows (duplicates in the dataset that the split put on both "
            "sides)."
        )
    return results, {name: spec.psi_threshold for name in (AUTO_DATASET, AUTO_TRAIN, AUTO_TEST)}


def _as_comparison(
    results: list[Any], notes: list[str], config: Config, thresholds: dict[str, float]
) -> DataComparison:
    from cml_py.metrics.diff import diff_sets

    rows: list[DiffRow] = []
    drift: list[Any] = []
    for result in results:
        path = PATH_PREFIX + result.name
        base = MetricSet((MetricFile(path, result.base),)) if result.base is not None else None
        head = MetricSet((MetricFile(path, result.head),)) if result.head is not None else None
        rows += diff_sets(base, head or MetricSet(), directions=config.directions)
        notes += result.notes
        drift += result.drift
    drift.sort(key=lambda s: -s.psi)
    return DataComparison(tuple(rows), tuple(notes), tuple(drift), thresholds)
