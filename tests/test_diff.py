from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cml_py.metrics.diff import diff_sets, natural_key
from cml_py.metrics.direction import infer_direction
from cml_py.model import Direction, MetricFile, MetricSet, Verdict


def mset(**files: dict) -> MetricSet:
    return MetricSet(
        tuple(MetricFile(path.replace("_", "."), values) for path, values in files.items())
    )


def one(base: dict | None, head: dict, **kw):
    rows = diff_sets(mset(m_json=base) if base is not None else None, mset(m_json=head), **kw)
    return {row.name: row for row in rows}


@pytest.mark.parametrize(
    ("name", "base", "head", "verdict"),
    [
        ("acc", 0.8, 0.9, Verdict.BETTER),
        ("acc", 0.9, 0.8, Verdict.WORSE),
        ("val_loss", 0.3, 0.2, Verdict.BETTER),
        ("val_loss", 0.2, 0.3, Verdict.WORSE),
        ("acc", 0.9, 0.9, Verdict.UNCHANGED),
        ("acc", 1, 1.0, Verdict.UNCHANGED),
        ("acc", math.nan, math.nan, Verdict.UNCHANGED),
        ("acc", math.inf, math.inf, Verdict.UNCHANGED),
        ("acc", 0.5, math.nan, Verdict.CHANGED),
        ("acc", math.nan, 0.5, Verdict.CHANGED),
        ("acc", 0.5, math.inf, Verdict.BETTER),
        ("model", "rf", "gbm", Verdict.CHANGED),
        ("model", "rf", "rf", Verdict.UNCHANGED),
        ("flag", True, 1, Verdict.CHANGED),
        ("flag", True, False, Verdict.CHANGED),
        ("x", None, None, Verdict.UNCHANGED),
        ("x", 0.5, "0.5", Verdict.CHANGED),
    ],
)
def test_verdicts(name: str, base, head, verdict: Verdict) -> None:
    assert one({name: base}, {name: head})[name].verdict is verdict


def test_added_and_removed() -> None:
    rows = one({"old": 1, "both": 2}, {"both": 2, "new": 3})
    assert rows["old"].verdict is Verdict.REMOVED and not rows["old"].has_head
    assert rows["new"].verdict is Verdict.ADDED and not rows["new"].has_base


def test_null_value_is_not_a_missing_value() -> None:
    rows = one({"x": None}, {})
    assert rows["x"].verdict is Verdict.REMOVED and rows["x"].has_base


def test_delta_and_relative_change() -> None:
    row = one({"acc": 0.8}, {"acc": 0.9})["acc"]
    assert row.delta == pytest.approx(0.1) and row.rel == pytest.approx(0.125)
    assert one({"acc": 0}, {"acc": 0.5})["acc"].rel is None
    assert one({"acc": -2.0}, {"acc": -1.0})["acc"].rel == pytest.approx(0.5)


def test_configured_direction_flips_the_verdict() -> None:
    rows = one({"score": 1.0}, {"score": 2.0}, directions=[("score", Direction.LOWER)])
    assert rows["score"].verdict is Verdict.WORSE


def test_params_are_never_better_or_worse() -> None:
    rows = one({"lr": 0.1, "depth": 3}, {"lr": 0.2, "depth": 3}, judge=False)
    assert rows["lr"].verdict is Verdict.CHANGED and rows["lr"].delta == pytest.approx(0.1)
    assert rows["depth"].verdict is Verdict.UNCHANGED and rows["lr"].direction is None


def test_order_is_files_in_order_then_natural_keys() -> None:
    base = MetricSet((MetricFile("gone.json", {"z": 1}), MetricFile("b.json", {"m10": 1})))
    head = MetricSet(
        (MetricFile("b.json", {"m10": 1, "m2": 1, "M3": 1}), MetricFile("a.json", {"x": 1}))
    )
    rows = diff_sets(base, head)
    assert [(r.path, r.name) for r in rows] == [
        ("b.json", "m2"),
        ("b.json", "M3"),
        ("b.json", "m10"),
        ("a.json", "x"),
        ("gone.json", "z"),
    ]


def test_natural_key() -> None:
    names = ["layer10.w", "layer2.w", "layer1.w", "Layer1.b"]
    assert sorted(names, key=natural_key) == ["Layer1.b", "layer1.w", "layer2.w", "layer10.w"]


_SEGMENTS = [
    "data",
    "train",
    "a",
    "psi",
    "missing",
    "drift_share",
    "loss",
    "val_loss",
    "acc",
    "lossless",
    "time",
    "x1",
    "Data",
    "DATA",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=4).map(".".join),
            st.text(max_size=12),
        ),
        min_size=1,
        max_size=20,
        unique=True,
    )
)
def test_every_rows_direction_is_what_the_name_implies(names: list[str]) -> None:
    """The per-row fast path (a cost word checked per part of the name) must agree with
    infer_direction for every name: `data.train.a.psi` holds no cost word, yet is
    better lower, and judging it higher let a gate pass a drifted dataset."""
    rows = diff_sets(mset(m_json=dict.fromkeys(names, 0.5)), mset(m_json=dict.fromkeys(names, 0.6)))
    for row in rows:
        assert row.direction is infer_direction(row.name), row.name
        expected = Verdict.BETTER if row.direction is Direction.HIGHER else Verdict.WORSE
        assert row.verdict is expected, row.name


def test_a_rise_in_drift_or_missing_values_is_worse() -> None:
    rows = one(
        {"data.train.a.psi": 0.0, "data.train.a.missing": 0.0},
        {"data.train.a.psi": 3.3, "data.train.a.missing": 0.5},
    )
    assert {name: row.verdict for name, row in rows.items()} == {
        "data.train.a.psi": Verdict.WORSE,
        "data.train.a.missing": Verdict.WORSE,
    }


def test_an_int_and_a_float_past_2_53_keep_their_exact_difference() -> None:
    """9007199254740993 - 9007199254740992.0 rounds to 0.0 in floats; a verdict of
    "worse" beside a change of 0 would contradict itself."""
    row = one({"n_rows": 9007199254740993}, {"n_rows": 9007199254740992.0})["n_rows"]
    assert row.verdict is Verdict.WORSE and row.delta == -1.0
