"""Two frames of one dataset (main's, the PR's) → flat metric values for each side.

Every measure becomes an ordinary metric, `data.<dataset>.<measure>` or
`data.<dataset>.<column>.<measure>`, so the gate, the report, JSON, JUnit and
OpenMetrics treat them like any other number. A measure of the difference between the
two sides (PSI, distances, p-values, out-of-range share, new categories) has main's
value against itself on main's side — 0 drift, p = 1 — so "unchanged" means no drift.

Cost is bounded: quality measures (missing, duplicates, out of range, categories) use
every row; the numeric drift statistics use a deterministic sample of `sample_rows`
rows per side above that size (seeded, so a rerun gives the same numbers, and a column
identical on both sides is recognised first and reported as exactly 0). Categories
beyond the top `categories` (by the larger share of the two sides) are pooled as
"other". A string column with more than MAX_DISTINCT distinct values that are mostly
unique is taken for an identifier or free text, and gets no drift measures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cml_py.data.config import DatasetSpec
from cml_py.data.hashing import (
    _value_hashes,
    duplicate_share,
    row_hashes,
)

Scalar = float | int | str
MAX_DISTINCT = 1000  # above this, and mostly unique: an identifier, not a category
TARGET_CLASSES = 50  # a numeric target with at most this many integer values: classes
SAMPLE_SEED = 0
CHART_COLUMNS = 6
HIST_BINS = 30

# measure → value on main's side (the PR compared with main: main against itself)
IDENTITY = {
    "psi": 0.0,
    "wasserstein": 0.0,
    "js": 0.0,
    "p_value": 1.0,
    "out_of_range": 0.0,
    "new_categories": 0,
    "vanished_categories": 0,
}
NUMBER_MEASURES = ("psi", "wasserstein", "p_value", "out_of_range")
CATEGORY_MEASURES = ("psi", "js", "p_value", "new_categories", "vanished_categories")


@dataclass(frozen=True)
class DriftSeries:
    """What the drift chart draws for one column: histogram counts on shared bins
    (numbers; `edges` has one more entry than the counts) or shares per category."""

    dataset: str
    column: str
    kind: str  # "number" or "category"
    psi: float
    labels: tuple[str, ...] = ()
    edges: tuple[float, ...] = ()
    base: tuple[float, ...] = ()
    head: tuple[float, ...] = ()


@dataclass
class DatasetResult:
    """Flat values for each side (None: the side has no such dataset), notes, chart data."""

    name: str
    base: dict[str, Scalar] | None
    head: dict[str, Scalar] | None
    notes: list[str] = field(default_factory=list)
    drift: list[DriftSeries] = field(default_factory=list)


@dataclass
class Column:
    """One side's column, summarised once (every row). The values themselves are not
    copied: `numbers()` and `hashes()` derive them from the frame's series when a
    comparison needs them, so a side costs its frame and little more."""

    name: str
    kind: str  # number | datetime | boolean | string
    rows: int
    missing: int
    series: Any = field(repr=False, default=None)
    low: float = math.nan
    high: float = math.nan
    counts: dict[str, int] | None = None  # compared by category: value → rows
    distinct: int = 0

    @property
    def categorical(self) -> bool:
        """Compared by category (strings, booleans, a numeric target's classes)."""
        return self.counts is not None

    def numbers(self) -> np.ndarray:
        """float64 values, NaN where missing (numbers and timestamps only)."""
        return _floats(self.series, self.kind)

    def hashes(self) -> np.ndarray:
        """One 64-bit hash per row, by value (see column_hash)."""
        if self.kind == "string":
            import pandas as pd

            hashed = pd.util.hash_pandas_object(self.series, index=False, categorize=True)
            return np.asarray(hashed.to_numpy(), dtype=np.uint64)
        return _value_hashes(_floats(self.series, self.kind))

    def identifier_like(self) -> bool:
        present = self.rows - self.missing
        return (
            self.kind == "string" and self.distinct > MAX_DISTINCT and self.distinct > present / 2
        )

    def constant(self) -> bool:
        if self.categorical:
            return self.distinct <= 1
        return not self.high > self.low


def kind_of(series: Any) -> str:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    return "string"


def _floats(series: Any, kind: str) -> np.ndarray:
    """float64 values with NaN for missing (and for ±inf, which no bin or distance
    can hold); timestamps as seconds since the epoch."""
    if kind == "datetime":
        missing = np.asarray(series.isna().to_numpy(), dtype=bool)
        stamps = np.asarray(series.to_numpy(dtype="datetime64[ns]"))
        values = stamps.astype("int64").astype(float) / 1e9
        values[missing] = np.nan
        return values
    if kind == "boolean":
        return np.asarray(series.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    values = np.asarray(series.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, np.nan)
    return values


def prepare(series: Any, name: str) -> Column:
    """A pandas Series → Column (every row)."""
    kind = kind_of(series)
    rows = len(series)
    if kind in ("number", "datetime"):
        values = _floats(series, kind)
        missing = int(np.count_nonzero(np.isnan(values)))
        low = high = math.nan
        if missing < rows:
            low, high = float(np.nanmin(values)), float(np.nanmax(values))
        return Column(name, kind, rows, missing, series, low=low, high=high)
    counted = series.value_counts(dropna=True, sort=False)
    counts: dict[str, int] = {}
    for key, count in zip(counted.index, counted.to_numpy(), strict=True):
        label = str(key)
        counts[label] = counts.get(label, 0) + int(count)
    missing = rows - sum(counts.values())
    return Column(name, kind, rows, missing, series, counts=counts, distinct=len(counts))


def sample_positions(rows: int, limit: int) -> np.ndarray | None:
    """Which rows the numeric drift statistics use: all (None) up to `limit`, else a
    seeded uniform sample of `limit` rows, in file order."""
    if rows <= limit:
        return None
    rng = np.random.default_rng(SAMPLE_SEED)
    return np.sort(rng.choice(rows, size=limit, replace=False))


def _sampled(values: np.ndarray, positions: np.ndarray | None) -> np.ndarray:
    chosen = values if positions is None else values[positions]
    present: np.ndarray = chosen[~np.isnan(chosen)]
    present.sort()
    return present


def identical_values(base: np.ndarray, head: np.ndarray) -> bool:
    return base.shape == head.shape and bool(np.array_equal(base, head, equal_nan=True))


def _metric(dataset: str, column: str | None, measure: str) -> str:
    return f"data.{dataset}.{measure}" if column is None else f"data.{dataset}.{column}.{measure}"


# -- a dataset -------------------------------------------------------------------------


def selected_columns(frame: Any, spec: DatasetSpec) -> list[str]:
    names = [str(c) for c in frame.columns]
    if spec.columns is not None:
        names = [c for c in names if c in spec.columns]
    excluded = {*spec.exclude, *([spec.id] if spec.id else [])}
    return [c for c in names if c not in excluded]


def side_values(
    frame: Any,
    spec: DatasetSpec,
    columns: Mapping[str, Column],
    hashes: np.ndarray,
    *,
    quality: bool = True,
) -> dict[str, Scalar]:
    """The measures one side has on its own (rows, duplicates, missing, type…)."""
    from cml_py.data.columns import _type_name

    out: dict[str, Scalar] = {"rows": len(frame)}
    if quality:
        out["columns"] = len(columns)
        out["duplicates"] = duplicate_share(hashes)
        out["constant_columns"] = sum(1 for c in columns.values() if c.constant())
    for name, column in columns.items():
        out[f"{name}.type"] = _type_name(column)
        out[f"{name}.missing"] = column.missing / column.rows if column.rows else 0.0
    return {(f"data.{spec.name}.{k}"): v for k, v in out.items()}


def _as_categorical_target(column: Column, spec: DatasetSpec) -> Column:
    """A numeric target with few integer values is a label: compare its classes."""
    if spec.target != column.name or column.kind != "number":
        return column
    numbers = column.numbers()
    present = numbers[~np.isnan(numbers)]
    classes = np.unique(present)
    if classes.size > TARGET_CLASSES or not np.all(classes == np.round(classes)):
        return column
    labels, counts = classes, np.array([np.count_nonzero(present == c) for c in classes])
    return Column(
        column.name,
        column.kind,
        column.rows,
        column.missing,
        column.series,
        counts={_class_label(v): int(n) for v, n in zip(labels, counts, strict=True)},
        distinct=int(classes.size),
    )


def _class_label(value: float) -> str:
    """A class of a numeric target as text, one text per value: `:g` would print 1000000
    and 1000001 alike ("1e+06"), merging two classes and hiding a shift between them."""
    return str(int(value)) if abs(value) < 2**53 else repr(float(value))


@dataclass
class Side:
    """One side of a dataset, prepared: its frame, columns and row hashes."""

    frame: Any
    columns: dict[str, Column]
    hashes: np.ndarray

    @classmethod
    def of(cls, frame: Any, spec: DatasetSpec) -> Side:
        names = selected_columns(frame, spec)
        columns = {name: prepare(frame[name], name) for name in names}
        return cls(frame, columns, row_hashes([columns[c] for c in sorted(names)], len(frame)))


def compare_dataset(
    spec: DatasetSpec,
    base: Side | None,
    head: Side | None,
    *,
    identical: bool = False,
    quality: bool = True,
) -> DatasetResult:
    """Every measure of one dataset. `identical`: main's rows are the PR's, so the drift
    measures are 0 without being computed. `quality=False` (a train/test split of a
    dataset measured on its own): rows and the columns' measures only."""
    from cml_py.data.columns import compare_categories, compare_numbers
    from cml_py.data.notes import _noise_note, _schema_notes

    result = DatasetResult(spec.name, None, None)
    if base is not None:
        result.base = side_values(base.frame, spec, base.columns, base.hashes, quality=quality)
    if head is not None:
        result.head = side_values(head.frame, spec, head.columns, head.hashes, quality=quality)
    if base is None or head is None:
        return result
    assert result.base is not None and result.head is not None
    added = [c for c in head.columns if c not in base.columns]
    removed = [c for c in base.columns if c not in head.columns]
    retyped = [
        c
        for c in head.columns
        if c in base.columns and base.columns[c].kind != head.columns[c].kind
    ]
    schema = {
        "columns_added": len(added),
        "columns_removed": len(removed),
        "columns_retyped": len(retyped),
        "schema_changes": len(added) + len(removed) + len(retyped),
    }
    if quality:
        for key, value in schema.items():
            result.base[_metric(spec.name, None, key)] = 0
            result.head[_metric(spec.name, None, key)] = value
    base_positions = sample_positions(len(base.frame), spec.sample_rows)
    head_positions = sample_positions(len(head.frame), spec.sample_rows)
    if quality and (base_positions is not None or head_positions is not None):
        result.notes.append(
            f"data.{spec.name}: numeric drift statistics use a seeded sample of "
            f"{spec.sample_rows:,} rows per side (main {len(base.frame):,}, this PR "
            f"{len(head.frame):,} rows); every other measure uses all rows."
        )
    drifted = compared = 0
    series: list[DriftSeries] = []
    skipped: list[str] = []
    for name, head_column in head.columns.items():
        base_column = base.columns.get(name)
        if base_column is None or name in retyped:
            continue
        base_column = _as_categorical_target(base_column, spec)
        head_column = _as_categorical_target(head_column, spec)
        if base_column.categorical != head_column.categorical:
            continue
        if base_column.identifier_like() or head_column.identifier_like():
            skipped.append(name)
            continue
        numbers = None
        if not base_column.categorical and not identical:
            numbers = base_column.numbers(), head_column.numbers()
        if identical or (numbers is not None and identical_values(*numbers)):
            measures = CATEGORY_MEASURES if base_column.categorical else NUMBER_MEASURES
            values: dict[str, Scalar] = {k: IDENTITY[k] for k in measures}
            drift = None
        elif numbers is None:
            values, drift = compare_categories(base_column, head_column, spec.categories, spec.name)
        else:
            values, drift = compare_numbers(
                base_column, head_column, numbers, spec.name, base_positions, head_positions
            )
        numbers = None
        compared += 1
        psi_value = float(values["psi"])
        if psi_value >= spec.psi_threshold:
            drifted += 1
        if drift is not None and psi_value > 0:
            series.append(drift)
        for key, measured in values.items():
            result.base[_metric(spec.name, name, key)] = IDENTITY[key]
            result.head[_metric(spec.name, name, key)] = measured
    series.sort(key=lambda s: (-s.psi, s.column))
    result.drift = series[:CHART_COLUMNS]
    if not quality:
        return result
    result.base[_metric(spec.name, None, "drifted_columns")] = 0
    result.head[_metric(spec.name, None, "drifted_columns")] = drifted
    result.base[_metric(spec.name, None, "drift_share")] = 0.0
    result.head[_metric(spec.name, None, "drift_share")] = drifted / compared if compared else 0.0
    result.notes += _schema_notes(spec, base, head, added, removed, retyped, skipped)
    if not identical and compared:
        result.notes += _noise_note(spec, base, head)
    return result


def _names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(c) for c in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def column_hash(series: Any) -> np.ndarray:
    """A 64-bit hash per value that depends on the value, not on how the file typed
    it (numbers by value, text by its characters)."""
    return prepare(series, str(series.name)).hashes()
