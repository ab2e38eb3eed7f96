"""`significant: true` rules: non-inferiority, one procedure for interval, p-value and
verdict, Holm across rules, and what happens when there is nothing to test."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy import stats as sps

from cml_py import inference
from cml_py.config import GateRule
from cml_py.errors import CmlError
from cml_py.gate import MAY_BE_WORSE, NO_STATISTICS, WORSE_THAN_ALLOWED, evaluate_gate
from cml_py.metrics.diff import diff_sets
from cml_py.model import DiffRow, Direction, MetricFile, MetricSet, PairedStat, Status
from cml_py.train.predictions import predictions_from_frame
from cml_py.train.stats import paired_statistics

P, F, W = Status.PASS, Status.FAIL, Status.WARN


# -- the distributions cml-py computes without scipy ---------------------------------


@pytest.mark.parametrize("p", [1e-12, 1e-6, 0.001, 0.0125, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999999])
def test_normal_quantile_matches_scipy(p: float) -> None:
    assert inference.norm_ppf(p) == pytest.approx(sps.norm.ppf(p), abs=1e-13)


@pytest.mark.parametrize("df", [1, 2, 3.3, 4, 7.5, 30, 1e5, math.inf])
def test_student_t_matches_scipy(df: float) -> None:
    for x in (-40, -2, -0.3, 0, 0.1, 1.5, 2.776, 10):
        assert inference.t_sf(x, df) == pytest.approx(sps.t.sf(x, df), abs=1e-10)
    for p in (0.6, 0.975, 0.99875, 0.9999):
        assert inference.t_ppf(p, df) == pytest.approx(sps.t.ppf(p, df), rel=1e-9)


# -- accuracy: Tango's score test on constructed counts ------------------------------


def restricted_mle_z(n: int, better: int, worse: int, d0: float) -> float:
    """The score statistic from its definition: maximise the multinomial likelihood of
    (only head right, only main right, both or neither) under d0 numerically."""
    rest = n - better - worse

    def minus_loglik(q: float) -> float:
        terms = [(better, q + d0), (worse, q), (rest, 1 - 2 * q - d0)]
        return -sum(k * math.log(p) for k, p in terms if k)

    lo, hi = max(0.0, -d0) + 1e-12, (1 - d0) / 2 - 1e-12
    q = optimize.minimize_scalar(minus_loglik, bounds=(lo, hi), method="bounded",
                                 options={"xatol": 1e-14}).x  # fmt: skip
    return ((better - worse) / n - d0) / math.sqrt((2 * q + d0 - d0 * d0) / n)


@pytest.mark.parametrize(
    ("n", "better", "worse", "d0"),
    [(10_000, 72, 132, -0.005), (143, 3, 9, -0.01), (500, 40, 10, 0.02), (2000, 0, 7, -0.001)],
)
def test_score_statistic_is_the_restricted_likelihood_one(n, better, worse, d0) -> None:
    got = inference.score_z(n, better, worse, d0)
    assert got == pytest.approx(restricted_mle_z(n, better, worse, d0), abs=1e-5)


@pytest.mark.parametrize(("better", "worse"), [(72, 132), (9, 3), (0, 5), (40, 40)])
def test_with_no_tolerance_the_score_test_is_mcnemars(better: int, worse: int) -> None:
    z = inference.score_z(10_000, better, worse, 0.0)
    assert z == pytest.approx((better - worse) / math.sqrt(better + worse))
    stat = accuracy_stat(10_000, better, worse)
    chi2 = (better - worse) ** 2 / (better + worse)
    assert stat.p_value == pytest.approx(sps.chi2.sf(chi2, df=1), rel=1e-9)


def accuracy_stat(n: int, better: int, worse: int, confidence: float = 0.95) -> PairedStat:
    stat = PairedStat((better - worse) / n, 0, 0, confidence, False, 0, test="McNemar score test",
                      counts=(n, better, worse))  # fmt: skip
    lo, hi = inference.interval(stat, confidence)
    return replace(stat, ci_low=lo, ci_high=hi, significant=lo > 0 or hi < 0,
                   p_value=inference.p_two_sided(stat))  # fmt: skip


def test_score_interval_inverts_the_test() -> None:
    stat = accuracy_stat(10_000, 72, 132)
    z = inference.norm_ppf(0.975)
    assert inference.score_z(10_000, 72, 132, stat.ci_low) == pytest.approx(z, abs=1e-9)
    assert inference.score_z(10_000, 72, 132, stat.ci_high) == pytest.approx(-z, abs=1e-9)


def gate_on(stat: PairedStat | None, rule: GateRule, base: float = 0.90, untestable: str = ""):
    head = base + (stat.delta if stat is not None else -0.006)
    name = rule.pattern
    (row,) = diff_sets(
        MetricSet((MetricFile("m.json", {name: base}),)),
        MetricSet((MetricFile("m.json", {name: head}),)),
    )
    row = row._replace(stat=stat, untestable=untestable)
    (check,) = evaluate_gate([rule], (row,)).checks
    return check


def test_issue_example_a_drop_beyond_the_tolerance_that_is_not_significant_warns() -> None:
    """n = 10,000; 132 rows only main gets right, 72 only this PR: a drop of 0.006,
    interval [-0.0089, -0.0032]. Beyond a tolerance of 0.005, but the drop *beyond the
    tolerance* is not significant (one-sided p = 0.24): a warning, not a failure."""
    stat = accuracy_stat(10_000, 72, 132)
    assert (stat.ci_low, stat.ci_high) == pytest.approx((-0.008873, -0.003232), abs=1e-6)
    check = gate_on(stat, GateRule("accuracy", max_drop=0.005, significant=True))
    assert check.status is W and check.note == MAY_BE_WORSE
    evidence = check.evidence
    assert evidence is not None
    assert evidence.p_value == pytest.approx(0.2405, abs=1e-4)
    assert evidence.margin == -0.005 and evidence.family == 1
    assert evidence.ci_high > evidence.margin  # the interval reaches inside the tolerance
    # max_drop: 0 keeps its meaning, "a significant drop": McNemar z = -4.2
    zero = gate_on(stat, GateRule("accuracy", max_drop=0, significant=True))
    assert zero.status is F and zero.note == WORSE_THAN_ALLOWED
    assert zero.evidence.p_value == pytest.approx(sps.norm.sf(60 / math.sqrt(204)), rel=1e-9)
    # a tolerance the whole interval is beyond
    small = gate_on(stat, GateRule("accuracy", max_drop=0.003, significant=True))
    assert small.status is F and small.evidence.ci_high < -0.003


def test_a_drop_within_the_tolerance_passes_whatever_its_significance() -> None:
    stat = accuracy_stat(10_000, 80, 120)  # -0.004, significant at 0
    assert stat.significant
    check = gate_on(stat, GateRule("accuracy", max_drop=0.005, significant=True))
    assert check.status is P and check.note == ""
    assert check.evidence is not None and check.evidence.p_value > 0.5


def test_lower_is_better_and_relative_tolerances() -> None:
    stat = PairedStat(0.05, 0, 0, 0.95, False, 1000, test="paired bootstrap", se=0.01)
    # log loss 0.30 → 0.35: worse by 0.05; the interval [0.0304, 0.0696]
    assert gate_on(stat, GateRule("log_loss", max_drop=0.02, significant=True), 0.30).status is F
    assert gate_on(stat, GateRule("log_loss", max_drop=0.04, significant=True), 0.30).status is W
    # 5 % of 0.30 is 0.015: beyond; 20 % is 0.06: within
    pct = gate_on(stat, GateRule("log_loss", max_drop_pct=5, significant=True), 0.30)
    assert pct.status is F and pct.evidence.margin == pytest.approx(0.015)
    assert gate_on(stat, GateRule("log_loss", max_drop_pct=20, significant=True), 0.30).status is P


# -- one procedure: interval, p-value and verdict agree for every metric family -------


def _binary(n: int, seed: int, shift: float, spread: float = 0.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    base = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)

    def model(offset: float):
        s = np.clip(base + offset + rng.normal(0, 0.08, n) + rng.normal(0, spread), 0, 1)
        frame = pd.DataFrame({"id": np.arange(n), "y_true": y, "y_pred": (s > 0.5).astype(int),
                              "proba_0": 1 - s, "proba_1": s})  # fmt: skip
        return predictions_from_frame(frame, "p")

    return model, shift


def _families():
    binary, _ = _binary(3000, 1, 0.0)
    yield "binary", binary(0.0), binary(-0.01)
    rng = np.random.default_rng(2)
    n, k = 2000, 4
    y = rng.integers(0, k, n)

    def multi(boost):
        p = rng.dirichlet(np.ones(k), n)
        p[np.arange(n), y] += boost
        return predictions_from_frame(pd.DataFrame(
            {"y_true": y, "y_pred": p.argmax(1), **{f"proba_{c}": p[:, c] for c in range(k)}}), "m")  # fmt: skip

    yield "multiclass", multi(0.3), multi(0.33)
    t = rng.normal(5, 2, 1500)

    def reg(noise):
        return predictions_from_frame(
            pd.DataFrame({"y_true": t, "y_pred": t + rng.normal(0, noise, 1500)}), "r"
        )

    yield "regression", reg(1.0), reg(0.97)
    seeds, _ = _binary(2000, 3, 0.0, spread=0.02)
    yield "repeats", [seeds(0.0) for _ in range(3)], [seeds(-0.005) for _ in range(3)]


@pytest.mark.parametrize(
    ("family", "base", "head"), list(_families()), ids=lambda x: x if isinstance(x, str) else ""
)
def test_interval_p_value_and_verdict_agree(family, base, head) -> None:
    result = paired_statistics(base, head, resamples=400)
    assert len(result.stats) >= 4
    tests = set()
    for name, stat in result.stats.items():
        tests.add(stat.test)
        alpha = 1 - stat.confidence
        excludes_zero = stat.ci_low > 0 or stat.ci_high < 0
        assert stat.significant == excludes_zero == (stat.p_value < alpha), name
        width = stat.ci_high - stat.ci_low
        for margin in np.linspace(stat.ci_low - width, stat.ci_high + width, 41):
            if min(abs(margin - stat.ci_low), abs(margin - stat.ci_high)) < 1e-9:
                continue
            assert (inference.p_below(stat, margin) < alpha / 2) == (stat.ci_high < margin), name
            assert (inference.p_above(stat, margin) < alpha / 2) == (stat.ci_low > margin), name
    if family == "binary":
        assert tests == {"McNemar score test", "DeLong", "paired bootstrap"}
    if family == "repeats":
        assert tests == {"seeds + rows t-test"}


def test_accuracy_and_weighted_recall_are_one_number_with_one_verdict() -> None:
    """They are equal by definition; the demo once showed them with the same interval and
    opposite verdicts."""
    binary, _ = _binary(143, 5, 0.0)
    result = paired_statistics(binary(0.0), binary(-0.03))
    assert result.stats["recall_weighted"] == result.stats["accuracy"]


# -- seeds -------------------------------------------------------------------------------


def test_seed_spread_widens_the_interval_and_is_reported() -> None:
    ses, shares = [], []
    for spread in (0.0, 0.1, 0.4):
        model, _ = _binary(5000, 11, 0.0, spread=spread)
        result = paired_statistics([model(0) for _ in range(4)], [model(0) for _ in range(4)])
        stat = result.stats["accuracy"]
        assert stat.repeats == (4, 4) and stat.test == "seeds + rows t-test"
        ses.append(stat.se)
        shares.append(stat.seed_share)
        assert result.repeats == (4, 4)
    assert ses[0] < ses[1] < ses[2]
    assert all(share > 0.9 for share in shares)  # no-op: only the seeds differ
    # a change that moves every seed the same way on each row: the rows' share shows
    rng = np.random.default_rng(3)
    n = 5000
    y = rng.integers(0, 2, n)
    common = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    shift = rng.normal(0, 0.15, n)  # the PR's systematic, row-by-row difference

    def seed(scores):
        s = np.clip(scores + rng.normal(0, 0.02, n), 0, 1)
        return predictions_from_frame(
            pd.DataFrame({"y_true": y, "y_pred": (s > 0.5).astype(int)}), "s"
        )

    stat = paired_statistics([seed(common) for _ in range(3)],
                             [seed(common + shift) for _ in range(3)]).stats["accuracy"]  # fmt: skip
    assert stat.seed_share < 0.5
    # one seed a side cannot see the spread: the fixed-model test, no seed share
    model, _ = _binary(5000, 11, 0.0, spread=0.05)
    one = paired_statistics(model(0), model(0)).stats["accuracy"]
    assert one.seed_share is None and one.df == math.inf


def test_unequal_seeds_per_side_pool_the_spread() -> None:
    model, _ = _binary(3000, 12, 0.0, spread=0.03)
    result = paired_statistics(model(0), [model(0) for _ in range(3)])
    stat = result.stats["f1_macro"]
    assert stat.repeats == (1, 3) and 0 < stat.seed_share <= 1 and stat.df >= 2
    assert result.base.keys() == result.head.keys()


def test_no_op_changes_studentise_to_unit_spread() -> None:
    """Accuracy of a seed = shared truth + its seed effect + its own row noise: over many
    no-op comparisons, change / se has the spread of t (df ≥ 4: sd ≤ 1.41), not more —
    which is what a missing seed component would give."""
    z = []
    for trial in range(40):
        model, _ = _binary(1500, 100 + trial, 0.0, spread=0.015)
        stat = paired_statistics([model(0) for _ in range(3)], [model(0) for _ in range(3)],
                                 resamples=100, seed=trial).stats["accuracy"]  # fmt: skip
        z.append(stat.delta / stat.se)
    assert 0.7 < float(np.std(z)) < 1.5


# -- Holm ------------------------------------------------------------------------------


def test_holm_adjusted_p_values_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max
    assert inference.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert inference.holm([0.2]) == [0.2]
    assert inference.holm([0.3, 0.2, 0.9]) == pytest.approx([0.6, 0.6, 0.9])
    assert inference.holm([0.5, 0.6, 0.9]) == pytest.approx([1.0, 1.0, 1.0])


def _row(name: str, delta: float, se: float) -> DiffRow:
    (row,) = diff_sets(
        MetricSet((MetricFile("m.json", {name: 0.9}),)),
        MetricSet((MetricFile("m.json", {name: 0.9 + delta}),)),
    )
    stat = PairedStat(delta, 0, 0, 0.95, False, 1000, test="paired bootstrap", se=se)
    return row._replace(stat=stat)


def test_holm_keeps_the_whole_gates_false_fail_rate() -> None:
    """Three drops that would each fail alone (one-sided p = 0.015 < 0.025) do not fail
    together: Holm's smallest threshold is 0.025 / 3."""
    z = sps.norm.isf(0.015)
    rows = tuple(_row(name, -z * 0.01, 0.01) for name in ("a", "b", "c"))
    rules = [GateRule(name, max_drop=0, significant=True) for name in ("a", "b", "c")]
    checks = evaluate_gate(rules, rows).checks
    for check in checks:
        assert check.status is W
        assert check.note == MAY_BE_WORSE + " once 3 rules are tested together (Holm)"
        e = check.evidence
        assert e.family == 3 and e.p_value == pytest.approx(0.015)
        assert e.p_adjusted == pytest.approx(0.045)
        assert e.level == pytest.approx(1 - 2 * 0.025 / 3)
        assert e.ci_high > 0  # the interval shown agrees with the verdict
    alone = evaluate_gate(rules[:1], rows[:1]).checks[0]
    assert alone.status is F and alone.evidence.ci_high < 0


def test_holm_step_down_and_the_intervals_it_shows() -> None:
    p_values = {"a": 0.001, "b": 0.02, "c": 0.3}
    rows = tuple(_row(n, -sps.norm.isf(p) * 0.01, 0.01) for n, p in p_values.items())
    rules = [GateRule(n, max_drop=0, significant=True) for n in p_values]
    by_name = {c.metric: c for c in evaluate_gate(rules, rows).checks}
    assert [by_name[n].status for n in "abc"] == [F, W, W]
    assert [by_name[n].evidence.p_adjusted for n in "abc"] == pytest.approx([0.003, 0.04, 0.3])
    # one rejected of three: every interval at one-sided 0.025 / 2
    for name in "abc":
        e = by_name[name].evidence
        assert e.level == pytest.approx(1 - 2 * 0.0125)
        assert (e.ci_high < e.margin) == (by_name[name].status is F)


def test_informational_rules_are_not_in_the_family_and_never_fail() -> None:
    rows = (_row("a", -0.05, 0.01), _row("b", -0.05, 0.01))
    rules = [
        GateRule("a", max_drop=0, significant=True),
        GateRule("b", max_drop=0, significant=True, informational=True),
    ]
    a, b = evaluate_gate(rules, rows).checks
    assert a.status is F and a.evidence.family == 1
    assert b.status is W and b.informational and "informational" in b.note
    assert b.note.startswith(WORSE_THAN_ALLOWED)


# -- nothing to test -------------------------------------------------------------------


REASON = "main and this PR predict different test rows (39 of 143 ids shared)"


def test_different_rows_fail_by_default_and_say_why() -> None:
    check = gate_on(None, GateRule("accuracy", max_drop=0.005, significant=True), untestable=REASON)
    assert check.status is F
    assert check.note == f"cannot test: {REASON}; judged as a plain drop (on_untestable: fail)"


def test_on_untestable_warn() -> None:
    rule = GateRule("accuracy", max_drop=0.005, significant=True, on_untestable="warn")
    check = gate_on(None, rule, untestable=REASON)
    assert check.status is W and check.note.startswith(f"cannot test: {REASON}")


def test_within_the_limit_an_untestable_rule_passes_and_says_it_was_not_tested() -> None:
    check = gate_on(None, GateRule("accuracy", max_drop=0.01, significant=True), untestable=REASON)
    assert check.status is P and check.note == f"not tested: {REASON}"


def test_a_metric_without_predictions_names_that_reason() -> None:
    check = gate_on(None, GateRule("accuracy", max_drop=0.001, significant=True))
    assert check.status is F and NO_STATISTICS in check.note


def test_lower_direction_from_config_is_respected() -> None:
    stat = PairedStat(-0.05, 0, 0, 0.95, False, 1000, test="paired bootstrap", se=0.01)
    (row,) = diff_sets(
        MetricSet((MetricFile("m.json", {"perplexity": 3.0}),)),
        MetricSet((MetricFile("m.json", {"perplexity": 2.95}),)),
        directions=(("perplexity", Direction.LOWER),),
    )
    (check,) = evaluate_gate([GateRule("perplexity", max_drop=0, significant=True)],
                             (row._replace(stat=stat),)).checks  # fmt: skip
    assert check.status is P and check.evidence.margin == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"max_drop": 0.01, "on_untestable": "warn"},
            "on_untestable: only applies with significant: true",
        ),
        ({"max_drop": 0.01, "significant": True, "on_untestable": "skip"}, "on_untestable"),
    ],
)
def test_on_untestable_is_validated(spec, message) -> None:
    from pathlib import Path

    from cml_py.config import parse_config

    with pytest.raises(CmlError, match=message):
        parse_config({"gate": {"accuracy": spec}}, source="cml.yaml", root=Path("."))


# -- every format shows the same evidence ----------------------------------------------


def test_every_format_shows_the_evidence_and_fan_in_reads_it_back() -> None:
    import json

    from cml_py.fanin import check_from_dict, row_from_dict
    from cml_py.report import render
    from tests.sample_reports import stats_report

    report = stats_report()
    data = json.loads(render(report, "json"))
    accuracy, log_loss = data["gate"]
    evidence = log_loss["evidence"]
    assert evidence["test"] == "paired bootstrap" and evidence["family"] == 2
    assert evidence["interval"]["confidence"] == pytest.approx(0.975)
    assert evidence["allowed_change"] == pytest.approx(0.01) and evidence["lower_is_better"]
    assert evidence["p_value"] < 0.025 <= evidence["p_adjusted"]
    assert accuracy["evidence"]["test"] == "McNemar score test"
    row = next(m for m in data["metrics"] if m["name"] == "accuracy")
    assert row["test"]["counts"] == {"rows": 1000, "only_this_pr_right": 27, "only_main_right": 20}
    text = render(report, "text")
    assert "Is it noise? 2 rules with significant: true; false-fail rate 2.5% (Holm)" in text
    assert "[+0.00641, +0.0638] (97.5%)" in text
    junit = render(report, "junit")
    assert "allowed ≤ +0.01, p = 0.0249 (Holm over 2 rules: 0.05); paired bootstrap" in junit
    back = check_from_dict(log_loss, "leg")
    assert back.evidence == report.gate.checks[1].evidence  # `stat` is not compared
    assert row_from_dict(row, "leg").stat.counts == (1000, 27, 20)
    broken = {**log_loss, "evidence": {**evidence, "p_value": "low"}}
    assert check_from_dict(broken, "leg").evidence is None  # another job's data: checked


# -- too little data to call anything significant -------------------------------------


def _regression_frame(errors: list[float]) -> pd.DataFrame:
    y = np.arange(len(errors)) + 0.5  # not integral: regression
    return pd.DataFrame({"id": np.arange(len(errors)), "y_true": y, "y_pred": y + errors})


@pytest.mark.parametrize("n", [1, 2, 5])
def test_a_handful_of_rows_is_never_significant(n: int) -> None:
    """Every row a little better: even an exact sign test has p = 2 / 2**n, so nothing on
    five rows or fewer can be significant at 95% — the bootstrap's standard error of 0
    used to say "significant, p = 0" on a single row."""
    base = predictions_from_frame(_regression_frame([1.0] * n), "base.csv")
    head = predictions_from_frame(_regression_frame([0.0] * n), "head.csv")
    result = paired_statistics(base, head)
    assert result.stats == {}
    assert result.head["rmse"] == 0 and result.base["rmse"] == 1  # the metrics are still there
    assert set(result.untestable) == set(result.head)
    assert "cannot be significant at 95% on fewer than 6" in result.untestable["rmse"]


def test_the_fewest_rows_follow_the_confidence() -> None:
    from cml_py.train.stats import min_rows

    assert [min_rows(c) for c in (0.5, 0.9, 0.95, 0.99, 0.999)] == [3, 5, 6, 8, 11]
    base = predictions_from_frame(_regression_frame([1.0] * 6), "base.csv")
    head = predictions_from_frame(_regression_frame([0.0] * 6), "head.csv")
    assert paired_statistics(base, head).stats["rmse"].significant  # 2/64 < 0.05
    assert paired_statistics(base, head, confidence=0.99).stats == {}


def test_roc_auc_on_one_positive_is_not_significant() -> None:
    """A thousand rows, one positive: main ranks it last, this PR first. DeLong's
    variance needs two of each class (it said se 0, p = 0), and every bootstrap resample
    that has the positive agrees, so ROC AUC and average precision get no interval."""
    rng = np.random.default_rng(0)
    n = 1000
    y = np.zeros(n, dtype=int)
    y[0] = 1

    def side(scores: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "id": np.arange(n),
                "y_true": y,
                "y_pred": (scores > 0.5).astype(int),
                "proba_1": scores,
            }
        )

    base_scores, head_scores = rng.uniform(0.5, 1, n), rng.uniform(0, 0.5, n)
    base_scores[0], head_scores[0] = 0.0, 1.0
    result = paired_statistics(
        predictions_from_frame(side(base_scores), "base.csv"),
        predictions_from_frame(side(head_scores), "head.csv"),
    )
    assert result.head["roc_auc"] == 1 and result.base["roc_auc"] == 0
    assert "roc_auc" not in result.stats and "average_precision" not in result.stats
    assert result.untestable["roc_auc"].startswith("only 1 test row of class '1';")
    assert "accuracy" in result.stats and "log_loss" in result.stats  # per-row metrics keep theirs


def test_too_few_rows_make_a_significance_rule_untestable(tmp_path, capsys) -> None:
    """Through `cml-py evaluate`: the metrics with a line saying why there is no interval
    (and no "significant" anywhere)."""
    from tests.helpers import run_cli

    _regression_frame([1.0, 1.0]).to_csv(tmp_path / "base.csv", index=False)
    _regression_frame([0.0, 0.0]).to_csv(tmp_path / "head.csv", index=False)
    result = run_cli(
        capsys, "evaluate", str(tmp_path / "head.csv"), "--base", str(tmp_path / "base.csv")
    )
    assert result.code == 0, result.err
    assert "significant" not in result.out.replace("cannot be significant", "")
    assert result.out.rstrip().endswith(
        "no intervals: only 2 test rows; a change cannot be significant at 95% on fewer than 6"
    )


def test_a_significance_rule_on_three_rows_cannot_test(in_repo, capsys) -> None:
    """Through `cml-py run`: main right on all 3 rows, this PR wrong on all; the rule says
    why it cannot test, and follows on_untestable (fail: a plain drop)."""
    import json
    import sys

    from tests.helpers import run_cli

    in_repo.write(
        "train.py",
        "import os\nos.makedirs('results', exist_ok=True)\n"
        "wrong = open('wrong.txt').read().strip() == '1'\n"
        "rows = [f'{i},{i % 2},{(i + wrong) % 2}' for i in range(3)]\n"
        "open('results/preds.csv', 'w').write('id,y_true,y_pred\\n' + '\\n'.join(rows) + '\\n')\n",
    )
    in_repo.write("wrong.txt", "0")
    in_repo.write(
        "cml.yaml",
        f"train:\n  command: [{sys.executable}, train.py]\n"
        "  outputs: {predictions: results/preds.csv}\n"
        "baseline: {strategy: rerun}\n"
        "gate:\n  accuracy: {max_drop: 0, significant: true}\n",
    )
    in_repo.write(".gitignore", "results/\n.cml-py/\ncml-py-report/\n")
    in_repo.commit("base")
    in_repo.branch("pr")
    in_repo.write("wrong.txt", "1")
    in_repo.commit("worse")
    result = run_cli(capsys, "run", "--no-publish", "--no-charts", "--base", "main")
    assert result.code == 1, result.err
    data = json.loads((in_repo.path / "cml-py-report" / "report.json").read_text())
    (check,) = data["gate"]
    assert check["status"] == "fail" and "evidence" not in check
    assert check["note"].startswith("cannot test: only 3 test rows; a change cannot be significant")
    assert not any(m.get("stat") for m in data["metrics"])
