"""Each drift measure against an independent computation (scipy, or a table by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from cml_py.data import measures as m


def test_psi_against_a_table_computed_by_hand() -> None:
    # main: 100 values 1..100 → deciles 10, 20, …, 90 → ten bins of 10 rows each.
    base = np.arange(1, 101, dtype=float)
    edges = m.quantile_edges(base)
    assert edges.tolist() == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    # the PR: 50 rows in the first bin, 50 in the last.
    head = np.concatenate([np.full(50, 5.0), np.full(50, 95.0)])
    base_counts, head_counts = m.bin_counts(base, edges), m.bin_counts(head, edges)
    assert base_counts.tolist() == [10] * 10
    assert head_counts.tolist() == [50, 0, 0, 0, 0, 0, 0, 0, 0, 50]
    # by hand: two bins (0.5 - 0.1)·ln(0.5/0.1), eight bins (1e-4 - 0.1)·ln(1e-4/0.1)
    expected = 2 * 0.4 * math.log(5) + 8 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert m.psi(base_counts, head_counts) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(1.28755 + 5.52068, abs=1e-4)  # 6.8082


def test_psi_bins_are_right_closed_at_observed_values() -> None:
    base = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2], dtype=float)
    edges = m.quantile_edges(base)
    # one bin per value, no empty quantile bins; below main's smallest value and above
    # its largest, a bin each
    assert edges.tolist() == [np.nextafter(0.0, -1.0), 0, 1, 2]
    assert m.bin_counts(base, edges).tolist() == [0, 5, 3, 2, 0]
    assert m.bin_counts(np.array([3.0, -1.0, 0.5]), edges).tolist() == [1, 0, 1, 0, 1]
    assert m.psi(m.bin_counts(base, edges), m.bin_counts(base, edges)) == 0.0


@pytest.mark.parametrize(
    "base",
    [[1.0] * 10, [0, 0, 0, 0, 0, 1, 1, 1, 2, 2]],
    ids=["constant", "few values"],
)
def test_psi_sees_a_shift_below_mains_range_as_one_above_it(base: list[float]) -> None:
    # Values under main's smallest shared its bin when that value was a decile: a
    # constant 1 → 0 measured PSI 0, 1 → 2 measured 18.4.
    a = np.array(base, dtype=float)
    edges = m.quantile_edges(a)
    down, up = a - 5.0, a + 5.0  # every value outside main's range, below or above
    psi_down = m.psi(m.bin_counts(a, edges), m.bin_counts(down, edges))
    psi_up = m.psi(m.bin_counts(a, edges), m.bin_counts(up, edges))
    assert psi_down == pytest.approx(psi_up, rel=1e-12) and psi_down > 5


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("n", "k"), [(50, 80), (1000, 700), (5000, 5000)])
def test_wasserstein_and_ks_match_scipy(seed: int, n: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, n)
    b = rng.normal(0.3, 1.4, k)
    if seed == 2:  # ties: a discrete column
        a, b = np.round(a), np.round(b)
    got = m.compare_sorted(np.sort(a), np.sort(b))
    assert got.wasserstein == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-10)
    ks = stats.ks_2samp(a, b, method="asymp")
    assert got.ks == pytest.approx(ks.statistic, abs=1e-12)
    en = math.sqrt(n * k / (n + k))
    assert got.ks_p == pytest.approx(stats.kstwobign.sf(en * got.ks), rel=1e-9, abs=1e-300)
    # the limiting distribution is what scipy's own asymptotic test approaches
    assert got.ks_p == pytest.approx(ks.pvalue, rel=0.25, abs=0.02)


@pytest.mark.parametrize("x", [0.05, 0.2, 0.29, 0.31, 0.5, 0.8, 1.0, 1.36, 2.0, 3.0, 6.0])
def test_kolmogorov_sf_matches_scipy(x: float) -> None:
    assert m.kolmogorov_sf(x) == pytest.approx(stats.kstwobign.sf(x), rel=1e-9, abs=1e-15)


def test_normalised_wasserstein_divides_by_mains_spread() -> None:
    base = np.array([0.0, 2.0, 4.0])
    head = base + 3.0
    w = m.compare_sorted(base, head).wasserstein
    assert w == pytest.approx(3.0)
    assert m.normalised_wasserstein(w, base, head) == pytest.approx(3.0 / np.std(base))
    constant = np.zeros(4)
    assert m.normalised_wasserstein(0.0, constant, constant) == 0.0
    moved = np.ones(4)
    w = m.compare_sorted(constant, moved).wasserstein
    assert m.normalised_wasserstein(w, constant, moved) == pytest.approx(1.0 / 0.5)


@pytest.mark.parametrize(
    ("base", "head"),
    [
        ([10, 20, 30], [10, 20, 30]),
        ([10, 20, 30], [30, 20, 10]),
        ([100, 0, 5, 1], [0, 100, 5, 7]),
        ([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1000]),
    ],
)
def test_js_distance_matches_scipy(base: list[int], head: list[int]) -> None:
    p, q = np.array(base, dtype=float), np.array(head, dtype=float)
    assert m.js_distance(p, q) == pytest.approx(jensenshannon(p, q), abs=1e-12)


@pytest.mark.parametrize(
    ("base", "head"),
    [
        ([10, 20, 30], [12, 18, 33]),
        ([500, 300, 200, 0], [480, 320, 150, 50]),
        ([5, 7], [9, 2]),
        ([100000, 2000, 30, 4], [99000, 2500, 60, 1]),
    ],
)
def test_chi2_matches_scipy(base: list[int], head: list[int]) -> None:
    stat, p = m.chi2_test(np.array(base), np.array(head))
    table = np.array([base, head])
    table = table[:, table.sum(axis=0) > 0]
    expected = stats.chi2_contingency(table, correction=False)
    assert stat == pytest.approx(expected.statistic, rel=1e-10)
    assert p == pytest.approx(expected.pvalue, rel=1e-8, abs=1e-300)


@pytest.mark.parametrize("df", [1, 2, 3, 9, 20, 99])
@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 3.0, 10.0, 50.0, 200.0])
def test_chi2_sf_matches_scipy(df: int, x: float) -> None:
    assert m.chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-9, abs=1e-300)


def test_empty_sides_are_no_drift() -> None:
    empty = np.array([], dtype=float)
    assert m.compare_sorted(empty, np.array([1.0])).ks_p == 1.0
    assert m.psi(np.zeros(3), np.array([1, 2, 3])) == 0.0
    assert m.chi2_test(np.array([0, 0]), np.array([1, 2])) == (0.0, 1.0)


def test_psi_noise_is_what_identical_distributions_show() -> None:
    rng = np.random.default_rng(0)
    values = [
        m.psi(m.bin_counts(a, m.quantile_edges(a)), m.bin_counts(b, m.quantile_edges(a)))
        for a, b in ((rng.normal(size=400), rng.normal(size=400)) for _ in range(200))
    ]
    assert np.mean(values) == pytest.approx(m.psi_noise(10, 400, 400), rel=0.25)
