"""Paired statistics against slow, obviously-correct reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn import metrics as skm

from cml_py.train import evaluate as ev
from cml_py.train.predictions import NotPaired, pair, predictions_from_frame
from cml_py.train.resampling import delong_covariance
from cml_py.train.stats import paired_statistics


def binary_pair(n: int, seed: int, shift: float = 0.0, noise: float = 0.1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s_b = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    s_h = np.clip(s_b + rng.normal(shift * (2 * y - 1), noise), 0, 1)
    return y, s_b, s_h


def frame(y, s, ids=None) -> pd.DataFrame:
    data = {"y_true": y, "y_pred": (s > 0.5).astype(int), "proba_0": 1 - s, "proba_1": s}
    if ids is not None:
        data = {"id": ids, **data}
    return pd.DataFrame(data)


def preds(y, s, name="p", ids=None):
    return predictions_from_frame(frame(y, s, ids), name)


def naive_bootstrap(y, s_b, s_h, metric, resamples, seed, confidence=0.95):
    """The textbook paired row bootstrap's standard-error interval: delta ± z·sd."""
    rng = np.random.default_rng(seed)
    n = len(y)
    deltas = []
    for _ in range(resamples):
        i = rng.integers(0, n, n)
        if len(np.unique(y[i])) < 2:
            continue
        deltas.append(metric(y[i], s_h[i]) - metric(y[i], s_b[i]))
    half = sps.norm.ppf(1 - (1 - confidence) / 2) * np.std(deltas, ddof=1)
    delta = metric(y, s_h) - metric(y, s_b)
    return delta - half, delta + half


def accuracy(y, s):
    return np.mean((s > 0.5).astype(int) == y)


def mann_whitney_auc(y, s):
    """Share of (positive, negative) pairs ranked right, ties one half, by binary search."""
    neg = np.sort(s[y == 0])
    pos = s[y == 1]
    below = np.searchsorted(neg, pos, side="left")
    tied = np.searchsorted(neg, pos, side="right") - below
    return (below + 0.5 * tied).sum() / (len(pos) * len(neg))


def binary_log_loss(y, s):
    eps = np.finfo(float).eps
    p = np.clip(np.where(y == 1, s, 1 - s), eps, 1 - eps)
    return -np.mean(np.log(p))


def step_average_precision(y, s):
    """Precision at each distinct threshold (walking the rows in descending score order),
    weighted by the recall it adds."""
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    tp = np.cumsum(y_sorted)[last]
    seen = np.arange(1, len(s) + 1)[last]
    added = np.diff(np.r_[0, tp])
    return float(np.sum(added / y.sum() * tp / seen))


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("accuracy", accuracy),
        ("roc_auc", mann_whitney_auc),
        ("log_loss", binary_log_loss),
        ("average_precision", step_average_precision),
    ],
)
@pytest.mark.parametrize("n", [300, 4000])
def test_interval_agrees_with_a_naive_row_bootstrap(name, metric, n) -> None:
    """Exact at ≤ 500 rows; random blocks above. Accuracy (score test) and ROC AUC
    (DeLong) come from their own variance, the rest from the fast bootstrap's standard
    error; all agree with the naive row bootstrap to a fraction of the width."""
    y, s_b, s_h = binary_pair(n, seed=n, shift=0.02)
    result = paired_statistics(preds(y, s_b), preds(y, s_h), resamples=2000, seed=1)
    stat = result.stats[name]
    lo, hi = naive_bootstrap(y, s_b, s_h, metric, 2000, seed=2)
    width = hi - lo
    assert stat.delta == pytest.approx(metric(y, s_h) - metric(y, s_b))
    reference = {"roc_auc": skm.roc_auc_score, "average_precision": skm.average_precision_score}
    if name in reference:  # the reference itself agrees with scikit-learn
        assert metric(y, s_h) == pytest.approx(reference[name](y, s_h))
    assert abs(stat.ci_low - lo) < 0.15 * width, (stat, lo, hi)
    assert abs(stat.ci_high - hi) < 0.15 * width, (stat, lo, hi)


def test_regression_interval_agrees_with_naive_bootstrap() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    y = rng.normal(5, 2, n)
    p_b = y + rng.normal(0, 1.0, n)
    p_h = y + rng.normal(0, 0.95, n)
    base = predictions_from_frame(pd.DataFrame({"y_true": y, "y_pred": p_b}), "b")
    head = predictions_from_frame(pd.DataFrame({"y_true": y, "y_pred": p_h}), "h")
    result = paired_statistics(base, head, resamples=2000, seed=3)
    for name, metric in (
        ("rmse", lambda t, p: math.sqrt(np.mean((t - p) ** 2))),
        ("mae", lambda t, p: np.mean(np.abs(t - p))),
        ("r2", lambda t, p: 1 - np.sum((t - p) ** 2) / np.sum((t - t.mean()) ** 2)),
    ):
        stat = result.stats[name]
        rng2 = np.random.default_rng(9)
        deltas = []
        for _ in range(2000):
            i = rng2.integers(0, n, n)
            deltas.append(metric(y[i], p_h[i]) - metric(y[i], p_b[i]))
        half = 1.959964 * np.std(deltas, ddof=1)
        lo, hi = metric(y, p_h) - metric(y, p_b) - half, metric(y, p_h) - metric(y, p_b) + half
        assert abs(stat.ci_low - lo) < 0.15 * (hi - lo), name
        assert abs(stat.ci_high - hi) < 0.15 * (hi - lo), name


def test_identical_predictions_are_never_significant() -> None:
    y, s_b, _ = binary_pair(5000, seed=1)
    result = paired_statistics(preds(y, s_b), preds(y, s_b))
    for name, stat in result.stats.items():
        assert stat.delta == 0 and not stat.significant and stat.p_value == 1.0, name
        if stat.counts is None:
            assert stat.ci_low == 0 and stat.ci_high == 0, name
    # No discordant row out of 5,000 rules out large changes, not small ones: the score
    # interval stays honest instead of collapsing to [0, 0].
    accuracy = result.stats["accuracy"]
    assert accuracy.counts == (5000, 0, 0)
    assert -0.001 < accuracy.ci_low < 0 < accuracy.ci_high < 0.001


def test_large_real_regression_is_significant() -> None:
    y, s_b, _ = binary_pair(20000, seed=4)
    rng = np.random.default_rng(0)
    s_h = np.clip(s_b + rng.normal(-0.15 * (2 * y - 1), 0.05), 0, 1)  # much worse scores
    result = paired_statistics(preds(y, s_b), preds(y, s_h))
    for name in ("accuracy", "roc_auc", "average_precision", "f1_macro"):
        stat = result.stats[name]
        assert stat.delta < 0 and stat.ci_high < 0 and stat.significant, name
    assert result.stats["log_loss"].ci_low > 0
    assert result.stats["accuracy"].p_value < 1e-6 and result.stats["roc_auc"].p_value < 1e-6


def test_small_change_on_few_rows_is_within_noise() -> None:
    y, s_b, s_h = binary_pair(200, seed=7, shift=0.002, noise=0.02)
    result = paired_statistics(preds(y, s_b), preds(y, s_h))
    assert not result.stats["roc_auc"].significant
    assert result.stats["roc_auc"].ci_low < 0 < result.stats["roc_auc"].ci_high


def test_reproducible_with_seed_and_changes_with_another() -> None:
    y, s_b, s_h = binary_pair(3000, seed=8, shift=0.01)
    a = paired_statistics(preds(y, s_b), preds(y, s_h), seed=11)
    b = paired_statistics(preds(y, s_b), preds(y, s_h), seed=11)
    c = paired_statistics(preds(y, s_b), preds(y, s_h), seed=12)
    assert a.stats == b.stats
    assert a.stats["f1_macro"].ci_low != c.stats["f1_macro"].ci_low


def naive_delong(y, s_b, s_h) -> float:
    """DeLong et al. (1988) with explicit pairwise comparisons (O(n²))."""
    pos, neg = s_b[y == 1], s_b[y == 0]
    pos_h, neg_h = s_h[y == 1], s_h[y == 0]

    def psi(a, b):
        return (a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :])

    v10 = np.vstack([psi(pos, neg).mean(axis=1), psi(pos_h, neg_h).mean(axis=1)])
    v01 = np.vstack([psi(pos, neg).mean(axis=0), psi(pos_h, neg_h).mean(axis=0)])
    s10, s01 = np.cov(v10), np.cov(v01)
    contrast = np.array([1, -1])
    var = contrast @ s10 @ contrast / len(pos) + contrast @ s01 @ contrast / len(neg)
    z = (v10[1].mean() - v10[0].mean()) / math.sqrt(var)
    return 2 * sps.norm.sf(abs(z))


def test_delong_against_naive_pairwise_implementation() -> None:
    y, s_b, s_h = binary_pair(600, seed=3, shift=0.03)
    s_b, s_h = np.round(s_b, 2), np.round(s_h, 2)  # with ties
    positive = y == 1
    cov = delong_covariance(
        positive, [ev.score_groups(positive, s_b), ev.score_groups(positive, s_h)]
    )
    variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    z = (mann_whitney_auc(y, s_h) - mann_whitney_auc(y, s_b)) / math.sqrt(variance)
    assert 2 * sps.norm.sf(abs(z)) == pytest.approx(naive_delong(y, s_b, s_h), rel=1e-9)
    result = paired_statistics(preds(y, s_b), preds(y, s_h))
    assert result.stats["roc_auc"].test == "DeLong"
    assert result.stats["roc_auc"].p_value == pytest.approx(naive_delong(y, s_b, s_h), rel=1e-9)


def test_pairing_by_id_in_any_order() -> None:
    y, s_b, s_h = binary_pair(100, seed=1)
    order = np.random.default_rng(0).permutation(100)
    base = preds(y, s_b, ids=np.arange(100))
    head = preds(y[order], s_h[order], ids=order)
    paired_b, paired_h = pair(base, head)
    assert np.array_equal(paired_b.ids, paired_h.ids)
    result = paired_statistics(base, head)
    assert result.head["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s_h))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("ids", "predict different test rows (99 of 100 ids shared)"),
        ("length", "main has 100 test rows and this PR has 99"),
        ("truth", "y_true differs between main and this PR"),
        ("text ids", "main's ids are numbers and this PR's are text"),
    ],
)
def test_unpaired_predictions_say_why(change: str, reason: str) -> None:
    y, s_b, s_h = binary_pair(100, seed=1)
    ids = np.arange(100)
    base = preds(y, s_b, ids=ids)
    if change == "ids":
        head = preds(y, s_h, ids=np.r_[ids[:-1], 1000])
    elif change == "text ids":
        head = preds(y, s_h, ids=np.array([f"r{i}" for i in ids], dtype=object))
    elif change == "length":
        head = preds(y[:-1], s_h[:-1], ids=ids[:-1])
    else:
        head = preds(1 - y, s_h, ids=ids)
    with pytest.raises(NotPaired, match=reason.replace("(", r"\(").replace(")", r"\)")):
        paired_statistics(base, head)


def test_multiclass_paired_statistics() -> None:
    rng = np.random.default_rng(0)
    n, k = 3000, 4
    y = rng.integers(0, k, n)
    p_b = rng.dirichlet(np.ones(k), n)
    p_b[np.arange(n), y] += 0.3
    p_h = p_b.copy()
    p_h[np.arange(n), y] += 0.3

    def to_frame(p):
        return pd.DataFrame(
            {"y_true": y, "y_pred": p.argmax(1), **{f"proba_{c}": p[:, c] for c in range(k)}}
        )

    result = paired_statistics(
        predictions_from_frame(to_frame(p_b), "b"), predictions_from_frame(to_frame(p_h), "h")
    )
    assert result.stats["accuracy"].significant and result.stats["accuracy"].delta > 0
    assert result.stats["roc_auc"].test == "paired bootstrap"  # DeLong is for binary AUC
    assert result.stats["roc_auc"].ci_low > 0
    assert "per_class.3.f1" in result.stats


def test_interval_bounds_carry_no_floating_point_dust() -> None:
    """A logistic regression against a decision stump on breast-cancer data: resampled
    macro recalls of equal counts differ by 1e-16, which must read as 0, not as a tiny
    significant change (seen in the demo before bounds were snapped)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )

    def side(model):
        model.fit(X_train, y_train)
        proba = model.predict_proba(X_test)
        return predictions_from_frame(
            pd.DataFrame(
                {
                    "y_true": y_test,
                    "y_pred": model.predict(X_test),
                    "proba_0": proba[:, 0],
                    "proba_1": proba[:, 1],
                }
            ),
            "x",
        )

    result = paired_statistics(
        side(LogisticRegression(C=0.02, max_iter=5000)),
        side(DecisionTreeClassifier(max_depth=1, random_state=0)),
    )
    for stat in result.stats.values():
        for bound in (stat.ci_low, stat.ci_high):
            assert bound == 0.0 or abs(bound) >= 1e-12


def test_score_bins_group_equal_scores_and_split_rows_evenly() -> None:
    """Above MAX_BINS distinct scores the bootstrap bins them: each bin is a run of
    whole score groups in score order, numbered 0, 1, 2, … without gaps, of about equal
    row counts — what np.unique's renumbering gave before the bins were counted."""
    from cml_py.train.resampling import MAX_BINS, _bins

    rng = np.random.default_rng(3)
    score = np.round(rng.random(30_000), 4)  # ~10,000 distinct values, many ties
    groups = ev.score_groups(rng.random(30_000) < 0.4, score)
    assert len(groups.values) > MAX_BINS
    bins, count = _bins(groups, MAX_BINS)
    sizes = groups.pos + groups.neg
    expected = np.floor((np.cumsum(sizes) - sizes) * MAX_BINS / sizes.sum()).astype(np.int64)
    _, renumbered = np.unique(expected, return_inverse=True)
    assert np.array_equal(bins, renumbered[groups.group])
    assert count == renumbered.max() + 1 == len(np.unique(bins))
    order = np.argsort(score, kind="stable")
    assert np.all(np.diff(bins[order]) >= 0)  # bins follow the scores
    same = score[order][1:] == score[order][:-1]
    assert np.all(bins[order][1:][same] == bins[order][:-1][same])  # ties share a bin


def test_joint_cells_are_counted_the_same_either_way() -> None:
    """Joint cells (true class, each model's prediction) are counted in one pass when
    few are possible and by sorting when not: the same cells and counts."""
    from cml_py.train.resampling import _cell_counts

    rng = np.random.default_rng(5)
    joint = rng.integers(0, 216, 3000) * rng.integers(0, 2, 3000)  # gaps and a heavy 0
    counted = _cell_counts(joint, 216)
    by_sorting = _cell_counts(joint, 10**12)  # too many possible cells to count
    expected = np.unique(joint, return_counts=True)
    for got in (counted, by_sorting):
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
