"""Interval, p-value and verdict of a paired change from one procedure (pure, stdlib only).

Every change that cml-py calls significant or not is described by a `PairedStat`, and
this module derives everything a reader sees from it — the interval at any level and
the one-sided p-value against any tolerance — so the numbers beside each other can never
disagree. Two procedures exist:

* ``score``: accuracy of one model per side. Tango's (1998) score test for a difference
  of paired proportions, from the counts of rows that only one side gets right. With no
  tolerance it is McNemar's test; its interval is the set of differences the test does
  not reject.
* ``t``: everything else. A studentised change, (estimate − d₀) / se, against a normal
  distribution (one model per side: se from the paired bootstrap or DeLong) or a t
  distribution whose degrees of freedom come from the seeds (`train.repeats`).

Holm's step-down procedure controls the chance that any of several rules fails by
noise. The distribution functions are written here so that `cml-py` needs no scipy at
run time; the tests check them against scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cml_py.model import PairedStat

SQRT2 = math.sqrt(2.0)


# -- distributions ------------------------------------------------------------------


def norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / SQRT2)


def norm_sf(x: float) -> float:
    return 0.5 * math.erfc(x / SQRT2)


def norm_ppf(p: float) -> float:
    """Inverse of the normal CDF: Acklam's rational approximation, then two Newton steps
    on erfc (accurate to ~1e-15)."""
    if not 0.0 < p < 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        raise ValueError(f"probability out of range: {p}")
    a = (-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690,
         -30.66479806614716, 2.506628277459239)  # fmt: skip
    b = (-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
         -13.28068155288572)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838,
         -2.549732539343734, 4.374664141464968, 2.938163982698783)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996, 3.754408661907416)
    low = 0.02425
    if p < low:
        q = math.sqrt(-2 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    elif p <= 1 - low:
        q = p - 0.5
        r = q * q
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        )
    else:
        q = math.sqrt(-2 * math.log(1 - p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    for _ in range(2):
        error = (norm_cdf(x) - p) if p < 0.5 else ((1.0 - p) - norm_sf(x))
        density = math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        if density > 0:
            x -= error / density
    return x


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(x: float, df: float) -> float:
    """P(T > x) for Student's t with `df` degrees of freedom (normal when df is inf)."""
    if math.isinf(df):
        return norm_sf(x)
    if math.isnan(x):
        return math.nan
    if math.isinf(x):
        return 0.0 if x > 0 else 1.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + x * x))
    return tail if x > 0 else 1.0 - tail


def t_ppf(p: float, df: float) -> float:
    """The p-quantile of Student's t (normal when df is inf)."""
    if math.isinf(df):
        return norm_ppf(p)
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    lo, hi = 0.0, max(1.0, norm_ppf(p))
    while t_sf(hi, df) > 1.0 - p:
        hi *= 2.0
        if hi > 1e12:
            return math.inf
    for _ in range(200):  # bisection: t_sf is monotone, and this is not a hot path
        mid = 0.5 * (lo + hi)
        if t_sf(mid, df) > 1.0 - p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# -- Tango's score test for paired proportions ---------------------------------------


def score_z(n: int, better: int, worse: int, d0: float) -> float:
    """Tango's score statistic for H0: p(head right) − p(base right) = d0.

    `better` rows only this PR gets right, `worse` rows only main gets right. The
    variance is evaluated at the restricted maximum-likelihood estimate of the
    discordant probabilities under H0, which is what keeps the test honest with few
    discordant rows; at d0 = 0 it is McNemar's (b − c) / √(b + c).
    """
    if n <= 0:
        return 0.0
    estimate = (better - worse) / n
    if d0 >= 1.0 or d0 <= -1.0:
        return -math.inf if d0 >= 1.0 else math.inf
    rest = n - better - worse
    # q = P(only main right) under H0; P(only head right) = q + d0. Root of
    # 2n q² − B q − worse·d0·(1 − d0) = 0 (from the score equation of the multinomial).
    big_b = better * (1 - d0) + worse * (1 - 3 * d0) - 2 * rest * d0
    disc = big_b * big_b + 8.0 * n * worse * d0 * (1 - d0)
    q = (big_b + math.sqrt(max(disc, 0.0))) / (4.0 * n)
    q = min(max(q, max(0.0, -d0)), (1.0 - d0) / 2.0)
    variance = (2.0 * q + d0 - d0 * d0) / n
    if variance <= 0.0:
        if math.isclose(estimate, d0, abs_tol=1e-15):
            return 0.0
        return math.inf if estimate > d0 else -math.inf
    return (estimate - d0) / math.sqrt(variance)


def _score_root(n: int, better: int, worse: int, target: float, lo: float, hi: float) -> float:
    """The d0 in [lo, hi] where score_z(d0) = target (score_z falls as d0 grows)."""
    if score_z(n, better, worse, hi) >= target:
        return hi
    if score_z(n, better, worse, lo) <= target:
        return lo
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if score_z(n, better, worse, mid) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-14:
            break
    return 0.5 * (lo + hi)


# -- one stat, every number -----------------------------------------------------------


def interval(stat: PairedStat, level: float) -> tuple[float, float]:
    """The two-sided interval of the change at confidence `level`, by the stat's procedure."""
    alpha = 1.0 - level
    if stat.counts is not None:
        n, better, worse = stat.counts
        quantile = norm_ppf(1.0 - alpha / 2.0)
        estimate = (better - worse) / n
        edge = 1.0 - 1e-12
        return (
            _score_root(n, better, worse, quantile, -edge, estimate),
            _score_root(n, better, worse, -quantile, estimate, edge),
        )
    se = stat.se or 0.0
    if se == 0.0:
        return stat.delta, stat.delta
    half = t_ppf(1.0 - alpha / 2.0, stat.df) * se
    return stat.delta - half, stat.delta + half


def p_above(stat: PairedStat, d0: float) -> float:
    """One-sided p-value for "the true change is above d0" (small: evidence it is)."""
    if stat.counts is not None:
        return norm_sf(score_z(*stat.counts, d0))
    se = stat.se or 0.0
    if se == 0.0:
        return 0.0 if stat.delta > d0 else 1.0
    return t_sf((stat.delta - d0) / se, stat.df)


def p_below(stat: PairedStat, d0: float) -> float:
    """One-sided p-value for "the true change is below d0" (small: evidence it is)."""
    if stat.counts is not None:
        return norm_sf(-score_z(*stat.counts, d0))
    se = stat.se or 0.0
    if se == 0.0:
        return 0.0 if stat.delta < d0 else 1.0
    return t_sf((d0 - stat.delta) / se, stat.df)


def p_two_sided(stat: PairedStat) -> float:
    """p-value of "no change", consistent with `interval`: < 1 − level exactly when the
    interval at that level excludes 0."""
    return min(1.0, 2.0 * min(p_above(stat, 0.0), p_below(stat, 0.0)))


# -- several rules at once ------------------------------------------------------------


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values: rule i is rejected at family-wise level α exactly when its
    adjusted p-value is below α."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def holm_level(alpha: float, family: int, rejected: int) -> float:
    """The one-sided level at which every rule's interval agrees with Holm's decisions.

    Holm rejects the r smallest p-values; each of them is below α/(m − r) and every
    other p-value is at or above it, so intervals at that level lie beyond a rule's
    tolerance exactly for the rules that failed.
    """
    return alpha / max(1, family - rejected)
