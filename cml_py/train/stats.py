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
from dataclasses import dataclass, field, replace

import numpy as np

from cml_py import inference
from cml_py.model import PairedStat
from cml_py.train import evaluate as ev
from cml_py.train.cores import PARALLEL_ROWS, each_model
from cml_py.train.predictions import Encoded, NotPaired, Predictions, encode, increasing, pair
from cml_py.train.resampling import (
    _count_draws,
    _groups,
    _regression_draws,
    _score_draws,
    delong_covariance,
)

MAX_SCORED_CLASSES = 100  # one-vs-rest score intervals above this would take hours
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
    untestable: dict[str, str] = field(default_factory=dict)  # metric → why it has no stat


def min_rows(confidence: float) -> int:
    """The fewest paired rows (or members of a class) on which any test could call a
    change significant at `confidence`.

    With n rows, even an exact sign-flip test in which every row favours the same side
    has a two-sided p-value of 2 / 2**n: at 95% nothing on five rows or fewer can be
    significant. A normal interval from the bootstrap's or DeLong's standard error says
    otherwise there — one row gives a standard error of 0 and "significant, p = 0" —
    so below this count no interval or p-value is given at all.
    """
    alpha = 1.0 - confidence
    n = 1
    while 2.0 ** (1 - n) >= alpha:
        n += 1
    return n


def _too_few(rows: str, least: int, confidence: float) -> str:
    return (
        f"only {rows}; a change cannot be significant at {confidence * 100:g}% "
        f"on fewer than {least:,}"
    )


def _rows(count: int) -> str:
    return f"{count:,} test row{'' if count == 1 else 's'}"


def _scarce_class(enc: Encoded, least: int) -> str | None:
    """For a binary task, the rarer class said in words when it has fewer than `least`
    rows: ROC AUC and average precision then rest on a handful of rows (DeLong's
    variance needs two of each class, and with one positive it says 0; the bootstrap's
    normal interval around average precision's 0.999 excluded 0), so they get no
    statistics. (A multiclass macro average also varies with its other classes.)"""
    if len(enc.labels) != 2:
        return None
    positives = int(np.count_nonzero(enc.y == 1))
    rare = min(positives, len(enc.y) - positives)
    if rare >= least:
        return None
    label = enc.labels[1] if positives <= len(enc.y) - positives else enc.labels[0]
    return f"{_rows(rare)} of class {label!r}"


def _classification_side(
    enc: Encoded,
) -> tuple[dict[int, ev.ScoreGroups] | None, np.ndarray | None, dict[str, float]]:
    """One model's score groups (a sort per scored class), per-row log loss and metrics."""
    groups = _groups(enc)
    loss = ev.log_loss_rows(enc.y, enc.scores) if enc.scores is not None else None
    return groups, loss, ev.classification_metrics(enc, groups, loss)


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
    least = min_rows(confidence)
    if models[0].n < least:
        return _without_statistics(models, nb, nh, least, confidence)
    covariances: dict[str, np.ndarray] = {}
    special: dict[str, PairedStat] = {}
    if models[0].task == "regression":
        values = [ev.regression_metrics(p.y_true, p.y_pred) for p in models]
        draws = _regression_draws(models, resamples, seed)
    else:
        encs = encode(*models)
        sides = each_model(_classification_side, encs, parallel=models[0].n >= PARALLEL_ROWS)
        groups = [g for g, _, _ in sides]
        losses = [loss for _, loss, _ in sides]
        values = [v for _, _, v in sides]
        draws = _count_draws(encs, resamples, seed)
        if all(g is not None for g in groups) and len(groups[0]) <= MAX_SCORED_CLASSES:  # type: ignore[arg-type]
            draws.update(_score_draws(encs, groups, losses, resamples, seed))  # type: ignore[arg-type]
            if len(encs[0].labels) == 2 and 1 in groups[0]:  # type: ignore[operator]
                covariances["roc_auc"] = delong_covariance(
                    encs[0].y == 1,
                    [g[1] for g in groups],  # type: ignore[index]
                )
        if nb == nh == 1 and "accuracy" in values[0]:
            special["accuracy"] = _score_stat(encs[0], encs[1], confidence, resamples)
    names = [name for name in values[-1] if all(name in v for v in values)]
    untestable: dict[str, str] = {}
    if models[0].task == "classification" and (scarce := _scarce_class(encs[0], least)):
        reason = _too_few(scarce, least, confidence)
        untestable = {name: reason for name in ("roc_auc", "average_precision") if name in names}
    stats: dict[str, PairedStat] = {}
    for name in names:
        if name in untestable:
            continue
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
        untestable=untestable,
    )


def _without_statistics(
    models: list[Predictions], nb: int, nh: int, least: int, confidence: float
) -> PairedResult:
    """Both sides' metrics, and for each the reason it has no interval: too few rows."""
    if models[0].task == "regression":
        values = [ev.regression_metrics(p.y_true, p.y_pred) for p in models]
    else:
        values = [ev.classification_metrics(enc) for enc in encode(*models)]
    n = models[0].n
    reason = _too_few(_rows(n), least, confidence)
    base, head = _side_means(values[:nb]), _side_means(values[nb:])
    return PairedResult(
        n=n,
        base=base,
        head=head,
        stats={},
        repeats=(nb, nh),
        untestable={name: reason for name in head if name in base},
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
            p if increasing(i) else _take(p, np.argsort(i, kind="stable"))
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
