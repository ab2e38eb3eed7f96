from __future__ import annotations

import math

import pytest

from cml_py.report.format import fmt_delta, fmt_float, fmt_pair, fmt_pct, fmt_scalar


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.91234567, "0.9123"),
        (0.9, "0.9"),
        (1.0, "1"),
        (1234.5678, "1235"),
        (123456.7, "123457"),
        (1.2345e-05, "1.234e-05"),
        (0.00012345, "0.0001234"),
        (-0.5, "-0.5"),
        (0.0, "0"),
        (math.nan, "NaN"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (1e20, "1e+20"),
    ],
)
def test_fmt_float_significant_digits(value: float, expected: str) -> None:
    assert fmt_float(value) == expected


def test_scalars() -> None:
    assert fmt_scalar(None) == "null"
    assert fmt_scalar(True) == "true"
    assert fmt_scalar(12) == "12"
    assert fmt_scalar("rf") == "rf"


@pytest.mark.parametrize(
    ("base", "head"),
    [(1.2345e-05, 1.2346e-05), (0.91, 0.9100001), (1000000.0, 1000000.5), (0.1, 0.1 + 1e-15)],
)
def test_different_values_never_print_the_same(base: float, head: float) -> None:
    a, b = fmt_pair(base, head)
    assert a != b
    assert float(a) != float(b)


def test_equal_values_keep_short_form() -> None:
    assert fmt_pair(0.5, 0.5) == ("0.5", "0.5")
    assert fmt_pair("a", 0.5) == ("a", "0.5")


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (5.4e-07, "+5.4e-07"),
        (-0.0123456, "-0.0123"),
        (3, "+3"),
        (-2, "-2"),
        (0.0, "0"),
        (None, ""),
        (math.inf, "+inf"),
    ],
)
def test_fmt_delta_never_rounds_a_change_to_zero(delta, expected: str) -> None:
    assert fmt_delta(delta) == expected


def test_fmt_pct() -> None:
    assert fmt_pct(0.0123) == "+1.23%"
    assert fmt_pct(-0.5) == "-50%"
    assert fmt_pct(None) == ""
    assert fmt_pct(12.5) == "+1250%"
