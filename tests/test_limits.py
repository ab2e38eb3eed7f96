"""Every input is bounded: each limit refuses quickly, names the file and the variable
that raises it, and huge numbers parse without Python's own errors."""

from __future__ import annotations

import math
import time
from dataclasses import fields

import pytest

from cml_py import limits as lim
from cml_py.errors import CmlError
from cml_py.metrics.files import read_head
from cml_py.metrics.parse import number_from_digits, parse_file
from cml_py.model import HugeInt, is_finite_number
from cml_py.report.format import fmt_pair, fmt_scalar
from cml_py.yamlio import load_yaml


def refused(data: str | bytes, path: str, limits: lim.Limits | None = None) -> str:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(CmlError) as exc:
        parse_file(raw, path, limits)
    message = str(exc.value)
    assert message.startswith(path) and "\n" not in message
    return message


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_every_limit_has_a_variable() -> None:
    assert {f.name for f in fields(lim.Limits)} == set(lim.VARIABLES)


def test_a_yaml_alias_bomb_is_refused_in_milliseconds() -> None:
    started = time.perf_counter()
    message = refused(alias_bomb(), "metrics.yaml")
    assert time.perf_counter() - started < 1.0
    assert "expands to more than 2,000,000 nodes" in message
    assert "CML_PY_MAX_YAML_NODES" in message


def test_a_small_alias_document_within_the_limit_still_parses() -> None:
    values = parse_file(alias_bomb(levels=2, width=3).encode(), "m.yaml")
    assert len(values) == 3 + 9


def test_the_yaml_node_limit_counts_expansions_and_is_configurable() -> None:
    text = alias_bomb(levels=3, width=10)  # 10 + 100 + 1000 leaves through aliases
    assert "expands to more than 500" in refused(text, "m.yaml", lim.Limits(yaml_nodes=500))
    assert len(parse_file(text.encode(), "m.yaml", lim.Limits(yaml_nodes=5000))) == 1110


def test_a_yaml_alias_to_its_own_container_is_refused() -> None:
    assert "an alias refers to the node that contains it" in refused("a: &a [1, *a]\n", "m.yaml")


def test_yaml_depth_is_limited() -> None:
    text = "a: " + "[" * 150 + "]" * 150 + "\n"
    assert "nested more than 100 levels deep" in refused(text, "m.yaml")
    assert "CML_PY_MAX_DEPTH" in refused(text, "m.yaml")


def test_cml_yaml_goes_through_the_same_limits() -> None:
    with pytest.raises(CmlError, match=r"cml\.yaml: the document expands"):
        load_yaml(alias_bomb(), "cml.yaml")


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("m.json", '{"a": ' + "[" * 3000 + "]" * 3000 + "}"),
        ("m.json", '{"a": ' + "[" * 150 + "]" * 150 + "}"),
        ("m.toml", "a = " + "{b = " * 5000 + "1" + "}" * 5000),
        ("m.toml", "a = " + "[" * 100_000 + "]" * 100_000),
    ],
)
def test_deep_json_and_toml_are_refused(path: str, text: str) -> None:
    assert "nested more than 100 levels deep" in refused(text, path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("-0", 0),
        ("+7", 7),
        (str(2**63 - 1), 2**63 - 1),
        (str(-(2**63)), -(2**63)),
        (str(2**63), float(2**63)),
        ("1" + "0" * 300, 1e300),
    ],
)
def test_integers_are_exact_within_64_bits_and_floats_beyond(text: str, expected) -> None:
    value = number_from_digits(text)
    assert value == expected and type(value) is type(expected)


def test_integers_beyond_the_float_range_are_huge_and_not_finite() -> None:
    value = number_from_digits("-" + "9" * 5000)
    assert isinstance(value, HugeInt) and float(value) == -math.inf
    assert str(value) == "-9.999e+4999" and fmt_scalar(value) == "-9.999e+4999"
    assert not is_finite_number(value)
    assert number_from_digits("1" + "0" * 400) != number_from_digits("2" + "0" * 400)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("m.json", '{"a": ' + "7" * 5000 + "}"),
        ("m.yaml", "a: " + "7" * 5000 + "\n"),
        ("m.toml", "a = " + "7" * 5000 + "\n"),
        ("m.toml", "a = " + "7_7" * 2500 + "\n"),
        ("m.csv", "a\n" + "7" * 5000 + "\n"),
        ("m.csv", "name,value\na," + "7" * 5000 + "\n"),
    ],
)
def test_a_5000_digit_integer_parses_in_every_format(path: str, text: str) -> None:
    value = parse_file(text.encode(), path)["a"]
    assert isinstance(value, HugeInt) and value.text.startswith("7.777e+")


def test_yaml_hex_octal_and_base_60_integers_stay_bounded() -> None:
    values = parse_file(
        ("a: 0x" + "f" * 5000 + "\nb: 017\nc: 1:30\nd: 1" + ":1" * 100 + "\n").encode(), "m.yaml"
    )
    assert isinstance(values["a"], HugeInt) and values["a"].text.startswith("3.98")
    assert values["b"] == 15 and values["c"] == 90
    assert isinstance(values["d"], str)


def test_huge_values_are_shown_as_numbers_and_compared_without_errors() -> None:
    from cml_py.metrics.diff import compare_values
    from cml_py.model import Verdict

    big, bigger = number_from_digits("1" * 400), number_from_digits("2" * 400)
    assert fmt_pair(big, bigger) == ("1.111e+399", "2.222e+399")
    row = compare_values("m.json", "a", {"a": big}, {"a": bigger}, None)
    assert row.verdict is Verdict.CHANGED and row.delta is None
    row = compare_values("m.json", "a", {"a": big}, {"a": big}, None)
    assert row.verdict is Verdict.UNCHANGED


def test_duplicate_json_keys_name_the_file_and_key() -> None:
    message = refused('{"eval": {"acc": 0.5, "acc": 0.99}}', "eval/metrics.json")
    assert message == "eval/metrics.json: invalid JSON: the key 'acc' appears twice in one object"


def test_a_long_csv_field_is_refused_with_its_line() -> None:
    text = "name,value\nacc,0.9\nbig," + "x" * 2_000_000 + "\n"
    message = refused(text, "m.csv")
    assert "m.csv:3: invalid CSV: a field is longer than 1,048,576 characters" in message
    assert "CML_PY_MAX_CSV_FIELD_KB" in message
    assert parse_file(("a\n" + "x" * 200_000 + "\n").encode(), "m.csv")["a"] == "x" * 200_000


def test_csv_column_and_value_counts_are_limited() -> None:
    small = lim.Limits(values=100)
    header = ",".join(f"m{i}" for i in range(101))
    assert "101 columns, more than 100 values" in refused(
        header + "\n" + ",".join("1" * 101) + "\n", "m.csv", small
    )
    long = "name,value\n" + "".join(f"m{i},1\n" for i in range(101))
    assert "more than 100 values" in refused(long, "m.csv", small)
    assert "more than 100 values" in refused(
        '{"a": [' + ",".join("0" * 101) + "]}", "m.json", small
    )
    assert "CML_PY_MAX_VALUES" in refused('{"a": [' + ",".join("0" * 101) + "]}", "m.json", small)


def test_files_over_the_size_limit_are_refused_before_reading(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.json").write_text('{"a": "' + "x" * 3 * 1024 * 1024 + '"}')
    monkeypatch.setenv("CML_PY_MAX_FILE_MB", "2")
    with pytest.raises(CmlError) as exc:
        read_head(["m.json"], tmp_path)
    assert str(exc.value) == (
        "m.json: the file is 3.0 MiB, too large (limit 2 MiB; set CML_PY_MAX_FILE_MB to raise it)"
    )
    monkeypatch.setenv("CML_PY_MAX_FILE_MB", "4")
    assert read_head(["m.json"], tmp_path).files[0].values["a"].startswith("xxx")


@pytest.mark.parametrize("raw", ["0", "-1", "1e3", "lots", "9" * 30])
def test_a_bad_limit_variable_is_bad_input(monkeypatch, raw: str) -> None:
    monkeypatch.setenv("CML_PY_MAX_VALUES", raw)
    with pytest.raises(CmlError, match="CML_PY_MAX_VALUES: expected a positive whole number"):
        lim.active()


def test_a_file_that_grew_after_its_size_was_read_is_read_whole_or_refused(
    tmp_path, monkeypatch
) -> None:
    """read_head asks for the size the system reports plus one byte; a file that has
    more (it grew, or like /proc files reports 0) is read on, up to the limit."""
    import os

    from cml_py.metrics import files

    real_fstat = os.fstat

    class Shrunk:
        def __init__(self, fd: int) -> None:
            self.st_size = real_fstat(fd).st_size // 4

    monkeypatch.setattr(files.os, "fstat", Shrunk)
    (tmp_path / "m.json").write_text('{"a": "' + "x" * 1000 + '"}')
    assert read_head(["m.json"], tmp_path).files[0].values["a"] == "x" * 1000
    (tmp_path / "big.json").write_text('{"a": "' + "x" * 5 * 1024 * 1024 + '"}')
    monkeypatch.setenv("CML_PY_MAX_FILE_MB", "2")
    with pytest.raises(CmlError, match=r"big\.json: the file is 2\.0 MiB, too large"):
        read_head(["big.json"], tmp_path)
