"""Drift statistics between main's sample and the PR's, pure numpy (no scipy at run time).

Effect sizes decide, p-values inform. With a million rows every test calls a 0.1 %
shift "significant", so gates are written on effect sizes — PSI, the normalised
Wasserstein distance, the Jensen-Shannon distance — and p-values (Kolmogorov-Smirnov for
numbers, chi² for categories) are shown only as information.

- PSI (population stability index) over `BINS` bins cut at main's deciles, right-closed
  `(e[i-1], e[i]]` with edges taken from main's observed values, so a discrete column
  gets one bin per value instead of empty bins; shares are floored at `PSI_FLOOR`
  (a bin empty on one side would be infinite otherwise). < 0.1 is stable, 0.1–0.25 a
  moderate shift, > 0.25 a significant one.
- Wasserstein-1 distance between the empirical distributions (the area between the two
  CDFs), divided by main's standard deviation so it reads in "standard deviations
  moved" whatever the column's unit.
- Jensen-Shannon distance (natural log, as scipy and Evidently: 0 to √ln 2 ≈ 0.83) over
  category shares.
- KS: the largest CDF gap, and its p-value from Kolmogorov's limiting distribution.
- chi²: Pearson's statistic on the 2 × K table of counts, p-value from the chi²
  distribution (regularised incomplete gamma, series or continued fraction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BINS = 10
PSI_FLOOR = 1e-4


# -- bins and shares ---------------------------------------------------------------------


def quantile_edges(base: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Interior bin edges: main's quantiles at 1/bins … (bins-1)/bins, as observed values
    (the inverted CDF), without repeats. `base` holds no NaN.

    When main's smallest value is itself an edge (a column with few distinct values, a
    constant), one more edge just below it gives the values under main's range a bin of
    their own, as the last bin does for those above it: otherwise they shared main's
    lowest bin, and a constant column that moved from 1 to 0 measured PSI 0 where one
    that moved from 1 to 2 measured 18.4."""
    if base.size == 0:
        return np.empty(0)
    probs = np.arange(1, bins) / bins
    edges = np.unique(np.quantile(base, probs, method="inverted_cdf"))
    lowest = base.min()
    if edges[0] == lowest:
        edges = np.concatenate([[np.nextafter(lowest, -np.inf)], edges])
    return edges


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per right-closed bin: bin i holds edges[i-1] < x <= edges[i]."""
    index = np.searchsorted(edges, values, side="left")
    return np.bincount(index, minlength=edges.size + 1)


def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros(counts.shape)


def psi(base_counts: np.ndarray, head_counts: np.ndarray) -> float:
    """Σ (q − p) · ln(q / p) over bins, with both shares floored at PSI_FLOOR."""
    if base_counts.sum() == 0 or head_counts.sum() == 0:
        return 0.0
    p = np.maximum(shares(base_counts), PSI_FLOOR)
    q = np.maximum(shares(head_counts), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(base_counts: np.ndarray, head_counts: np.ndarray) -> float:
    """√(½ KL(p‖m) + ½ KL(q‖m)), m = (p + q) / 2, natural log."""
    if base_counts.sum() == 0 or head_counts.sum() == 0:
        return 0.0
    p, q = shares(base_counts), shares(head_counts)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


# -- numeric samples ---------------------------------------------------------------------


@dataclass(frozen=True)
class CdfComparison:
    """What two sorted samples tell: the Wasserstein-1 distance (in the column's unit),
    the KS statistic, and its asymptotic p-value."""

    wasserstein: float
    ks: float
    ks_p: float


def compare_sorted(a: np.ndarray, b: np.ndarray) -> CdfComparison:
    """Both empirical CDFs evaluated at every observed value, in one merge: W1 is the
    area between them, KS their largest gap. `a` and `b` are sorted, without NaN."""
    n, m = a.size, b.size
    if n == 0 or m == 0:
        return CdfComparison(0.0, 0.0, 1.0)
    merged = np.concatenate([a, b])
    merged.sort(kind="mergesort")
    cdf_a = np.searchsorted(a, merged, side="right") / n
    cdf_b = np.searchsorted(b, merged, side="right") / m
    gaps = np.abs(cdf_a - cdf_b)
    wasserstein = float(np.sum(gaps[:-1] * np.diff(merged)))
    ks = float(gaps.max())
    return CdfComparison(wasserstein, ks, ks_pvalue(ks, n, m))


LARGE = 2.0**500
"""Beyond this magnitude (or below its inverse) a sample is divided by a power of two
before differences and squares are taken: the PR's values may come near float64's
limit (±1e308 is finite), where the area between the CDFs and the standard deviation
overflow to inf and their ratio came out 0 or NaN — or be subnormal (1e-310), whose
squares are 0, so the standard deviation was 0 and so was the distance."""


def scale_of(*samples: np.ndarray) -> float:
    """1.0, or the power of two that brings the samples' largest magnitude into [2, 4):
    dividing by it is exact, and neither KS nor W1 / σ depend on the unit."""
    peak = max((float(np.max(np.abs(s))) for s in samples if s.size), default=0.0)
    if 1.0 / LARGE <= peak <= LARGE or peak == 0.0:
        return 1.0
    return math.ldexp(1.0, math.frexp(peak)[1] - 2)


def _std(values: np.ndarray) -> float:
    """The standard deviation, without overflow for values near float64's limit."""
    if not values.size:
        return 0.0
    scale = scale_of(values)
    return float(np.std(values / scale)) * scale


def normalised_wasserstein(
    w: float, base: np.ndarray, head: np.ndarray, scale: float = 1.0
) -> float:
    """W1 in units of main's standard deviation; for a constant column on main, of both
    sides' pooled standard deviation; 0 when both sides are the same constant. `w` is
    measured on the samples divided by `scale` (see scale_of); inf when the ratio is
    beyond float64."""
    spread = _std(base)
    if spread == 0.0:
        spread = _std(np.concatenate([base, head]))
    if not spread > 0:
        return 0.0
    with np.errstate(over="ignore"):
        ratio = np.float64(w) / (np.float64(spread) / scale)
    return float(ratio) if spread / scale > 0 else math.inf


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for Kolmogorov's limiting distribution: 2 Σ (−1)^(k−1) e^(−2k²x²)."""
    if x <= 0:
        return 1.0
    if x < 0.3:
        # The alternating series converges slowly here; the complementary (Jacobi theta)
        # form of the CDF converges fast: P(K <= x) = √(2π)/x Σ e^(−(2k−1)²π²/(8x²)).
        total = sum(math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)) for k in range(1, 20))
        return max(0.0, min(1.0, 1.0 - math.sqrt(2 * math.pi) / x * total))
    total = 0.0
    for k in range(1, 101):
        term = math.exp(-2 * k * k * x * x)
        total += term if k % 2 else -term
        if term < 1e-16:
            break
    return max(0.0, min(1.0, 2 * total))


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Two-sample KS p-value from the limiting distribution at √(nm/(n+m)) · D."""
    if n == 0 or m == 0:
        return 1.0
    return kolmogorov_sf(math.sqrt(n * m / (n + m)) * d)


# -- categories --------------------------------------------------------------------------


def chi2_test(base_counts: np.ndarray, head_counts: np.ndarray) -> tuple[float, float]:
    """Pearson's chi² on the 2 × K table (categories empty on both sides dropped), and
    its p-value with K − 1 degrees of freedom. No continuity correction."""
    table = np.vstack([base_counts, head_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return stat, chi2_sf(stat, table.shape[1] - 1)


def chi2_sf(x: float, df: int) -> float:
    """P(χ²_df > x) = Q(df/2, x/2), the regularised upper incomplete gamma function."""
    if x <= 0:
        return 1.0
    return gamma_q(df / 2.0, x / 2.0)


def gamma_q(a: float, x: float) -> float:
    """Q(a, x): the series for P when x < a + 1, else Lentz's continued fraction for Q."""
    if x <= 0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, min(1.0, 1.0 - total * math.exp(log_prefix)))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-15:
            break
    return max(0.0, min(1.0, math.exp(log_prefix) * h))


def psi_noise(bins: int, n: int, m: int) -> float:
    """The PSI two samples of one distribution show on average: about (bins − 1) ·
    (1/n + 1/m), since PSI is close to the chi² distance between the shares. Said in
    the report when it is large enough to be mistaken for drift."""
    if n == 0 or m == 0:
        return math.inf
    return (bins - 1) * (1 / n + 1 / m)
