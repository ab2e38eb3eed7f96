"""What the charts are drawn from: plain arrays and mappings, no file access."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cml_py.model import DiffRow

Series = tuple[np.ndarray, np.ndarray]  # (steps, values)


@dataclass(frozen=True)
class Side:
    """One side's predictions. Classification: `y`/`pred` are codes into `labels` and
    `scores` is n × K (or None); regression: `y`/`pred` are the numbers."""

    y: np.ndarray
    pred: np.ndarray
    scores: np.ndarray | None = None


@dataclass(frozen=True)
class ChartData:
    rows: Sequence[DiffRow] = ()
    task: str | None = None
    labels: tuple[str, ...] = ()
    base: Side | None = None
    head: Side | None = None
    base_importance: Mapping[str, float] | None = None
    head_importance: Mapping[str, float] | None = None
    base_curves: Mapping[str, Series] = field(default_factory=dict)
    head_curves: Mapping[str, Series] = field(default_factory=dict)


@dataclass(frozen=True)
class Chart:
    """A drawn chart, or the reason it was skipped (`figure` is None)."""

    name: str
    title: str
    figure: Any = None
    note: str = ""
