"""Is a change real or noise? Paired statistics for base and head predictions on the
same rows.

The paired bootstrap resamples *counts*, not rows, so a million rows cost about what a
thousand do:

* Count-based classification metrics (accuracy, precision/recall/F1, …) depend only on
  how many rows fall in each joint cell (true class, base prediction, head prediction).
  Resampling rows with replacement is exactly a multinomial draw over those cells, so
  the bootstrap draws cell counts directly: exact, at any size.
* Score- and loss-based metrics (ROC AUC, average precision, log loss, RMSE, MAE, R²,
  MAPE) are computed from per-row terms or score histograms. Rows are dealt into at
  most 500 random blocks and the bootstrap resamples blocks; each block is summarised
  once (sums, or a histogram of scores in up to 1,000 quantile bins), so a resample is
  one matrix product. With ≤ 500 rows every row is its own block (the textbook row
  bootstrap); above that, random blocks reproduce the row bootstrap's covariance of
  every summed term. Binned scores are used only for the spread: the interval is
  shifted to sit on the exact estimate.

On top of the intervals come the classical paired tests: McNemar's (accuracy) and
DeLong's (binary ROC AUC). A change is *significant* when the interval excludes zero
and, where a test applies, its p-value is below 1 − confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cml_py.model import PairedStat
from cml_py.train import evaluate as ev
from cml_py.train.predictions import Encoded, Predictions, encode, pair

MAX_BLOCKS = 500
MAX_BINS = 1000
MAX_BINS_MULTICLASS = 100
_FAMILY_COUNTS, _FAMILY_BLOCKS = 1, 2


@dataclass(frozen=True)
class PairedResult:
    n: int
    base: dict[str, float]
    head: dict[str, float]
    stats: dict[str, PairedStat]


def paired_statistics(
    base: Predictions,
    head: Predictions,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedResult:
    """Metrics of both sides and, per metric, the change with its interval and test.

    Raises NotPaired (with the reason) when the rows differ.
    """
    base, head = pair(base, head)
    if head.task == "regression":
        draws = _regression_draws(base, head, resamples, seed)
        base_values = ev.regression_metrics(base.y_true, base.y_pred)
        head_values = ev.regression_metrics(head.y_true, head.y_pred)
        tests: dict[str, tuple[str, float]] = {}
    else:
        enc_b, enc_h = encode(base, head)
        groups_b, groups_h = _groups(enc_b), _groups(enc_h)
        base_values = ev.classification_metrics(enc_b, groups_b)
        head_values = ev.classification_metrics(enc_h, groups_h)
        draws = _count_draws(enc_b, enc_h, resamples, seed)
        tests = {"accuracy": ("McNemar", mcnemar(enc_b.y, enc_b.pred, enc_h.pred))}
        if groups_b is not None and groups_h is not None:
            draws.update(_score_draws(enc_b, enc_h, groups_b, groups_h, resamples, seed))
            if len(enc_b.labels) == 2 and 1 in groups_b:
                tests["roc_auc"] = ("DeLong", delong(enc_b.y == 1, groups_b[1], groups_h[1]))
    alpha = 1.0 - confidence
    stats: dict[str, PairedStat] = {}
    for name, (delta_draws, estimate_of_delta) in draws.items():
        if name not in base_values or name not in head_values:
            continue
        delta = head_values[name] - base_values[name]
        finite = delta_draws[np.isfinite(delta_draws)]
        if len(finite) < max(10, resamples // 2):
            continue
        lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
        shift = delta - estimate_of_delta
        lo, hi = _snap(float(lo + shift)), _snap(float(hi + shift))
        test, p_value = tests.get(name, (None, None))
        excludes_zero = lo > 0 or hi < 0
        significant = excludes_zero and (p_value is None or p_value < alpha)
        stats[name] = PairedStat(
            delta=delta,
            ci_low=lo,
            ci_high=hi,
            confidence=confidence,
            significant=significant,
            resamples=resamples,
            test=test,
            p_value=p_value,
        )
    return PairedResult(n=head.n, base=base_values, head=head_values, stats=stats)


def _snap(value: float) -> float:
    """Floating-point dust (a bound of -1.1e-16 for a difference of equal counts) is 0:
    otherwise the report would show it as a real, tiny, significant change."""
    return 0.0 if abs(value) < 1e-12 else value


def _rng(seed: int, family: int) -> np.random.Generator:
    """One independent, reproducible stream per family, whatever else is computed."""
    return np.random.default_rng([seed, family])


def _aggregate(draws: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """Sum the columns of `draws` (B × C) that share an `index` value into B × size."""
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_index[1:] != sorted_index[:-1]])
    sums = np.add.reduceat(draws[:, order], starts, axis=1)
    out = np.zeros((draws.shape[0], size), dtype=np.float64)
    out[:, sorted_index[starts]] = sums
    return out


def _count_draws(
    enc_b: Encoded, enc_h: Encoded, resamples: int, seed: int
) -> dict[str, tuple[np.ndarray, float]]:
    """Exact paired bootstrap of count-based metrics: multinomial over joint cells."""
    k = len(enc_b.labels)
    n = len(enc_b.y)
    joint = (enc_b.y * k + enc_b.pred) * k + enc_h.pred
    cells, counts = np.unique(joint, return_counts=True)
    draws = _rng(seed, _FAMILY_COUNTS).multinomial(n, counts / n, size=resamples)
    draws = draws.astype(np.float64)
    true, pred_b, pred_h = cells // (k * k), (cells // k) % k, cells % k
    cm_b = _aggregate(draws, true * k + pred_b, k * k).reshape(resamples, k, k)
    cm_h = _aggregate(draws, true * k + pred_h, k * k).reshape(resamples, k, k)
    metrics_b = ev.count_metrics(cm_b, enc_b.labels)
    metrics_h = ev.count_metrics(cm_h, enc_b.labels)
    full_b = ev.count_metrics(ev.confusion(enc_b.y, enc_b.pred, k), enc_b.labels)
    full_h = ev.count_metrics(ev.confusion(enc_h.y, enc_h.pred, k), enc_b.labels)
    return {
        name: (metrics_h[name] - metrics_b[name], float(full_h[name] - full_b[name]))
        for name in metrics_b
    }


def _blocks(n: int, rng: np.random.Generator) -> tuple[int, np.ndarray]:
    if n <= MAX_BLOCKS:
        return n, np.arange(n)
    block = np.empty(n, dtype=np.int64)
    block[rng.permutation(n)] = np.arange(n) % MAX_BLOCKS
    return MAX_BLOCKS, block


def _block_weights(g: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    return rng.multinomial(g, np.full(g, 1.0 / g), size=resamples).astype(np.float64)


def _block_sums(block: np.ndarray, g: int, terms: np.ndarray) -> np.ndarray:
    """G × T sums of per-row terms (n × T) within each block."""
    return np.stack(
        [np.bincount(block, weights=terms[:, t], minlength=g) for t in range(terms.shape[1])],
        axis=1,
    )


def _regression_draws(
    base: Predictions, head: Predictions, resamples: int, seed: int
) -> dict[str, tuple[np.ndarray, float]]:
    rng = _rng(seed, _FAMILY_BLOCKS)
    g, block = _blocks(base.n, rng)
    weights = _block_weights(g, resamples, rng)
    sums_b = weights @ _block_sums(block, g, ev.regression_sums(base.y_true, base.y_pred))
    sums_h = weights @ _block_sums(block, g, ev.regression_sums(head.y_true, head.y_pred))
    mb, mh = ev.regression_from_sums(sums_b), ev.regression_from_sums(sums_h)
    full_b = ev.regression_metrics(base.y_true, base.y_pred)
    full_h = ev.regression_metrics(head.y_true, head.y_pred)
    return {
        name: (mh[name] - mb[name], full_h[name] - full_b[name])
        for name in mb
        if name in full_b and name in full_h
    }


def _groups(enc: Encoded) -> dict[int, ev.ScoreGroups] | None:
    if enc.scores is None:
        return None
    return {c: ev.score_groups(enc.y == c, enc.scores[:, c]) for c in ev.scored_classes(enc)}


def _bins(groups: ev.ScoreGroups, max_bins: int) -> tuple[np.ndarray, int]:
    """Bin index per row: the distinct scores themselves when there are few, else about
    `max_bins` bins of equal row counts. Equal scores always share a bin, so ties are
    treated as scikit-learn treats them."""
    if len(groups.values) <= max_bins:
        return groups.group, len(groups.values)
    sizes = groups.pos + groups.neg
    before = np.cumsum(sizes) - sizes
    group_bin = np.floor(before * max_bins / sizes.sum()).astype(np.int64)
    _, group_bin = np.unique(group_bin, return_inverse=True)
    return group_bin[groups.group], int(group_bin.max()) + 1


def _score_draws(
    enc_b: Encoded,
    enc_h: Encoded,
    groups_b: dict[int, ev.ScoreGroups],
    groups_h: dict[int, ev.ScoreGroups],
    resamples: int,
    seed: int,
) -> dict[str, tuple[np.ndarray, float]]:
    """Block bootstrap of ROC AUC, average precision and log loss."""
    assert enc_b.scores is not None and enc_h.scores is not None
    rng = _rng(seed, _FAMILY_BLOCKS)
    y, k = enc_b.y, len(enc_b.labels)
    g, block = _blocks(len(y), rng)
    weights = _block_weights(g, resamples, rng)
    max_bins = MAX_BINS if k == 2 else MAX_BINS_MULTICLASS
    per_side: dict[str, dict[str, list]] = {
        side: {"auc": [], "ap": [], "auc_full": [], "ap_full": []} for side in "bh"
    }
    for cls in groups_b:
        positive = y == cls
        for side, groups in (("b", groups_b[cls]), ("h", groups_h[cls])):
            bins, nb = _bins(groups, max_bins)
            index = block * nb + bins
            pos = np.bincount(index[positive], minlength=g * nb).reshape(g, nb)
            neg = np.bincount(index[~positive], minlength=g * nb).reshape(g, nb)
            pos_r, neg_r = weights @ pos, weights @ neg
            pos_t, neg_t = pos.sum(axis=0).astype(float), neg.sum(axis=0).astype(float)
            acc = per_side[side]
            acc["auc"].append(ev.auc_from_hist(pos_r, neg_r))
            acc["ap"].append(ev.ap_from_hist(pos_r, neg_r))
            acc["auc_full"].append(float(ev.auc_from_hist(pos_t, neg_t)))
            acc["ap_full"].append(float(ev.ap_from_hist(pos_t, neg_t)))
    out: dict[str, tuple[np.ndarray, float]] = {}
    if groups_b:
        b, h = per_side["b"], per_side["h"]
        for name, key in (("roc_auc", "auc"), ("average_precision", "ap")):
            out[name] = (
                np.mean(h[key], axis=0) - np.mean(b[key], axis=0),
                float(np.mean(h[key + "_full"]) - np.mean(b[key + "_full"])),
            )
    ll = np.stack(
        [ev.log_loss_rows(y, enc_b.scores), ev.log_loss_rows(y, enc_h.scores), np.ones(len(y))],
        axis=1,
    )
    sums = weights @ _block_sums(block, g, ll)
    full = ll.sum(axis=0)
    out["log_loss"] = ((sums[:, 1] - sums[:, 0]) / sums[:, 2], float((full[1] - full[0]) / full[2]))
    return out


def mcnemar(y: np.ndarray, pred_b: np.ndarray, pred_h: np.ndarray) -> float:
    """Two-sided p-value of McNemar's test on the rows where exactly one side is right.

    Exact (binomial) below 25 discordant rows, chi-square with continuity correction above.
    """
    right_b, right_h = pred_b == y, pred_h == y
    b = int(np.sum(right_b & ~right_h))
    c = int(np.sum(~right_b & right_h))
    n = b + c
    if n == 0:
        return 1.0
    if n < 25:
        tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2.0**n
        return min(1.0, 2.0 * tail)
    statistic = (abs(b - c) - 1) ** 2 / n
    return math.erfc(math.sqrt(statistic / 2.0))


def delong(positive: np.ndarray, groups_b: ev.ScoreGroups, groups_h: ev.ScoreGroups) -> float:
    """Two-sided p-value of DeLong's test for two correlated ROC AUCs on the same rows.

    Placement values come from the score groups: a positive's is the share of negatives
    below it (ties count one half), a negative's the share of positives above it.
    """
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 1.0
    v10, v01 = [], []
    for groups in (groups_b, groups_h):
        neg_below = np.cumsum(groups.neg) - groups.neg
        pos_below = np.cumsum(groups.pos) - groups.pos
        v10.append(((neg_below + 0.5 * groups.neg) / n_neg)[groups.group[positive]])
        v01.append((1.0 - (pos_below + 0.5 * groups.pos) / n_pos)[groups.group[~positive]])
    auc_b, auc_h = v10[0].mean(), v10[1].mean()
    s10 = np.cov(np.vstack(v10)) if n_pos > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack(v01)) if n_neg > 1 else np.zeros((2, 2))
    variance = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / n_pos + (
        s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]
    ) / n_neg
    if variance <= 0:
        return 1.0 if auc_b == auc_h else 0.0
    z = (auc_h - auc_b) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2.0))
