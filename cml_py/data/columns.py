"""Comparing one column of main with the same column of the PR: drift measures for numbers
(PSI on main's deciles, normalised Wasserstein, KS) and for categories (PSI,
Jensen-Shannon, chi²), and the histograms the drift chart draws."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cml_py.data import measures as m
from cml_py.data.compare import (
    HIST_BINS,
    Column,
    DriftSeries,
    Scalar,
    _sampled,
)


def _type_name(column: Column) -> str:
    return column.kind


def _top_categories(base: Mapping[str, int], head: Mapping[str, int], k: int) -> list[str]:
    """The k categories with the largest share on either side; ties by name."""
    base_total = sum(base.values()) or 1
    head_total = sum(head.values()) or 1
    keys = set(base) | set(head)
    ranked = sorted(
        keys,
        key=lambda c: (-max(base.get(c, 0) / base_total, head.get(c, 0) / head_total), c),
    )
    return ranked[:k]


def _category_counts(counts: Mapping[str, int], top: list[str], with_other: bool) -> np.ndarray:
    chosen = [counts.get(c, 0) for c in top]
    if with_other:
        chosen.append(sum(counts.values()) - sum(chosen))
    return np.asarray(chosen, dtype=float)


def compare_categories(
    base: Column, head: Column, k: int, dataset: str
) -> tuple[dict[str, Scalar], DriftSeries]:
    assert base.counts is not None and head.counts is not None
    top = _top_categories(base.counts, head.counts, k)
    other = len(set(base.counts) | set(head.counts)) > len(top)
    b = _category_counts(base.counts, top, other)
    h = _category_counts(head.counts, top, other)
    _, p_value = m.chi2_test(b, h)
    values: dict[str, Scalar] = {
        "psi": m.psi(b, h),
        "js": m.js_distance(b, h),
        "p_value": p_value,
        "new_categories": sum(1 for c in head.counts if c not in base.counts),
        "vanished_categories": sum(1 for c in base.counts if c not in head.counts),
    }
    labels = (*top, "other") if other else tuple(top)
    series = DriftSeries(
        dataset,
        head.name,
        "category",
        float(values["psi"]),
        labels=tuple(labels),
        base=tuple(m.shares(b).tolist()),
        head=tuple(m.shares(h).tolist()),
    )
    return values, series


def compare_numbers(
    base: Column,
    head: Column,
    numbers: tuple[np.ndarray, np.ndarray],
    dataset: str,
    base_positions: np.ndarray | None,
    head_positions: np.ndarray | None,
) -> tuple[dict[str, Scalar], DriftSeries]:
    """`numbers`: both sides' values (Column.numbers()), computed once by the caller."""
    base_numbers, head_numbers = numbers
    out_of_range = 0.0
    if base.rows > base.missing and head.rows:
        with np.errstate(invalid="ignore"):
            outside = (head_numbers < base.low) | (head_numbers > base.high)
        out_of_range = float(np.count_nonzero(outside)) / head.rows
    a = _sampled(base_numbers, base_positions)
    b = _sampled(head_numbers, head_positions)
    edges = m.quantile_edges(a)
    scale = m.scale_of(a, b)  # 1 unless values come near float64's limit
    cdf = m.compare_sorted(a / scale, b / scale)
    values: dict[str, Scalar] = {
        "psi": m.psi(m.bin_counts(a, edges), m.bin_counts(b, edges)),
        "wasserstein": m.normalised_wasserstein(cdf.wasserstein, a, b, scale),
        "p_value": cdf.ks_p,
        "out_of_range": out_of_range,
    }
    return values, _histogram(dataset, head.name, float(values["psi"]), a, b)


def _histogram(dataset: str, column: str, psi: float, a: np.ndarray, b: np.ndarray) -> DriftSeries:
    both = np.concatenate([a, b])
    if both.size == 0:
        return DriftSeries(dataset, column, "number", psi)
    low, high = np.quantile(both, [0.005, 0.995], method="inverted_cdf")  # observed values
    if not high > low:
        low, high = float(both.min()), float(both.max())
    if not high > low:
        low, high = low - 0.5, high + 0.5
    # low·(1 − t) + high·t rather than linspace, whose high − low overflows for values
    # near float64's limit
    t = np.linspace(0.0, 1.0, HIST_BINS + 1)
    edges = np.maximum.accumulate(low * (1.0 - t) + high * t)
    counts = [np.histogram(np.clip(x, low, high), bins=edges)[0] for x in (a, b)]
    return DriftSeries(
        dataset,
        column,
        "number",
        psi,
        edges=tuple(edges.tolist()),
        base=tuple(m.shares(counts[0]).tolist()),
        head=tuple(m.shares(counts[1]).tolist()),
    )
