"""Training artifacts of both sides — predictions, feature importance, training curves —
read once, for the paired statistics and the charts.

Head's come from the working tree, main's from the same base source as its metrics (a
commit, or a re-run's directory). Missing artifacts are simply absent; a malformed one
is a note, since a chart is never worth failing a job over.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cml_py.config import Config
from cml_py.errors import CmlError
from cml_py.paths import check_readable, lookup_error, relative_pattern

STEP_COLUMNS = ("step", "epoch", "iteration", "iter")
IGNORED_COLUMNS = ("timestamp", "time", "wall_time")


@dataclass(frozen=True)
class Artifacts:
    base_predictions: Any = None  # cml_py.train.predictions.Predictions
    head_predictions: Any = None
    base_importance: dict[str, float] | None = None
    head_importance: dict[str, float] | None = None
    base_curves: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    head_curves: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    predictions_path: str | None = None
    base_seeds: tuple[Any, ...] = ()  # predictions of main's seeds 2..N (train.repeats)
    head_seeds: tuple[Any, ...] = ()
    metrics_path: str | None = None  # the metrics evaluated from these predictions


def parse_importance(data: bytes, name: str) -> dict[str, float]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["feature", "importance"]:
        raise CmlError(f"{name}: expected columns feature, importance")
    out = {}
    for row in rows[1:]:
        if len(row) >= 2 and row[0]:
            try:
                out[row[0]] = float(row[1])
            except ValueError:
                raise CmlError(f"{name}: importance of {row[0]!r} is not a number") from None
    return out


def parse_curves(data: bytes, name: str) -> dict[str, tuple[list[float], list[float]]]:
    """A CSV/TSV of values by step (DVCLive's plots/metrics/*.tsv included) → series.

    The step column is the first of step/epoch/iteration/iter (else the row number);
    every other numeric column except timestamps is a series.
    """
    text = data.decode("utf-8-sig")
    delimiter = "\t" if name.endswith(".tsv") or ("\t" in text.split("\n", 1)[0]) else ","
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(r)]
    if len(rows) < 2:
        return {}
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]
    step_index = next((lowered.index(c) for c in STEP_COLUMNS if c in lowered), None)
    series: dict[str, tuple[list[float], list[float]]] = {}
    for col, column in enumerate(header):
        if col == step_index or lowered[col] in IGNORED_COLUMNS:
            continue
        steps, values = [], []
        for number, row in enumerate(rows[1:]):
            try:
                value = float(row[col])
                step = float(row[step_index]) if step_index is not None else float(number)
            except (ValueError, IndexError):
                continue
            steps.append(step)
            values.append(value)
        if values:
            series[column] = (steps, values)
    return series


def _curve_names(
    files: dict[str, dict[str, tuple[list[float], list[float]]]],
) -> dict[str, tuple[Any, Any]]:
    """Name each series by its file path (without the shared directory) and column."""
    import numpy as np

    paths = list(files)
    common = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    out = {}
    for path, series in files.items():
        stem = os.path.splitext(os.path.relpath(path, common) if common else path)[0]
        for column, (steps, values) in series.items():
            key = stem if len(series) == 1 else f"{stem}:{column}"
            out[key] = (np.asarray(steps, dtype=float), np.asarray(values, dtype=float))
    return out


def curve_patterns(config: Config, repo_root: Path) -> list[str]:
    """Repo-relative glob patterns of training-curve files."""
    from cml_py.train import layout as out

    prefix = Path(os.path.relpath(config.root, repo_root)).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    patterns = [prefix + p for p in config.curves]
    if config.train is not None:
        patterns.append(f"{prefix}{config.train.output_dir}/{out.CURVES}/**/*")
    return patterns


def _read_curves(
    paths: Iterable[str],
    read: Callable[[list[str]], dict[str, bytes | None]],
    notes: list[str],
    side: str,
) -> dict[str, tuple[Any, Any]]:
    from cml_py.limits import active

    limits = active()
    csv.field_size_limit(limits.csv_field_bytes)  # process-wide: set to the limit each time
    files = {}
    wanted = [p for p in paths if p.lower().endswith((".csv", ".tsv"))]
    for path, data in read(wanted).items():
        if data is None:
            continue
        if len(data) > limits.data_bytes:
            notes.append(f"{side}'s curves file {path} is too large; skipped.")
            continue
        try:
            parsed = parse_curves(data, path)
        except UnicodeDecodeError:
            notes.append(f"{side}'s curves file {path} is not UTF-8 text; skipped.")
            continue
        except csv.Error as exc:  # e.g. a field over the CSV field limit
            notes.append(f"{side}'s curves file {path} is not a readable table ({exc}); skipped.")
            continue
        if parsed:
            files[path] = parsed
    return _curve_names(files) if files else {}


def load_artifacts(
    config: Config, repo_root: Path, source: Any, base_name: str, notes: list[str]
) -> Artifacts:
    """Both sides' artifacts; `source` reads main's files (see baseline/sources.py)."""
    from cml_py.metrics.files import glob_regex
    from cml_py.train import layout as out

    fields: dict[str, Any] = {}
    if config.train is not None:
        out_dir = Path(os.path.relpath(config.root / config.train.output_dir, repo_root)).as_posix()
        predictions_path = f"{out_dir}/{out.PREDICTIONS}"
        importance_path = f"{out_dir}/{out.FEATURE_IMPORTANCE}"
        fields["predictions_path"] = predictions_path
        fields["metrics_path"] = f"{out_dir}/{out.METRICS}"
        base_files = source.read_files([predictions_path, importance_path])
        head_file = repo_root / predictions_path
        if _present(head_file, predictions_path):
            check_readable(head_file, repo_root, "the predictions file", predictions_path)
            from cml_py.train.predictions import read_predictions

            head = read_predictions(head_file, display=predictions_path)
            fields["head_predictions"] = head
            if base_files.get(predictions_path) is not None:
                try:
                    fields["base_predictions"] = read_predictions(
                        "",
                        display=f"{base_name}:{predictions_path}",
                        task=head.task,
                        data=base_files[predictions_path],
                    )
                except CmlError as exc:
                    notes.append(f"{base_name}'s predictions could not be read ({exc}).")
            fields.update(_seed_predictions(repo_root, out_dir, source, base_name, head, notes))
        from cml_py.limits import active

        csv.field_size_limit(active().csv_field_bytes)
        for side, data in (
            ("head", _read_local(repo_root, importance_path)),
            ("base", base_files.get(importance_path)),
        ):
            if data is not None:
                try:
                    fields[f"{side}_importance"] = parse_importance(data, importance_path)
                except (CmlError, UnicodeDecodeError, csv.Error) as exc:
                    notes.append(f"{importance_path} could not be read ({exc}).")
    patterns = [
        relative_pattern(p, f"{config.source}: curves") for p in curve_patterns(config, repo_root)
    ]
    if patterns:
        regexes = [glob_regex(p) for p in patterns]
        try:
            head_paths = sorted(
                p.relative_to(repo_root).as_posix()
                for pattern in patterns
                for p in repo_root.glob(pattern)
                if p.is_file() or p.is_symlink()
            )
        except OSError as exc:
            raise lookup_error(f"{config.source}: curves", "a training-curve file", exc) from None
        for path in head_paths:
            check_readable(repo_root / path, repo_root, "the curves file", path)
        base_paths = [p for p in source.list_files() if any(r.match(p) for r in regexes)]
        fields["head_curves"] = _read_curves(
            head_paths, lambda ps: {p: _read_local(repo_root, p) for p in ps}, notes, "this PR"
        )
        fields["base_curves"] = _read_curves(base_paths, source.read_files, notes, base_name)
    return Artifacts(**fields)


def _seed_predictions(
    repo_root: Path, out_dir: str, source: Any, base_name: str, head: Any, notes: list[str]
) -> dict[str, tuple[Any, ...]]:
    """The other seeds' predictions of `train.repeats` on both sides, in seed order."""
    from cml_py.config import MAX_REPEATS
    from cml_py.train.layout import replicate_predictions
    from cml_py.train.predictions import read_predictions

    paths = [f"{out_dir}/{replicate_predictions(i)}" for i in range(1, MAX_REPEATS)]
    head_seeds = []
    for path in paths:
        file = repo_root / path
        if not _present(file, path):
            break
        check_readable(file, repo_root, "the predictions file", path)
        head_seeds.append(read_predictions(file, display=path, task=head.task))
    base_seeds = []
    blobs = source.read_files(paths)
    for path in paths:
        data = blobs.get(path)
        if data is None:
            break
        try:
            base_seeds.append(
                read_predictions("", display=f"{base_name}:{path}", task=head.task, data=data)
            )
        except CmlError as exc:
            notes.append(f"{base_name}'s seeds beyond the first are left out ({exc}).")
            base_seeds = []
            break
    return {"head_seeds": tuple(head_seeds), "base_seeds": tuple(base_seeds)}


def _present(path: Path, name: str) -> bool:
    """A training output at `path`: a file, or a symlink for check_readable to refuse."""
    try:
        return path.is_file() or path.is_symlink()
    except OSError as exc:  # train.output_dir longer than the file system allows
        raise lookup_error(name, "a training output", exc) from None


def _read_local(root: Path, path: str) -> bytes | None:
    target = root / path
    if not _present(target, path):
        return None
    if target.is_symlink():
        check_readable(target, root, "a training output", path)
    return target.read_bytes() if target.is_file() else None
