"""Schema, quality, drift and leakage of one dataset, on small constructed frames; each
number checked against an independent computation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from cml_py.config import parse_config
from cml_py.data import compare as c
from cml_py.data import hashing as h
from cml_py.data.config import DatasetSpec
from cml_py.errors import CmlError
from cml_py.metrics.direction import infer_direction
from cml_py.model import Direction

SPEC = DatasetSpec("d", ("d.csv",))


def compared(base: pd.DataFrame | None, head: pd.DataFrame, spec: DatasetSpec = SPEC, **kw):
    b = c.Side.of(base, spec) if base is not None else None
    return c.compare_dataset(spec, b, c.Side.of(head, spec), **kw)


def test_schema_changes_are_counted_and_named() -> None:
    base = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [1.0, 2.0, 3.0]})
    head = pd.DataFrame({"a": ["1", "2", "x"], "c": [1.0, 2.0, 3.0], "e": [5, 6, 7]})
    r = compared(base, head)
    h = r.head
    assert h["data.d.columns_added"] == 1
    assert h["data.d.columns_removed"] == 1
    assert h["data.d.columns_retyped"] == 1
    assert h["data.d.schema_changes"] == 3
    assert r.base["data.d.schema_changes"] == 0
    assert (r.base["data.d.a.type"], h["data.d.a.type"]) == ("number", "string")
    assert "data.d.a.psi" not in h  # a retyped column is not compared as a distribution
    assert "data.d.b.type" not in h and "data.d.e.type" in h
    assert "data.d: columns added: 'e'." in r.notes
    assert "data.d: columns removed: 'b'." in r.notes
    assert "data.d: type changed: 'a' number → string (no drift measures)." in r.notes


def test_a_renamed_column_is_recognised() -> None:
    base = pd.DataFrame({"income": [1.5, 2.5, 3.5], "k": [1, 2, 3]})
    head = pd.DataFrame({"salary": [1.5, 2.5, 3.5], "k": [1, 2, 3]})
    notes = compared(base, head).notes
    assert "data.d: 'salary' looks like 'income' renamed (same type and values)." in notes


def test_quality_missing_duplicates_constant_out_of_range() -> None:
    base = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "k": ["a", "b", "c", "d"]})
    head = pd.DataFrame(
        {"x": [0.0, np.nan, 3.0, 9.0, 3.0, np.inf], "k": ["a", "a", "c", "c", "c", None]}
    )
    h = compared(base, head).head
    assert h["data.d.rows"] == 6
    assert h["data.d.x.missing"] == pytest.approx(2 / 6)  # NaN and inf have no value
    assert h["data.d.k.missing"] == pytest.approx(1 / 6)
    assert h["data.d.x.out_of_range"] == pytest.approx(2 / 6)  # 0 and 9 outside [1, 4]
    # (3.0, "c") appears twice: one row repeats an earlier one
    assert h["data.d.duplicates"] == pytest.approx(1 / 6)
    assert h["data.d.constant_columns"] == 0
    assert h["data.d.k.new_categories"] == 0
    assert h["data.d.k.vanished_categories"] == 2  # b, d
    const = compared(base, pd.DataFrame({"x": [2.0] * 3, "k": ["a"] * 3})).head
    assert const["data.d.constant_columns"] == 2


def test_numeric_drift_matches_scipy_and_a_hand_psi() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(0, 2, 3000)
    b = rng.normal(0.5, 2, 2500)
    r = compared(pd.DataFrame({"x": a}), pd.DataFrame({"x": b}))
    h = r.head
    assert h["data.d.x.wasserstein"] == pytest.approx(
        stats.wasserstein_distance(a, b) / np.std(a), rel=1e-9
    )
    ks = stats.ks_2samp(a, b, method="asymp").statistic
    assert h["data.d.x.p_value"] == pytest.approx(
        stats.kstwobign.sf(math.sqrt(3000 * 2500 / 5500) * ks), rel=1e-9
    )
    # PSI over main's deciles, by hand with numpy's histogram on right-closed bins
    edges = np.quantile(a, np.arange(1, 10) / 10, method="inverted_cdf")

    def hand_shares(x: np.ndarray) -> np.ndarray:
        inner = [np.sum((x > lo) & (x <= hi)) for lo, hi in itertools.pairwise(edges)]
        return np.array([np.sum(x <= edges[0]), *inner, np.sum(x > edges[-1])]) / x.size

    p, q = hand_shares(a), hand_shares(b)
    assert h["data.d.x.psi"] == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-9)
    assert r.base["data.d.x.psi"] == 0.0 and r.base["data.d.x.p_value"] == 1.0
    assert h["data.d.drifted_columns"] == (1 if h["data.d.x.psi"] >= 0.2 else 0)


def test_categorical_drift_matches_scipy() -> None:
    base = pd.DataFrame({"k": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    head = pd.DataFrame({"k": ["a"] * 30 + ["b"] * 30 + ["c"] * 25 + ["d"] * 15})
    h = compared(base, head).head
    p, q = np.array([50, 30, 20, 0]), np.array([30, 30, 25, 15])
    assert h["data.d.k.js"] == pytest.approx(jensenshannon(p, q), abs=1e-12)
    expected = stats.chi2_contingency(np.array([p, q]), correction=False)
    assert h["data.d.k.p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    ps, qs = np.maximum(p / 100, 1e-4), np.maximum(q / 100, 1e-4)
    assert h["data.d.k.psi"] == pytest.approx(np.sum((qs - ps) * np.log(qs / ps)), rel=1e-12)
    assert h["data.d.k.new_categories"] == 1


def test_top_k_categories_pool_the_rest_as_other() -> None:
    spec = DatasetSpec("d", ("d.csv",), categories=2)
    base = pd.DataFrame({"k": list("aaaabbbcd")})
    head = pd.DataFrame({"k": list("aaabbbbce")})
    r = compared(base, head, spec)
    (series,) = r.drift
    assert series.labels == ("a", "b", "other")
    assert series.base == pytest.approx((4 / 9, 3 / 9, 2 / 9))
    p, q = np.array([4, 3, 2]), np.array([3, 4, 2])
    assert r.head["data.d.k.js"] == pytest.approx(jensenshannon(p, q), abs=1e-12)


def test_a_numeric_target_with_few_values_is_compared_as_classes() -> None:
    spec = DatasetSpec("d", ("d.csv",), target="y")
    base = pd.DataFrame({"y": [0] * 80 + [1] * 20})
    head = pd.DataFrame({"y": [0] * 50 + [1] * 50})
    h = compared(base, head, spec).head
    assert h["data.d.y.type"] == "number"
    assert h["data.d.y.js"] == pytest.approx(jensenshannon([80, 20], [50, 50]), abs=1e-12)
    assert "data.d.y.wasserstein" not in h


def test_target_classes_that_print_alike_with_g_stay_apart() -> None:
    # `:g` printed 1000000 and 1000001 both as 1e+06: one class, and no label shift.
    spec = DatasetSpec("d", ("d.csv",), target="y")
    base = pd.DataFrame({"y": [1_000_000] * 50 + [1_000_001] * 50})
    head = pd.DataFrame({"y": [1_000_000] * 5 + [1_000_001] * 95})
    r = compared(base, head, spec)
    assert r.head["data.d.y.js"] == pytest.approx(jensenshannon([50, 50], [5, 95]), abs=1e-12)
    assert r.head["data.d.y.psi"] > 0.2
    (series,) = r.drift
    assert set(series.labels) == {"1000000", "1000001"}


def test_identifier_like_text_gets_no_drift_measures() -> None:
    base = pd.DataFrame({"name": [f"n{i}" for i in range(3000)]})
    head = pd.DataFrame({"name": [f"m{i}" for i in range(3000)]})
    r = compared(base, head)
    assert "data.d.name.psi" not in r.head
    assert any("look like identifiers or free text" in n for n in r.notes)


def test_identical_columns_are_exactly_zero_and_large_sides_are_sampled() -> None:
    rng = np.random.default_rng(0)
    n = 12_000
    spec = DatasetSpec("d", ("d.csv",), sample_rows=5000)
    frame = pd.DataFrame({"same": rng.normal(size=n), "moved": rng.normal(size=n)})
    head = frame.assign(moved=frame["moved"] + 1.0)
    r = compared(frame, head, spec)
    assert r.head["data.d.same.psi"] == 0.0 and r.head["data.d.same.wasserstein"] == 0.0
    assert r.head["data.d.moved.wasserstein"] == pytest.approx(1.0, rel=0.05)
    assert any("seeded sample of 5,000 rows per side" in n for n in r.notes)
    again = compared(frame, head, spec)
    assert again.head == r.head  # deterministic
    # identical bytes: nothing is computed, and nothing drifts
    same = compared(frame, frame, spec, identical=True)
    assert same.head["data.d.moved.psi"] == 0.0 and not same.drift


def test_value_hashes_follow_values_not_dtypes() -> None:
    ints, floats = pd.Series([1, 2, 3]), pd.Series([1.0, 2.0, 3.0])
    assert np.array_equal(c.column_hash(ints), c.column_hash(floats))
    zeros = c.column_hash(pd.Series([0.0, -0.0, np.nan, np.nan]))
    assert zeros[0] == zeros[1] and zeros[2] == zeros[3]
    text = pd.Series(["x", None], dtype=object)
    assert np.array_equal(c.column_hash(text), c.column_hash(text.astype("string")))


def test_leaked_share_by_id_and_by_row_hash() -> None:
    train = pd.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0]})
    test = pd.DataFrame({"id": [4, 5, 6, 7], "x": [2.0, 5.0, 6.0, 7.0]})
    by_id = h.leaked_share(c.column_hash(test["id"]), c.column_hash(train["id"]))
    assert by_id == pytest.approx(0.25)  # id 4
    spec = DatasetSpec("d", ("d.csv",), id="id")
    t, s = c.Side.of(train, spec), c.Side.of(test, spec)
    assert h.leaked_share(s.hashes, t.hashes) == pytest.approx(0.25)  # x == 2.0


def test_data_measures_are_better_lower_except_rows_and_p() -> None:
    for name in ("data.t.age.psi", "data.t.missing", "data.t.x.missing", "data.t.leaked"):
        assert infer_direction(name) is Direction.LOWER
    for name in ("data.t.rows", "data.t.x.p_value", "missing"):
        assert infer_direction(name) is Direction.HIGHER


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: true", "data: expected false or a mapping"),
        ("data: {1x: a.csv}", "data.1x: expected a dataset name"),
        ("data: {t: {target: y}}", "data.t: missing key path"),
        ("data: {t: {path: a.csv, bins: 3}}", "data.t.bins: unknown key"),
        ("data: {t: {path: a.csv, leakage: u}}", "data.t.leakage: expected the name of another"),
        ("data: {t: {path: a.csv, sample_rows: many}}", "data.t.sample_rows: expected an integer"),
        ("data: {t: {path: a.csv, format: xlsx}}", "data.t.format: expected one of csv, tsv"),
        (
            "data: {t: {path: a.csv, psi_threshold: 0}}",
            "data.t.psi_threshold: expected a number > 0",
        ),
    ],
)
def test_bad_data_settings_name_the_key(text: str, message: str) -> None:
    from pathlib import Path

    import yaml

    with pytest.raises(
        CmlError, match="^cml.yaml: " + message.replace(".", r"\.").replace("(", r"\(")
    ):
        parse_config(yaml.safe_load(text), source="cml.yaml", root=Path("."))


def test_data_settings_parse_short_and_long_forms() -> None:
    from pathlib import Path

    import yaml

    config = parse_config(
        yaml.safe_load(
            "data:\n  train: data/train.csv\n  test: {path: [data/t1.csv, 'data/t*.csv'], "
            "target: y, id: 7, leakage: train, categories: 5}\n"
        ),
        source="cml.yaml",
        root=Path("."),
    )
    train, test = config.data.datasets
    assert train.paths == ("data/train.csv",) and config.data.enabled
    assert test.id == "7" and test.leakage == "train" and test.categories == 5
    assert str(test) == (
        "test: {path: data/t1.csv, data/t*.csv; target: y; id: 7; leakage: train; categories: 5}"
    )


def test_the_drift_chart_draws_numbers_and_categories_or_says_why_not() -> None:
    from cml_py.charts.data_drift import data_drift

    rng = np.random.default_rng(0)
    base = pd.DataFrame({"x": rng.normal(size=500), "k": rng.choice(list("abc"), 500)})
    head = pd.DataFrame({"x": rng.normal(1, 1, 500), "k": rng.choice(list("abd"), 500)})
    r = compared(base, head)
    assert [s.column for s in r.drift] == ["k", "x"]  # worst first
    (x,) = [s for s in r.drift if s.column == "x"]
    assert len(x.edges) == len(x.base) + 1 and sum(x.base) == pytest.approx(1.0)
    chart = data_drift(r.drift, {"d": 0.2})
    assert chart.figure is not None and "PSI" in chart.figure.axes[0].get_title()
    assert data_drift(()).note == "no column drifted"


@pytest.mark.parametrize("unit", [1.0, 1e300, 1e-310])
def test_the_normalised_wasserstein_distance_does_not_depend_on_the_unit(unit: float) -> None:
    # Near float64's limit the area between the CDFs and the standard deviation
    # overflowed (the distance came out 0, or the drift chart raised: exit 4); subnormal
    # values squared to 0 (the distance came out 0).
    import warnings

    from cml_py.charts.data_drift import data_drift

    rng = np.random.default_rng(0)
    base = pd.DataFrame({"x": rng.normal(0, 1, 500)})
    head = pd.DataFrame({"x": rng.normal(1, 1, 500)})
    expected = stats.wasserstein_distance(base["x"], head["x"]) / np.std(base["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = compared(base * unit, head * unit)
        chart = data_drift(r.drift, {"d": 0.2})
    assert r.head["data.d.x.wasserstein"] == pytest.approx(expected, rel=1e-6)
    assert chart.figure is not None or "left out" in chart.note


def test_values_near_float64s_limit_are_measured_and_the_chart_says_what_it_left_out() -> None:
    import warnings

    from cml_py.charts.data_drift import data_drift

    n = 400
    rng = np.random.default_rng(0)
    extreme = np.where(np.arange(n) % 2 == 0, 1.7e308, -1.7e308)
    cases = [
        (rng.normal(0, 1, n), extreme, 1.7e308, 0.01),  # W ≈ 1.7e308 in main's σ of ≈ 1
        (extreme, rng.normal(0, 1, n), 1.0, 0.01),  # W ≈ σ
        (np.full(n, 1.7e308), np.full(n, -1.7e308), 2.0, 1e-12),  # constants: pooled σ
    ]
    for base, head, expected, tolerance in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r = compared(pd.DataFrame({"x": base}), pd.DataFrame({"x": head}))
            chart = data_drift(r.drift, {"d": 0.2})
        w = r.head["data.d.x.wasserstein"]
        assert math.isfinite(w) and w == pytest.approx(expected, rel=tolerance)
        if r.drift:
            assert chart.figure is None and "d.x left out" in chart.note
