"""A predictions file → arrays ready for evaluation, and pairing of base with head.

The format is shared by the built-in trainer and user code: columns `y_true`, `y_pred`,
optionally `id`, and for classifiers with scores one `proba_<class>` column per class.
Labels are encoded to 0..K-1 over the union of both sides' classes, so that base and
head confusion matrices line up cell for cell.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cml_py import limits as lim
from cml_py.errors import CmlError
from cml_py.train.predictions_read import (
    _read_with_pandas,
    _read_with_pyarrow,
    check_memory,
    decompressed,
)

TASKS = ("classification", "regression")
PROBA_PREFIX = "proba_"
_MAX_AUTO_CLASSES = 50


@dataclass(frozen=True)
class Predictions:
    """One side's predictions, as read. `labels` holds class names as strings."""

    source: str
    y_true: np.ndarray
    y_pred: np.ndarray
    ids: np.ndarray | None
    proba: np.ndarray | None
    proba_labels: tuple[str, ...]
    task: str

    @property
    def n(self) -> int:
        return int(self.y_true.shape[0])


@dataclass(frozen=True)
class Encoded:
    """Classification labels as integer codes 0..K-1 over a shared, sorted label set."""

    labels: tuple[str, ...]
    y: np.ndarray
    pred: np.ndarray
    scores: np.ndarray | None  # n × K as given, columns in `labels` order


def _label_strings(values: np.ndarray) -> np.ndarray:
    """Labels as strings, with integral floats shown as ints (1.0 → "1"); beyond int64
    (1e23) they stay floats, which casting would turn into -9223372036854775808."""
    if values.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2.0**63)
        if whole.all():
            return values.astype(np.int64).astype(str)
        text = values.astype(str)
        if whole.any():
            text[whole] = values[whole].astype(np.int64).astype(str)
        return text
    return values.astype(str)


def _sort_labels(labels: set[str]) -> tuple[str, ...]:
    """Numeric labels in numeric order (2 before 10), others alphabetically."""

    def key(label: str) -> tuple[int, float, str]:
        try:
            return (0, float(label), label)
        except ValueError:
            return (1, 0.0, label)

    return tuple(sorted(labels, key=key))


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; integers in a compact range by counting (O(n), no sort),
    which is most labels and ids at a million rows."""
    if values.dtype.kind in "iu" and len(values):
        low, high = int(values.min()), int(values.max())
        if high - low < max(1 << 16, 4 * len(values)):
            present = np.bincount((values - low).astype(np.intp), minlength=high - low + 1)
            codes: np.ndarray = np.flatnonzero(present).astype(values.dtype)
            shifted: np.ndarray = codes + values.dtype.type(low)
            return shifted
    distinct: np.ndarray = np.unique(values)
    return distinct


def increasing(ids: np.ndarray) -> bool:
    """Strictly increasing — the order files are usually written in, which spares a
    million rows a sort. False for values that do not compare (mixed types)."""
    try:
        return bool(np.all(ids[1:] > ids[:-1]))
    except TypeError:
        return False


def _has_duplicates(values: np.ndarray) -> bool:
    """One O(n) pass when the ids are already increasing (the usual case), else a sort."""
    if len(values) < 2 or increasing(values):
        return False
    try:
        ordered = np.sort(values, kind="stable")
    except TypeError:  # mixed types in an object column: compare as text
        ordered = np.sort(values.astype(str))
    return bool(np.any(ordered[1:] == ordered[:-1]))


def infer_task(y_true: np.ndarray, y_pred: np.ndarray, has_proba: bool) -> str:
    """Classification when there are scores, non-numeric labels, or few integral values
    that the predictions share; regression otherwise."""
    if has_proba:
        return "classification"
    if y_true.dtype.kind not in "iufb" or y_pred.dtype.kind not in "iufb":
        return "classification"
    if y_true.dtype.kind == "b":
        return "classification"
    if y_true.dtype.kind == "f" or y_pred.dtype.kind == "f":
        true = y_true.astype(float)
        pred = y_pred.astype(float)
        if not (np.all(true == np.round(true)) and np.all(pred == np.round(pred))):
            return "regression"
    classes = _distinct(y_true)
    if len(classes) > _MAX_AUTO_CLASSES:
        return "regression"
    return "classification" if np.isin(_distinct(y_pred), classes).all() else "regression"


def read_predictions(
    path: Path | str,
    *,
    display: str | None = None,
    task: str = "auto",
    data: bytes | None = None,
    limits: lim.Limits | None = None,
) -> Predictions:
    """Read a predictions CSV (from disk, or `data` read from git).

    The file's size and the memory its evaluation would need (rows × columns, estimated
    from a few samples, see check_memory) are checked before it is read, so a huge or
    very wide file is refused with a message instead of a MemoryError. pyarrow's
    multi-threaded CSV reader is used when it is installed (it also spares importing
    pandas), pandas' otherwise.
    """
    name = display or str(path)
    limits = limits or lim.active()
    plain = decompressed(str(path), name, data, limits)
    if plain is not None:
        data = plain
    if data is not None:
        lim.check_size(name, len(data), limits, field="data_bytes")
        check_memory(name, len(data), io.BytesIO(data), limits)
    else:
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                lim.check_size(name, size, limits, field="data_bytes")
                check_memory(name, size, handle, limits)
        except FileNotFoundError:
            raise CmlError(f"{name}: predictions file does not exist") from None
        except OSError as exc:
            raise CmlError(f"{name}: cannot read: {exc.strerror or exc}") from None
    source: Any = data if data is not None else path
    try:
        columns = _read_with_pyarrow(source, name)
    except ImportError:
        columns = _read_with_pandas(source, name)
    return predictions_from_columns(columns, name, task=task)


def _separator_hint(columns: dict[str, np.ndarray]) -> str:
    """For a header that holds the expected names but split by tabs or semicolons (a
    .tsv, a spreadsheet's export): predictions files are comma-separated."""
    for header in columns:
        for separator, what in (("\t", "tabs"), (";", "semicolons")):
            if {"y_true", "y_pred"} <= {h.strip() for h in header.split(separator)}:
                return f"; the header is separated by {what}, but predictions files are CSV"
    return ""


def _missing(values: np.ndarray) -> np.ndarray:
    """Empty cells as read: NaN in numeric columns, None/NaN in text columns."""
    if values.dtype.kind == "f":
        empty: np.ndarray = np.isnan(values)
        return empty
    if values.dtype.kind == "O":
        return np.fromiter(
            (v is None or (isinstance(v, float) and v != v) for v in values.tolist()),
            dtype=bool,
            count=len(values),
        )
    if values.dtype.kind in "mM":
        not_a_time: np.ndarray = np.isnat(values)
        return not_a_time
    return np.zeros(len(values), dtype=bool)


def predictions_from_frame(frame: Any, name: str, *, task: str = "auto") -> Predictions:
    """From a pandas DataFrame (the built-in trainer's), as from a file."""
    names = [str(c) for c in frame.columns]
    lim.unique_columns(names, name)
    return predictions_from_columns(
        {n: frame[c].to_numpy() for n, c in zip(names, frame.columns, strict=True)},
        name,
        task=task,
    )


def predictions_from_columns(
    columns: dict[str, np.ndarray], name: str, *, task: str = "auto"
) -> Predictions:
    missing = [c for c in ("y_true", "y_pred") if c not in columns]
    if missing:
        raise CmlError(
            f"{name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            "expected columns id (optional), y_true, y_pred and proba_<class> (optional)"
            + _separator_hint(columns)
        )
    if len(columns["y_true"]) == 0:
        raise CmlError(f"{name}: no rows")
    for column in ("y_true", "y_pred"):
        empty = _missing(columns[column])
        if empty.any():
            # Both readers read an empty cell and NaN (nan, NA, null…) alike.
            rows = np.flatnonzero(empty)
            count = f"{len(rows):,} row{'s' if len(rows) > 1 else ''}"
            raise CmlError(
                f"{name}: row {int(rows[0]) + 2}: {column} is missing (empty or NaN; "
                f"{count} in all), expected a value in every row"
            )
    proba_cols = [c for c in columns if c.startswith(PROBA_PREFIX)]
    proba = None
    if proba_cols:
        try:
            proba = np.empty((len(columns["y_true"]), len(proba_cols)), dtype=np.float64)
            for i, column in enumerate(proba_cols):
                proba[:, i] = columns[column]
        except (TypeError, ValueError):
            raise CmlError(f"{name}: proba_* columns must hold numbers") from None
        if not np.all(np.isfinite(proba)) or (proba < 0).any():
            raise CmlError(f"{name}: proba_* columns must hold finite numbers >= 0")
    ids = None
    if "id" in columns:
        ids = columns["id"]
        if _missing(ids).any():
            raise CmlError(f"{name}: the id column has empty values")
        if _has_duplicates(ids):
            raise CmlError(f"{name}: the id column has duplicate values")
    y_true = columns["y_true"]
    y_pred = columns["y_pred"]
    if task == "auto":
        task = infer_task(y_true, y_pred, proba is not None)
    elif task not in TASKS:
        raise CmlError(f"task: expected classification, regression or auto, got {task!r}")
    if task == "regression":
        try:
            y_true = y_true.astype(np.float64)
            y_pred = y_pred.astype(np.float64)
        except (TypeError, ValueError):
            raise CmlError(f"{name}: regression needs numeric y_true and y_pred") from None
        if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
            raise CmlError(f"{name}: y_true and y_pred must be finite numbers")
    else:
        _check_label_kinds(name, y_true, y_pred)
        if proba_cols:
            _check_proba_names(name, proba_cols, y_true, y_pred)
    return Predictions(
        source=name,
        y_true=y_true,
        y_pred=y_pred,
        ids=ids,
        proba=proba,
        proba_labels=tuple(str(c)[len(PROBA_PREFIX) :] for c in proba_cols),
        task=task,
    )


def _label_kind(values: np.ndarray) -> str:
    kind = values.dtype.kind
    return "true/false" if kind == "b" else "numbers" if kind in "iuf" else "text"


def _check_label_kinds(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> None:
    """y_true and y_pred written differently (true/false against 0/1, numbers against
    text such as "1.0") never compare equal: every row would count as wrong, and the
    metrics be 0 without a word. When the columns differ in kind and share no label at
    all, that is what happened: say so."""
    kinds = _label_kind(y_true), _label_kind(y_pred)
    if kinds[0] == kinds[1]:
        return
    true_labels, pred_labels = (_factorize(y)[1] for y in (y_true, y_pred))
    if set(true_labels.tolist()).isdisjoint(pred_labels.tolist()):
        examples = f"{str(true_labels[0])!r} and {str(pred_labels[0])!r}"
        raise CmlError(
            f"{name}: y_true holds {kinds[0]} and y_pred {kinds[1]}, and no y_pred value is "
            f"a y_true value (such as {examples}); expected both columns to write the "
            "classes the same way"
        )


def _check_proba_names(
    name: str, proba_cols: list[str], y_true: np.ndarray, y_pred: np.ndarray
) -> None:
    """At least one proba_<class> column must name a class of y_true or y_pred.

    Scores for a class absent from these rows, beside ones that match, are fine; but
    when none matches (proba_x, proba_y for labels 0, 1) the names are wrong, and each
    column would become a phantom class that skews every macro average.
    """
    named = {c[len(PROBA_PREFIX) :] for c in proba_cols}
    if y_true.dtype.kind != "f" and y_pred.dtype.kind != "f":  # formatted as in the whole
        first = [_label_strings(y[:1])[0] for y in (y_true, y_pred)]
        if named.intersection(first):
            return  # the usual case, in O(1)
    classes = set(_factorize(y_true)[1].tolist()) | set(_factorize(y_pred)[1].tolist())
    if named.isdisjoint(classes):
        raise CmlError(
            f"{name}: no proba_ column names a class of y_true or y_pred: got "
            f"{_listed(proba_cols)}, expected proba_<class> for the classes "
            f"{_listed(list(_sort_labels(classes)))}"
        )


def _listed(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) if len(n) <= 40 else repr(n[:40] + "…") for n in names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, label strings of the distinct values): only distinct values are converted
    to strings, which matters at a million rows. Integers in a compact range are coded
    by lookup (no sort, no pandas); other values by pandas' hash table."""
    if values.dtype.kind in "iu" and len(values):
        distinct = _distinct(values)
        low = int(distinct[0])
        span = int(distinct[-1]) - low + 1
        if span <= max(1 << 16, 4 * len(values)):
            table = np.zeros(span, dtype=np.int64)
            table[(distinct - low).astype(np.intp)] = np.arange(len(distinct))
            return table[(values - low).astype(np.intp)], _label_strings(distinct)
    if values.dtype.kind in "fb":
        uniques, codes = np.unique(values, return_inverse=True)
        return codes.reshape(-1), _label_strings(uniques)
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=False)
    return codes, _label_strings(np.asarray(uniques))


def encode(*sides: Predictions) -> list[Encoded]:
    """Encode one or more sides over the union of their labels (classification only)."""
    factorized = [(_factorize(p.y_true), _factorize(p.y_pred)) for p in sides]
    labels_set: set[str] = set()
    for p, ((_, true_labels), (_, pred_labels)) in zip(sides, factorized, strict=True):
        labels_set.update(true_labels.tolist())
        labels_set.update(pred_labels.tolist())
        labels_set.update(p.proba_labels)
    labels = _sort_labels(labels_set)
    index = {label: i for i, label in enumerate(labels)}
    out = []
    for p, ((true_codes, true_labels), (pred_codes, pred_labels)) in zip(
        sides, factorized, strict=True
    ):
        true_map = np.array([index[label] for label in true_labels.tolist()], dtype=np.int64)
        pred_map = np.array([index[label] for label in pred_labels.tolist()], dtype=np.int64)
        out.append(Encoded(labels, true_map[true_codes], pred_map[pred_codes], _scores(p, labels)))
    return out


def _scores(p: Predictions, labels: tuple[str, ...]) -> np.ndarray | None:
    if p.proba is None:
        return None
    binary_single = len(p.proba_labels) == 1 and len(labels) == 2
    if len(p.proba_labels) != len(labels) and not binary_single:
        return None  # scores for only some classes: no honest one-vs-rest or log loss
    index = {label: i for i, label in enumerate(labels)}
    scores = np.zeros((p.n, len(labels)), dtype=np.float64)
    for column, label in enumerate(p.proba_labels):
        scores[:, index[label]] = p.proba[:, column]
    if binary_single:
        # A single score column for a binary task is the score of its own class.
        if (p.proba[:, 0] > 1).any():  # 1 − 5 is no probability: the log loss would be noise
            row = int(np.argmax(p.proba[:, 0] > 1))
            raise CmlError(
                f"{p.source}: row {row + 2}: {PROBA_PREFIX}{p.proba_labels[0]} is "
                f"{float(p.proba[row, 0]):g}; as the only proba_ column of a binary task it "
                "must be a probability from 0 to 1 (the other class's is 1 minus it)"
            )
        other = 1 - index[p.proba_labels[0]]
        scores[:, other] = 1.0 - scores[:, index[p.proba_labels[0]]]
    return scores


class NotPaired(Exception):
    """Base and head predictions are not on the same test rows; the reason is the message."""


def pair(base: Predictions, head: Predictions) -> tuple[Predictions, Predictions]:
    """Align base and head row by row, or say why they cannot be paired.

    With `id` on both sides the rows are matched by id (order may differ); without it
    they are matched by position. Either way the ground truth must agree row for row.
    """
    if base.task != head.task:
        raise NotPaired(f"main's predictions are {base.task}, this PR's are {head.task}")
    if base.n != head.n:
        raise NotPaired(f"main has {base.n:,} test rows and this PR has {head.n:,}")
    if base.ids is not None and head.ids is not None:
        # Numbers and text never match (and do not sort together): say so, not a TypeError.
        kinds = [_id_kind(ids) for ids in (base.ids, head.ids)]
        if kinds[0] != kinds[1]:
            raise NotPaired(f"main's ids are {kinds[0]} and this PR's are {kinds[1]}")
    if base.ids is not None and head.ids is not None and not np.array_equal(base.ids, head.ids):
        b_order, h_order = np.argsort(base.ids, kind="stable"), np.argsort(head.ids, kind="stable")
        if not np.array_equal(base.ids[b_order], head.ids[h_order]):
            shared = len(np.intersect1d(base.ids, head.ids))
            raise NotPaired(
                f"main and this PR predict different test rows "
                f"({shared:,} of {head.n:,} ids shared)"
            )
        base, head = _take(base, b_order), _take(head, h_order)
    if not _same_truth(base.y_true, head.y_true):
        raise NotPaired("y_true differs between main and this PR on the same rows")
    return base, head


def _id_kind(ids: np.ndarray) -> str:
    return "numbers" if ids.dtype.kind in "iufb" else "text"


def _same_truth(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype == b.dtype and np.array_equal(a, b):
        return True
    if a.dtype.kind in "iuf" and b.dtype.kind in "iuf":
        return bool(np.array_equal(a.astype(np.float64), b.astype(np.float64)))
    return bool(np.array_equal(_label_strings(a), _label_strings(b)))


def _take(p: Predictions, order: np.ndarray) -> Predictions:
    return Predictions(
        source=p.source,
        y_true=p.y_true[order],
        y_pred=p.y_pred[order],
        ids=p.ids[order] if p.ids is not None else None,
        proba=p.proba[order] if p.proba is not None else None,
        proba_labels=p.proba_labels,
        task=p.task,
    )
