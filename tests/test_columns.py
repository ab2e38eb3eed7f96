"""One number format per column of the comment's tables."""

from __future__ import annotations

from cml_py.report.columns import pad_numbers, same_percent_decimals, significant_digits, uniform
from cml_py.report.view import Table


def test_significant_digits_of_plain_decimals_only() -> None:
    assert [significant_digits(t) for t in ("0.0120", "0.972", "12.5", "-3.25")] == [3, 3, 3, 3]
    assert [significant_digits(t) for t in ("100", "1.2e-05", "NaN", "—", "rf")] == [None] * 5


def test_decimals_are_padded_never_rounded() -> None:
    column = ["0.9357", "0.972", "1.5", "120", "NaN", "—", "0.12345678"]
    assert pad_numbers(column) == [
        "0.9357",
        "0.9720",
        "1.500",
        "120",
        "NaN",
        "—",
        "0.12345678",
    ]
    assert pad_numbers(["0.9357", "0.972", "1.5"]) == ["0.9357", "0.9720", "1.500"]
    assert pad_numbers(["0.5", "0.25"]) == ["0.50", "0.25"]
    for before, after in zip(column, pad_numbers(column), strict=True):
        assert after.startswith(before)  # digits are only added


def test_padding_never_claims_digits_a_number_was_not_shown_with() -> None:
    """`0.9` is 0.89996 at four significant digits: beside a six-digit value it may
    become `0.9000`, never `0.900000`, which would be a different number."""
    assert pad_numbers(["0.123456", "0.9", "0.89996", "1.23449"]) == [
        "0.123456",
        "0.9000",
        "0.89996",
        "1.23449",
    ]


def test_percentages_share_their_decimals() -> None:
    cells = ["▲ +0.5 (+25%)", "▼ -0.1 (-2.37%)", "▲ +0.2 (+20%)", "▲ +1e-07 (+0.0004%)", "added"]
    assert same_percent_decimals(cells) == [
        "▲ +0.5 (+25.0%)",
        "▼ -0.1 (-2.4%)",
        "▲ +0.2 (+20.0%)",
        "▲ +1e-07 (+0.0004%)",  # would round to zero: keeps its own digits
        "added",
    ]


def test_a_percentage_is_never_rounded_to_fewer_than_two_digits() -> None:
    """0.05 % at one decimal would read 0.1 %, twice the change; 0.437 % would read
    0.4 %. Each keeps its own digits; 1.88 % may read 1.9 %."""
    cells = ["▲ +1 (+12%)", "▲ +1 (+1.88%)", "▲ +1 (+0.05%)", "▲ +1 (+0.437%)", "▲ +1 (+4.96%)"]
    assert same_percent_decimals(cells) == [
        "▲ +1 (+12.0%)",
        "▲ +1 (+1.9%)",
        "▲ +1 (+0.05%)",
        "▲ +1 (+0.437%)",
        "▲ +1 (+5.0%)",
    ]


def test_only_the_named_columns_change() -> None:
    table = Table(
        ("Metric", "main", "this PR", "Change"),
        "lrrr",
        (("a.5", "0.5", "0.75", "▲ +0.25 (+50%)"), ("b", "0.125", "0.1", "▼ -0.025 (-20%)")),
    )
    out = uniform(table, ("main", "this PR"), ("Change",))
    assert out.rows == (  # main and this PR share one format: three significant digits
        ("a.5", "0.500", "0.750", "▲ +0.25 (+50.0%)"),
        ("b", "0.125", "0.100", "▼ -0.025 (-20.0%)"),
    )
