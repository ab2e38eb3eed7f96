"""Is a change real or noise? Paired statistics for base and head predictions on the
same rows, from one or several training seeds per side.

**One procedure per metric.** Each metric's change gets a standard error (or, for
accuracy, counts) and one procedure derives its interval, its p-value and the gate's
verdict (cml_py/inference.py), so the numbers shown side by side always agree:

* accuracy, one seed per side: Tango's score test on the rows only one side gets right
  (McNemar's test when the tolerance is 0) and the interval that inverts it;
* binary ROC AUC, one seed per side: DeLong's variance, normal interval and test;
* every other metric, one seed per side: the paired bootstrap's standard error, normal
  interval and test;
* several seeds per side (`train.repeats`): the change of the seed means, with a
  variance that adds the spread between seeds to the test rows' (below), against t.

**Seeds and rows.** With N seeds a side, the change is mean(head) − mean(base) over the
seeds' metrics. Its variance has three parts: how much the seeds' metrics differ on
these rows (estimated from their spread: s²·(1/N_base + 1/N_head), s² pooled over both
sides), how much the change depends on which rows were drawn (the paired bootstrap of
the seed means), and the part of each model's own row noise that both of those count
(each model's bootstrap variance beyond what it shares with the other seeds of its
side). The variance is seeds + rows − the part counted twice, never less than the rows'
alone; its degrees of freedom come from the seeds (Welch–Satterthwaite).

**The bootstrap resamples counts, not rows**, so a million rows cost about what a
thousand do:

* Count-based classification metrics (accuracy, precision/recall/F1, …) depend only on
  how many rows fall in each joint cell (true class, each model's prediction).
  Resampling rows with replacement is exactly a multinomial draw over those cells, so
  the bootstrap draws cell counts directly: exact, at any size. With many cells (many
  classes and seeds) it falls back to the blocks below.
* Score- and loss-based metrics (ROC AUC, average precision, log loss, RMSE, MAE, R²,
  MAPE) are computed from per-row terms or score histograms. Rows are dealt into at
  most 500 random blocks and the bootstrap resamples blocks; each block is summarised
  once (sums, or a histogram of scores in up to 1,000 quantile bins), so a resample is
  one matrix product. With ≤ 500 rows every row is its own block (the textbook row
  bootstrap); above that, random blocks reproduce the row bootstrap's covariance of
  every summed term.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cml_py import inference
from cml_py.model import PairedStat
from cml_py.train import evaluate as ev
from cml_py.train.predictions import Encoded, NotPaired, Predictions, encode, pair

MAX_BLOCKS = 500
MAX_BINS = 1000
MAX_BINS_MULTICLASS = 100
MAX_CELLS = 4096
MAX_SCORED_CLASSES = 100  # one-vs-rest score intervals above this would take hours
_CHUNK_BYTES = 128 * 1024 * 1024  # working memory of one chunk of count resamples
_FAMILY_COUNTS, _FAMILY_BLOCKS = 1, 2
_DUST = 1e-12

TEST_SCORE = "McNemar score test"
TEST_DELONG = "DeLong"
TEST_BOOTSTRAP = "paired bootstrap"
TEST_SEEDS = "seeds + rows t-test"


@dataclass(frozen=True)
class PairedResult:
    n: int
    base: dict[str, float]  # mean over main's seeds
    head: dict[str, float]  # mean over this PR's seeds
    stats: dict[str, PairedStat]
    repeats: tuple[int, int] = (1, 1)


def paired_statistics(
    base: Predictions | Sequence[Predictions],
    head: Predictions | Sequence[Predictions],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedResult:
    """Metrics of both sides and, per metric, the change with its interval and test.

    `base` and `head` are one model's predictions or several seeds' (all on the same
    rows). Raises NotPaired (with the reason) when the rows differ.
    """
    bases = [base] if isinstance(base, Predictions) else list(base)
    heads = [head] if isinstance(head, Predictions) else list(head)
    models = _align(bases, heads)
    nb, nh = len(bases), len(heads)
    covariances: dict[str, np.ndarray] = {}
    special: dict[str, PairedStat] = {}
    if models[0].task == "regression":
        values = [ev.regression_metrics(p.y_true, p.y_pred) for p in models]
        draws = _regression_draws(models, resamples, seed)
    else:
        encs = encode(*models)
        groups = [_groups(e) for e in encs]
        values = [ev.classification_metrics(e, g) for e, g in zip(encs, groups, strict=True)]
        draws = _count_draws(encs, resamples, seed)
        if all(g is not None for g in groups) and len(groups[0]) <= MAX_SCORED_CLASSES:  # type: ignore[arg-type]
            draws.update(_score_draws(encs, groups, resamples, seed))  # type: ignore[arg-type]
            if len(encs[0].labels) == 2 and 1 in groups[0]:  # type: ignore[operator]
                covariances["roc_auc"] = delong_covariance(
                    encs[0].y == 1,
                    [g[1] for g in groups],  # type: ignore[index]
                )
        if nb == nh == 1 and "accuracy" in values[0]:
            special["accuracy"] = _score_stat(encs[0], encs[1], confidence, resamples)
    names = [name for name in values[-1] if all(name in v for v in values)]
    stats: dict[str, PairedStat] = {}
    for name in names:
        point = np.array([v[name] for v in values], dtype=np.float64)
        if name in special:
            stats[name] = special[name]
            continue
        cov: np.ndarray | None
        if name in covariances:
            cov, test = covariances[name], TEST_DELONG
        elif name in draws:
            cov, test = _draw_covariance(draws[name], resamples), TEST_BOOTSTRAP
        else:
            continue
        if cov is None:
            continue
        stat = _combine(point, cov, nb, nh, test=test, confidence=confidence, resamples=resamples)
        if stat is not None:
            stats[name] = stat
    if "accuracy" in stats and "recall_weighted" in stats:
        stats["recall_weighted"] = stats["accuracy"]  # the same number, so the same stat
    return PairedResult(
        n=models[0].n,
        base=_side_means(values[:nb]),
        head=_side_means(values[nb:]),
        stats=stats,
        repeats=(nb, nh),
    )


def _side_means(values: list[dict[str, float]]) -> dict[str, float]:
    names = [name for name in values[0] if all(name in v for v in values)]
    return {name: float(np.mean([v[name] for v in values])) for name in names}


def _align(bases: list[Predictions], heads: list[Predictions]) -> list[Predictions]:
    """Every model's predictions in one row order (main's seeds first), or NotPaired."""
    if not bases or not heads:
        raise NotPaired("one side has no predictions")
    models = [*bases, *heads]
    ids = [p.ids for p in models]
    if all(i is not None for i in ids):  # match by id: one order for all
        models = [
            _take(p, np.argsort(i, kind="stable"))
            for p, i in zip(models, ids, strict=True)
            if i is not None
        ]
    first = models[0]
    nb = len(bases)
    pair(first, models[nb])  # main against this PR: the message as it is
    for i, model in enumerate(models[1:], start=1):
        if i == nb:
            continue
        try:
            pair(first, model)
        except NotPaired as exc:
            side, index = ("main", i) if i < nb else ("this PR", i - nb)
            raise NotPaired(
                f"seed {index + 1} of {side} predicted other test rows than main's first "
                f"seed ({exc})"
            ) from None
    return models


def _take(p: Predictions, order: np.ndarray) -> Predictions:
    return replace(
        p,
        y_true=p.y_true[order],
        y_pred=p.y_pred[order],
        ids=p.ids[order] if p.ids is not None else None,
        proba=p.proba[order] if p.proba is not None else None,
    )


def _snap(value: float) -> float:
    """Floating-point dust (a difference of -1.1e-16 between equal counts) is 0:
    otherwise the report would show it as a real, tiny, significant change."""
    return 0.0 if abs(value) < _DUST else value


def _finish(
    *,
    delta: float,
    se: float | None,
    df: float,
    test: str,
    confidence: float,
    resamples: int,
    counts: tuple[int, int, int] | None = None,
    seed_share: float | None = None,
    repeats: tuple[int, int] = (1, 1),
) -> PairedStat:
    """Interval, p-value and significance, all from the same procedure."""
    stat = PairedStat(
        delta=_snap(delta),
        ci_low=0.0,
        ci_high=0.0,
        confidence=confidence,
        significant=False,
        resamples=resamples,
        test=test,
        p_value=None,
        se=None if se is None else (0.0 if se < _DUST else se),
        df=df,
        counts=counts,
        seed_share=seed_share,
        repeats=repeats,
    )
    lo, hi = (_snap(b) for b in inference.interval(stat, confidence))
    return replace(
        stat,
        ci_low=lo,
        ci_high=hi,
        significant=lo > 0 or hi < 0,
        p_value=inference.p_two_sided(stat),
    )


def _score_stat(enc_b: Encoded, enc_h: Encoded, confidence: float, resamples: int) -> PairedStat:
    right_b, right_h = enc_b.pred == enc_b.y, enc_h.pred == enc_h.y
    better = int(np.sum(right_h & ~right_b))
    worse = int(np.sum(right_b & ~right_h))
    n = len(enc_b.y)
    return _finish(
        delta=(better - worse) / n,
        se=None,
        df=math.inf,
        test=TEST_SCORE,
        confidence=confidence,
        resamples=resamples,
        counts=(n, better, worse),
    )


def _draw_covariance(draws: np.ndarray, resamples: int) -> np.ndarray | None:
    """The models' bootstrap covariance (M × M) from B × M draws; None when too few
    resamples give a finite value (a metric undefined on most resamples)."""
    finite = draws[np.all(np.isfinite(draws), axis=1)]
    if len(finite) < max(10, resamples // 2):
        return None
    return np.atleast_2d(np.cov(finite, rowvar=False))


def _combine(
    point: np.ndarray,
    cov: np.ndarray,
    nb: int,
    nh: int,
    *,
    test: str,
    confidence: float,
    resamples: int,
) -> PairedStat | None:
    """The change of the seed means and its variance: seeds + rows − their overlap."""
    contrast = np.r_[np.full(nb, -1.0 / nb), np.full(nh, 1.0 / nh)]
    delta = float(contrast @ point)
    v_rows = max(0.0, float(contrast @ cov @ contrast))
    if not (math.isfinite(delta) and math.isfinite(v_rows)):
        return None
    if nb == nh == 1:
        return _finish(
            delta=delta,
            se=math.sqrt(v_rows),
            df=math.inf,
            test=test,
            confidence=confidence,
            resamples=resamples,
        )
    sides = [(0, nb), (nb, nb + nh)]
    squares = sum(float(np.sum((point[a:b] - point[a:b].mean()) ** 2)) for a, b in sides)
    df_seeds = nb + nh - 2
    scale = 1.0 / nb + 1.0 / nh
    v_seeds = squares / df_seeds * scale
    own, weight = 0.0, 0
    for a, b in sides:  # each model's own row noise, beyond what its side shares
        size = b - a
        if size < 2:
            continue
        block = cov[a:b, a:b]
        diagonal = float(np.trace(block)) / size
        off = (float(block.sum()) - float(np.trace(block))) / (size * (size - 1))
        own += (diagonal - off) * size
        weight += size
    v_overlap = max(0.0, own / weight) * scale
    v_shared_rows = max(0.0, v_rows - v_overlap)
    variance = v_seeds + v_shared_rows
    df = variance**2 / (v_seeds**2 / df_seeds) if v_seeds > 0 else math.inf
    if variance < v_rows:  # the seeds looked calmer than their row noise: keep the rows'
        variance, df = v_rows, math.inf
    return _finish(
        delta=delta,
        se=math.sqrt(variance),
        df=df,
        test=TEST_SEEDS,
        confidence=confidence,
        resamples=resamples,
        seed_share=v_seeds / variance if variance > 0 else 0.0,
        repeats=(nb, nh),
    )


def _rng(seed: int, family: int) -> np.random.Generator:
    """One independent, reproducible stream per family, whatever else is computed."""
    return np.random.default_rng([seed, family])


def _aggregate(draws: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """Sum the columns of `draws` (B × C) that share an `index` value into B × size."""
    if not len(index):
        return np.zeros((draws.shape[0], size), dtype=np.float64)
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_index[1:] != sorted_index[:-1]])
    sums = np.add.reduceat(draws[:, order], starts, axis=1)
    out = np.zeros((draws.shape[0], size), dtype=np.float64)
    out[:, sorted_index[starts]] = sums
    return out


def _count_draws(encs: list[Encoded], resamples: int, seed: int) -> dict[str, np.ndarray]:
    """Paired bootstrap of count-based metrics, B × M: a multinomial over the joint cells
    (true class, each model's prediction) — exact — or, with too many cells, blocks.

    Either way the draws are reduced to per-class counts (true positives, support,
    predictions) rather than k × k confusion matrices, and drawn a chunk of resamples at
    a time: memory follows the classes present and a fixed chunk budget, so 10,000
    classes cost seconds, not the 745 GiB of a thousand 10,000 × 10,000 matrices.
    """
    k = len(encs[0].labels)
    y = encs[0].y
    n, m = len(y), len(encs)
    per_class = k <= ev.MAX_PER_CLASS_STATS
    rng = _rng(seed, _FAMILY_COUNTS)
    cells = counts = None
    if k ** (m + 1) < 2**62:
        joint = y.astype(np.int64)
        for enc in encs:
            joint = joint * k + enc.pred
        cells, counts = np.unique(joint, return_counts=True)
    parts: list[list[dict[str, np.ndarray]]] = [[] for _ in encs]
    if cells is not None and counts is not None and len(cells) <= MAX_CELLS:
        true = cells // k**m
        preds = [(cells // k ** (m - 1 - i)) % k for i in range(m)]
        for size in _chunks(resamples, 8 * (len(cells) + (2 * m + 1) * k)):
            draws = rng.multinomial(n, counts / n, size=size).astype(np.float64)
            support = _aggregate(draws, true, k)
            for i, pred in enumerate(preds):
                hit = true == pred
                tp = _aggregate(draws[:, hit], true[hit], k)
                predicted = _aggregate(draws, pred, k)
                parts[i].append(
                    ev.count_metrics(tp, support, predicted, encs[0].labels, per_class=per_class)
                )
    else:
        g, block = _blocks(n, rng)
        weights = _block_weights(g, resamples, rng)
        support_b = _block_counts(block, y, g, k)
        blocks = []
        for enc in encs:
            hit = y == enc.pred
            blocks.append(
                (_block_counts(block[hit], y[hit], g, k), _block_counts(block, enc.pred, g, k))
            )
        start = 0
        for size in _chunks(resamples, 8 * (2 * m + 1) * k):
            w = weights[start : start + size]
            start += size
            support = w @ support_b
            for i, (tp_b, pred_b) in enumerate(blocks):
                parts[i].append(
                    ev.count_metrics(
                        w @ tp_b, support, w @ pred_b, encs[0].labels, per_class=per_class
                    )
                )
    metrics = [
        {name: np.concatenate([p[name] for p in model]) for name in model[0]} for model in parts
    ]
    return {name: np.stack([mt[name] for mt in metrics], axis=1) for name in metrics[0]}


def _block_counts(block: np.ndarray, cls: np.ndarray, g: int, k: int) -> Any:
    """Rows per (block, class), G × K. With many classes it is sparse (each block holds
    a few hundred rows at most), and a sparse product with the resample weights costs
    the rows, not blocks × classes: 10,000 classes in 0.03 s instead of 2 s."""
    if k <= 256:
        return np.bincount(block * k + cls, minlength=g * k).reshape(g, k).astype(np.float64)
    from scipy import sparse

    ones = np.ones(len(cls), dtype=np.float64)
    return sparse.coo_array((ones, (block, cls)), shape=(g, k)).tocsr()


def _chunks(resamples: int, bytes_per_resample: int) -> list[int]:
    """Resamples per chunk, so one chunk's working arrays stay within _CHUNK_BYTES."""
    size = max(1, min(resamples, _CHUNK_BYTES // max(1, bytes_per_resample)))
    return [min(size, resamples - start) for start in range(0, resamples, size)]


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
    models: list[Predictions], resamples: int, seed: int
) -> dict[str, np.ndarray]:
    rng = _rng(seed, _FAMILY_BLOCKS)
    g, block = _blocks(models[0].n, rng)
    weights = _block_weights(g, resamples, rng)
    per_model = [
        ev.regression_from_sums(
            weights @ _block_sums(block, g, ev.regression_sums(p.y_true, p.y_pred))
        )
        for p in models
    ]
    return {name: np.stack([d[name] for d in per_model], axis=1) for name in per_model[0]}


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
    encs: list[Encoded],
    groups: list[dict[int, ev.ScoreGroups]],
    resamples: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Block bootstrap of ROC AUC, average precision and log loss, B × M. The histograms
    get fewer bins with more models, so the cost stays about that of two."""
    rng = _rng(seed, _FAMILY_BLOCKS)
    y, k, m = encs[0].y, len(encs[0].labels), len(encs)
    g, block = _blocks(len(y), rng)
    weights = _block_weights(g, resamples, rng)
    max_bins = MAX_BINS if k == 2 else MAX_BINS_MULTICLASS
    if m > 2:
        max_bins = max(max_bins * 2 // m, 50 if k == 2 else 20)
    out: dict[str, np.ndarray] = {}
    classes = list(groups[0])
    if classes:
        auc = np.empty((resamples, m))
        ap = np.empty((resamples, m))
        for i, model_groups in enumerate(groups):
            aucs, aps = [], []
            for cls in classes:
                positive = y == cls
                bins, nb = _bins(model_groups[cls], max_bins)
                index = block * nb + bins
                pos = np.bincount(index[positive], minlength=g * nb).reshape(g, nb)
                neg = np.bincount(index[~positive], minlength=g * nb).reshape(g, nb)
                pos_r, neg_r = weights @ pos, weights @ neg
                aucs.append(ev.auc_from_hist(pos_r, neg_r))
                aps.append(ev.ap_from_hist(pos_r, neg_r))
            auc[:, i] = np.mean(aucs, axis=0)
            ap[:, i] = np.mean(aps, axis=0)
        out["roc_auc"], out["average_precision"] = auc, ap
    terms = np.stack(
        [*(ev.log_loss_rows(y, enc.scores) for enc in encs), np.ones(len(y))],  # type: ignore[arg-type]
        axis=1,
    )
    sums = weights @ _block_sums(block, g, terms)
    out["log_loss"] = sums[:, :m] / sums[:, m:]
    return out


def delong_covariance(positive: np.ndarray, groups: Sequence[ev.ScoreGroups]) -> np.ndarray:
    """DeLong's covariance matrix (M × M) of the ROC AUCs of M models on the same rows.

    Placement values come from the score groups: a positive's is the share of negatives
    below it (ties count one half), a negative's the share of positives above it.
    """
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    m = len(groups)
    if n_pos == 0 or n_neg == 0:
        return np.zeros((m, m))
    v10, v01 = [], []
    for g in groups:
        neg_below = np.cumsum(g.neg) - g.neg
        pos_below = np.cumsum(g.pos) - g.pos
        v10.append(((neg_below + 0.5 * g.neg) / n_neg)[g.group[positive]])
        v01.append((1.0 - (pos_below + 0.5 * g.pos) / n_pos)[g.group[~positive]])
    s10 = np.atleast_2d(np.cov(np.vstack(v10))) if n_pos > 1 else np.zeros((m, m))
    s01 = np.atleast_2d(np.cov(np.vstack(v01))) if n_neg > 1 else np.zeros((m, m))
    return s10 / n_pos + s01 / n_neg
