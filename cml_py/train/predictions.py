"""A predictions file → arrays ready for evaluation, and pairing of base with head.

The format is shared by the built-in trainer and user code: columns `y_true`, `y_pred`,
optionally `id`, and for classifiers with scores one `proba_<class>` column per class.
Labels are encoded to 0..K-1 over the union of both sides' classes, so that base and
head confusion matrices line up cell for cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cml_py.errors import CmlError

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
    """Labels as strings, with integral floats shown as ints (1.0 → "1")."""
    if values.dtype.kind == "f":
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return values.astype(np.int64).astype(str)
        return values.astype(str)
    return values.astype(str)


def _sort_labels(labels: set[str]) -> tuple[str, ...]:
    """Numeric labels in numeric order (2 before 10), others alphabetically."""

    def key(label: str) -> tuple[int, float, str]:
        try:
            return (0, float(label), label)
        except ValueError:
            return (1, 0.0, label)

    return tuple(sorted(labels, key=key))


def infer_task(y_true: np.ndarray, y_pred: np.ndarray, has_proba: bool) -> str:
    """Classification when there are scores, non-numeric labels, or few integral values
    that the predictions share; regression otherwise."""
    if has_proba:
        return "classification"
    if y_true.dtype.kind not in "iufb" or y_pred.dtype.kind not in "iufb":
        return "classification"
    if y_true.dtype.kind == "b":
        return "classification"
    true = y_true.astype(float)
    pred = y_pred.astype(float)
    if not (np.all(true == np.round(true)) and np.all(pred == np.round(pred))):
        return "regression"
    classes = np.unique(true)
    if len(classes) > _MAX_AUTO_CLASSES:
        return "regression"
    return "classification" if np.isin(np.unique(pred), classes).all() else "regression"


def read_predictions(
    path: Path | str, *, display: str | None = None, task: str = "auto", data: bytes | None = None
) -> Predictions:
    """Read a predictions CSV (from disk, or `data` read from git)."""
    import io

    import pandas as pd

    name = display or str(path)
    try:
        source: Any = io.BytesIO(data) if data is not None else path
        frame = pd.read_csv(source, low_memory=False)
    except FileNotFoundError:
        raise CmlError(f"{name}: predictions file does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise CmlError(f"{name}: cannot read predictions CSV: {_first_line(exc)}") from None
    return predictions_from_frame(frame, name, task=task)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def predictions_from_frame(frame: Any, name: str, *, task: str = "auto") -> Predictions:
    missing = [c for c in ("y_true", "y_pred") if c not in frame.columns]
    if missing:
        raise CmlError(
            f"{name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            "expected columns id (optional), y_true, y_pred and proba_<class> (optional)"
        )
    if len(frame) == 0:
        raise CmlError(f"{name}: no rows")
    for column in ("y_true", "y_pred"):
        if frame[column].isna().any():
            row = int(np.flatnonzero(frame[column].isna().to_numpy())[0]) + 2
            raise CmlError(f"{name}: row {row}: {column} is empty")
    proba_cols = [c for c in frame.columns if str(c).startswith(PROBA_PREFIX)]
    proba = None
    if proba_cols:
        try:
            proba = frame[proba_cols].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise CmlError(f"{name}: proba_* columns must hold numbers") from None
        if not np.all(np.isfinite(proba)) or (proba < 0).any():
            raise CmlError(f"{name}: proba_* columns must hold finite numbers >= 0")
    ids = None
    if "id" in frame.columns:
        ids = frame["id"].to_numpy()
        if len(np.unique(ids)) != len(ids):
            raise CmlError(f"{name}: the id column has duplicate values")
    y_true = frame["y_true"].to_numpy()
    y_pred = frame["y_pred"].to_numpy()
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
    return Predictions(
        source=name,
        y_true=y_true,
        y_pred=y_pred,
        ids=ids,
        proba=proba,
        proba_labels=tuple(str(c)[len(PROBA_PREFIX) :] for c in proba_cols),
        task=task,
    )


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, label strings of the distinct values) in O(n): only distinct values are
    converted to strings, which matters at a million rows."""
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
    index = {label: i for i, label in enumerate(labels)}
    scores = np.zeros((p.n, len(labels)), dtype=np.float64)
    for column, label in enumerate(p.proba_labels):
        scores[:, index[label]] = p.proba[:, column]
    if len(p.proba_labels) == 1 and len(labels) == 2:
        # A single score column for a binary task is the score of its own class.
        other = 1 - index[p.proba_labels[0]]
        scores[:, other] = 1.0 - scores[:, index[p.proba_labels[0]]]
        return scores
    if len(p.proba_labels) != len(labels):
        return None  # scores for only some classes: no honest one-vs-rest or log loss
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
