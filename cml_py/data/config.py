"""`data:` in cml.yaml → which datasets are compared between main and the PR, and how.

Which datasets are compared, their columns and thresholds are policy: like the gate, they
are read from the base commit's cml.yaml (see trust.py), so a PR cannot stop its own data
from being looked at. This module is plain dataclasses and their parser, cheap to import:
cml.yaml is parsed on every command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from cml_py.schema import Checker

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
FORMATS = ("csv", "tsv", "parquet")
DEFAULT_PSI_THRESHOLD = 0.2
DEFAULT_SAMPLE_ROWS = 100_000
DEFAULT_MAX_MB = 2048.0
DEFAULT_MAX_COLUMNS = 1000
DEFAULT_CATEGORIES = 20


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset: `data.<name>.*` metrics.

    `paths` are files or globs relative to cml.yaml's directory (several files are one
    dataset, concatenated in path order). `leakage` names another dataset whose rows
    must not occur in this one (a test set's training set).
    """

    name: str = ""  # defaults only so that settings code can build an empty one
    paths: tuple[str, ...] = ()
    target: str | None = None
    id: str | None = None
    columns: tuple[str, ...] | None = None  # only these (default: every column)
    exclude: tuple[str, ...] = ()
    leakage: str | None = None
    format: str | None = None  # default: by extension
    psi_threshold: float = DEFAULT_PSI_THRESHOLD  # a column drifts at PSI >= this
    sample_rows: int = DEFAULT_SAMPLE_ROWS  # drift statistics on at most this many rows
    max_mb: float = DEFAULT_MAX_MB  # per file
    max_columns: int = DEFAULT_MAX_COLUMNS
    categories: int = DEFAULT_CATEGORIES  # top-k categories per column, the rest "other"

    def __str__(self) -> str:
        """As it would be written in cml.yaml (the report lists a PR's changes this way)."""
        defaults = DatasetSpec(name=self.name, paths=self.paths)
        parts = [f"path: {', '.join(self.paths)}"]
        for item in fields(self):
            if item.name in ("name", "paths"):
                continue
            value = getattr(self, item.name)
            if value != getattr(defaults, item.name):
                shown = ", ".join(value) if isinstance(value, tuple) else value
                parts.append(f"{item.name}: {shown}")
        return f"{self.name}: {{{'; '.join(parts)}}}"


@dataclass(frozen=True)
class DataConfig:
    """`data:` as written: `enabled` False for `data: false` (nothing is compared, not
    even the built-in trainer's dataset, which is compared when `data:` is absent —
    Config.data None)."""

    enabled: bool | None = None
    datasets: tuple[DatasetSpec, ...] = ()


_KEYS = (
    "path",
    "target",
    "id",
    "columns",
    "exclude",
    "leakage",
    "format",
    "psi_threshold",
    "sample_rows",
    "max_mb",
    "max_columns",
    "categories",
)


def _column(c: Checker, value: Any, path: tuple[str, ...]) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise c.fail(path, f"expected a column name, got {value!r}")
    return str(value)


def _dataset(c: Checker, name: str, value: Any) -> DatasetSpec:
    path = ("data", name)
    if not _NAME.match(name):
        raise c.fail(
            path,
            "expected a dataset name of letters, digits, '_' or '-' starting with a letter "
            "(it becomes part of metric names: data.<name>.rows)",
        )
    if isinstance(value, (str, list)):
        value = {"path": value}
    if not isinstance(value, dict):
        raise c.fail(
            path,
            f"expected a path, a list of paths, or a mapping of this dataset's settings, got "
            f"{value!r}; expected one of: {', '.join(_KEYS)}",
        )
    spec = c.mapping(value, path)
    c.known_keys(spec, _KEYS, path)
    if "path" not in spec:
        raise c.fail(path, "missing key path (a CSV, TSV or Parquet file, or a glob)")
    out: dict[str, Any] = {"name": name, "paths": c.string_list(spec["path"], (*path, "path"))}
    for key in ("target", "id"):
        if key in spec:
            out[key] = _column(c, spec[key], (*path, key))
    for key in ("columns", "exclude"):
        if key in spec:
            items = spec[key] if isinstance(spec[key], list) else [spec[key]]
            out[key] = tuple(_column(c, v, (*path, key, str(i))) for i, v in enumerate(items))
    if "leakage" in spec:
        out["leakage"] = c.string(spec["leakage"], (*path, "leakage"))
    if "format" in spec:
        out["format"] = c.choice(spec["format"], FORMATS, (*path, "format"))
    if "psi_threshold" in spec:
        threshold = c.number(spec["psi_threshold"], (*path, "psi_threshold"), non_negative=True)
        if threshold == 0:
            raise c.fail((*path, "psi_threshold"), "expected a number > 0")
        out["psi_threshold"] = threshold
    if "max_mb" in spec:
        size = c.number(spec["max_mb"], (*path, "max_mb"), non_negative=True)
        if size == 0:
            raise c.fail((*path, "max_mb"), "expected a number of megabytes > 0")
        out["max_mb"] = size
    for key, minimum in (("sample_rows", 1000), ("max_columns", 1), ("categories", 2)):
        if key in spec:
            out[key] = c.integer(spec[key], (*path, key), minimum=minimum)
    return DatasetSpec(**out)


def parse_data(c: Checker, value: Any) -> DataConfig:
    """`data: false`, or `data: {NAME: PATH | {path: …, target: …, …}}`."""
    if isinstance(value, bool):
        if value:
            raise c.fail(("data",), "expected false or a mapping of dataset names")
        return DataConfig(enabled=False)
    spec: Mapping[str, Any] = c.mapping(value, ("data",))
    datasets = tuple(_dataset(c, name, item) for name, item in spec.items())
    names = {d.name for d in datasets}
    for dataset in datasets:
        if dataset.leakage is not None and dataset.leakage not in names:
            raise c.fail(
                ("data", dataset.name, "leakage"),
                f"expected the name of another dataset under data: ({', '.join(sorted(names))})",
            )
        if dataset.leakage == dataset.name:
            raise c.fail(("data", dataset.name, "leakage"), "expected another dataset's name")
    return DataConfig(enabled=True, datasets=datasets)
