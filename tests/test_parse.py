from __future__ import annotations

import math
import subprocess
import sys

import pytest

from cml_py.errors import CmlError
from cml_py.limits import Limits
from cml_py.metrics.parse import flatten, parse_cell, parse_file, parse_table


def parse(text: str, path: str) -> dict:
    return parse_file(text.encode(), path)


def test_json_nested_dicts_become_dotted_names() -> None:
    assert parse('{"eval": {"acc": 0.9, "loss": {"ce": 0.3}}, "n": 5}', "m.json") == {
        "eval.acc": 0.9,
        "eval.loss.ce": 0.3,
        "n": 5,
    }


def test_lists_are_indexed_never_dropped() -> None:
    assert parse('{"f1": [0.5, 0.7], "deep": [{"a": 1}, [2, 3]]}', "m.json") == {
        "f1.0": 0.5,
        "f1.1": 0.7,
        "deep.0.a": 1,
        "deep.1.0": 2,
        "deep.1.1": 3,
    }


def test_non_numeric_values_are_kept_as_they_are() -> None:
    values = parse('{"ok": true, "model": "rf", "none": null}', "m.json")
    assert values == {"ok": True, "model": "rf", "none": None}
    assert values["ok"] is True


def test_json_nan_and_infinity_survive() -> None:
    values = parse('{"a": NaN, "b": Infinity, "c": -Infinity}', "m.json")
    assert math.isnan(values["a"])
    assert values["b"] == math.inf and values["c"] == -math.inf


def test_yaml_with_special_floats_and_exponent_without_dot() -> None:
    values = parse("a: .nan\nb: -.inf\nc: 1e-3\nd: 2\nwhen: 2024-01-02\n", "m.yaml")
    assert math.isnan(values["a"]) and values["b"] == -math.inf
    assert values["c"] == 0.001 and isinstance(values["c"], float)
    assert values["d"] == 2 and values["when"] == "2024-01-02"


def test_dvclive_metrics_and_params_files_work_as_is() -> None:
    dvclive = '{"train": {"loss": 0.21, "acc": 0.93}, "step": 9, "eval": {"loss": 0.3}}'
    assert parse(dvclive, "dvclive/metrics.json") == {
        "train.loss": 0.21,
        "train.acc": 0.93,
        "step": 9,
        "eval.loss": 0.3,
    }
    params = "train:\n  lr: 0.001\n  epochs: 10\n  layers: [64, 32]\nmodel: resnet\n"
    assert parse(params, "params.yaml") == {
        "train.lr": 0.001,
        "train.epochs": 10,
        "train.layers.0": 64,
        "train.layers.1": 32,
        "model": "resnet",
    }


def test_toml() -> None:
    assert parse('acc = 0.9\n[eval]\nloss = nan\nname = "x"\n', "m.toml")["acc"] == 0.9
    assert math.isnan(parse("[eval]\nloss = nan\n", "m.toml")["eval.loss"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acc,loss\n0.9,0.1\n", {"acc": 0.9, "loss": 0.1}),
        ("name,value\nacc,0.9\nloss,0.1\n", {"acc": 0.9, "loss": 0.1}),
        ("metric,value\nacc,0.9\n", {"acc": 0.9}),
        ("key,value\nacc,0.9\n", {"acc": 0.9}),
        ("Param , Value\nsolver,adam\n", {"solver": "adam"}),
        ("model,solver\nrf,0.5\n", {"model": "rf", "solver": 0.5}),
        ("a,b,c\n1,true,text\n", {"a": 1, "b": True, "c": "text"}),
        ("a,b\nnan,inf\n", {"a": math.nan, "b": math.inf}),
        ("\ufeffacc,loss\n0.9,0.1\n", {"acc": 0.9, "loss": 0.1}),
        ("acc,loss\n\n0.9,0.1\n\n", {"acc": 0.9, "loss": 0.1}),
        ("", {}),
    ],
)
def test_csv_wide_and_long(text: str, expected: dict) -> None:
    got = parse(text, "metrics.csv")
    assert list(got) == list(expected)
    for key, value in expected.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(got[key])
        else:
            assert got[key] == value and type(got[key]) is type(value)


def test_tsv_uses_tabs() -> None:
    assert parse("acc\tloss\n0.9\t0.1\n", "m.tsv") == {"acc": 0.9, "loss": 0.1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n3,4\n", "expected a header row and one row of values"),
        ("acc,0.9\nloss,0.1\nf1,0.5\n", "make the first line `name,value`"),
        (
            "acc,0.9\nloss,0.1\n",
            "ambiguous; for one name and value per row, make the first line `name,value`",
        ),
        ("model,rf\nsolver,adam\n", "two columns and two rows without a `name,value` header"),
        ("a,b,c\n1,2\n", "the header has 3 columns but the values row has 2"),
        ("a,a\n1,2\n", "the name 'a' appears twice"),
        ("name,value\nacc,1\nacc,2\n", "row 3: the name 'acc' appears twice"),
        ("a,,c\n1,2,3\n", "column 2 has an empty name"),
    ],
)
def test_csv_errors_name_the_file_and_problem(text: str, message: str) -> None:
    with pytest.raises(CmlError) as exc:
        parse(text, "out/metrics.csv")
    assert str(exc.value).startswith("out/metrics.csv")
    assert message in str(exc.value)


def test_parse_cell_types() -> None:
    assert parse_cell(" 12 ") == 12 and isinstance(parse_cell("12"), int)
    assert parse_cell("1.5e-3") == 0.0015
    assert parse_cell("TRUE") is True
    assert parse_cell("") is None
    assert parse_cell("v1.2") == "v1.2"
    assert parse_cell("-Infinity") == -math.inf


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("m.json", b'{"a": 1,,}', "m.json:1:9: invalid JSON"),
        ("m.json", b"[1, 2]", "expected a mapping of names to values at the top level, got list"),
        ("m.json", b'"text"', "got str"),
        ("m.yaml", b"a: [1, 2\n", "m.yaml:2:1: invalid YAML"),
        ("m.yaml", b"a: 1\na: 2\n", "duplicate key 'a'"),
        ("m.toml", b"a = \n", "m.toml: invalid TOML"),
        ("m.txt", b"a 1", "unsupported file type '.txt'"),
        ("metrics", b"a 1", "unsupported file type '(none)'"),
        ("m.json", b'{"a": 1}\xff', "expected UTF-8 text"),
        ("m.json", b'{"a.b": 1, "a": {"b": 2}}', "the name 'a.b' appears twice"),
    ],
)
def test_malformed_files_raise_one_line_errors(name: str, data: bytes, message: str) -> None:
    with pytest.raises(CmlError) as exc:
        parse_file(data, name)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_empty_files_hold_no_metrics() -> None:
    assert parse("", "m.json") == {}
    assert parse("   \n", "m.yaml") == {}
    assert parse("# only a comment\n", "m.yaml") == {}


def test_deeply_nested_input_does_not_recurse() -> None:
    tree: dict = {}
    node = tree
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    node["v"] = 1
    (name,) = flatten(tree, "deep.json", Limits(depth=10_000))
    assert name.count(".") == 5000
    with pytest.raises(CmlError, match=r"deep\.json: nested more than 100 levels deep"):
        flatten(tree, "deep.json")


def test_parse_table_rejects_ragged_long_rows() -> None:
    with pytest.raises(CmlError, match="the header has 2 columns but the values row has 3"):
        parse_table("a,1\nb,2,3\n", "x.csv", delimiter=",")


def test_json_lone_surrogates_are_refused_and_pairs_kept() -> None:
    """`\\ud800` alone decodes to a string no UTF-8 writer takes (printing it crashes)."""
    with pytest.raises(CmlError, match=r"m\.json: the name 'a\.\\udfff' is not valid Unicode"):
        parse('{"a": {"\\udfff": 1}}', "m.json")
    with pytest.raises(CmlError, match=r"the value of 'a\.1' is not valid Unicode.*\(\\udc80\)"):
        parse('{"a": [1, "x\\udc80"]}', "m.json")
    assert parse('{"\\ud83d\\ude00": "\\uD83D\\uDE00", "b": "\\\\ud800"}', "m.json") == {
        "\U0001f600": "\U0001f600",
        "b": "\\ud800",  # an escaped backslash: text, not a surrogate
    }


def test_yaml_lone_surrogates_are_refused_without_libyaml_too() -> None:
    """libyaml's scanner refuses `"\\ud800"`; PyYAML's own (an install without libyaml)
    decodes it, so load_yaml checks what it built."""
    script = (
        "import yaml; del yaml.CSafeLoader\n"
        "from cml_py.errors import CmlError\n"
        "from cml_py.metrics.parse import parse_file\n"
        "assert parse_file(b'e: \"\\\\U0001F600\"', 'p.yaml') == {'e': '\\U0001f600'}\n"
        "try:\n"
        "    parse_file(b'a: [\"\\\\U0000DC80\"]', 'p.yaml')\n"
        "except CmlError as exc:\n"
        "    print(exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert proc.stdout.startswith("p.yaml: the value of 'a.0' is not valid Unicode"), proc.stdout
