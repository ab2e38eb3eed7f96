"""Property-based tests: whatever a pull request puts in its files, the loaders answer
with values or one bad-input error, and every renderer stays well-formed and inert.

Examples are bounded and derandomized so the suite stays fast and repeatable; raise
HYPOTHESIS_PROFILE=thorough for a long local run.
"""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter

import cmarkgfm
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cml_py.config import GateRule
from cml_py.errors import CmlError
from cml_py.gate import evaluate_gate
from cml_py.metrics.diff import diff_sets
from cml_py.metrics.parse import parse_file
from cml_py.model import (
    BaseRef,
    Comparison,
    HugeInt,
    MetricFile,
    MetricSet,
    Report,
    Verdict,
    is_number,
)
from cml_py.report import render

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# --- values a metrics file can hold -------------------------------------------------

names = st.text(min_size=1, max_size=24)
hostile = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "a|b",
        "`code`",
        "[x](https://evil.example)",
        "@octocat",
        "#12",
        "<!-- cml-py report id=default -->",
        "<details><summary>x",
        "</details>",
        "\u202eevil",
        "line\nbreak",
        "www.evil.example",
        "https://evil.example/x",
        "&lt;b&gt;",
        "\\|",
        "**bold**",
        "\x00\x1b[31m",
    ]
)
any_name = st.one_of(names, hostile, st.builds(lambda a, b: a + b, hostile, names))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    hostile,
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(any_name, inner, max_size=5)
    ),
    max_leaves=30,
)


def loads_or_refuses(data: bytes, path: str) -> dict | None:
    """parse_file either returns flat scalar values or raises one-line CmlError naming
    the file; any other exception fails the property."""
    try:
        values = parse_file(data, path)
    except CmlError as exc:
        message = str(exc)
        assert message.startswith(path), message
        assert "\n" not in message
        return None
    for name, value in values.items():
        assert isinstance(name, str)
        assert value is None or isinstance(value, (bool, int, float, str))
        if isinstance(value, int) and not isinstance(value, bool):
            assert -(2**63) <= value < 2**63
    return values


@given(st.dictionaries(any_name, documents, max_size=6))
def test_any_json_document_loads_or_is_refused(doc: dict) -> None:
    text = json.dumps(doc)  # NaN/Infinity as Python writes them, huge integers too
    loads_or_refuses(text.encode(), "m.json")


@given(st.dictionaries(any_name, documents, max_size=6))
def test_any_yaml_document_loads_or_is_refused(doc: dict) -> None:
    text = yaml.safe_dump(doc, allow_unicode=True)
    loads_or_refuses(text.encode(), "m.yaml")


@pytest.mark.parametrize("path", ["m.json", "m.yaml", "m.toml", "m.csv", "m.tsv"])
@given(data=st.binary(max_size=300))
def test_any_bytes_load_or_are_refused(path: str, data: bytes) -> None:
    loads_or_refuses(data, path)


toml_tokens = st.sampled_from(
    [
        "a",
        "b.c",
        "=",
        " ",
        "\n",
        "[x]",
        "[[y]]",
        "{",
        "}",
        "[",
        "]",
        ",",
        '"s"',
        "'t'",
        "1",
        "-2",
        "1e400",
        "nan",
        "inf",
        "true",
        "9" * 30,
        "1_0",
        "0x1f",
        "#c",
        "2024-01-02",
    ]
)


@given(st.lists(toml_tokens, max_size=40))
def test_any_toml_like_text_loads_or_is_refused(tokens: list[str]) -> None:
    loads_or_refuses("".join(tokens).encode(), "m.toml")


csv_cells = st.one_of(
    names, st.sampled_from(["", '"', '""', ",", "\n", "1", "1.5", "nan", "true", "9" * 30])
)


@pytest.mark.parametrize("delimiter", [",", "\t"])
@given(rows=st.lists(st.lists(csv_cells, min_size=1, max_size=4), min_size=1, max_size=4))
def test_any_csv_loads_or_is_refused(delimiter: str, rows: list[list[str]]) -> None:
    text = "\n".join(delimiter.join(row) for row in rows)
    loads_or_refuses(text.encode(), "m.csv" if delimiter == "," else "m.tsv")


# --- renderers ------------------------------------------------------------------------

report_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.just(HugeInt("1234", 4999)),
    st.booleans(),
    st.none(),
    st.text(max_size=20),
    hostile,
)
sides = st.dictionaries(any_name, report_values, max_size=8)


def build_report(base: dict, head: dict, file_name: str, show_all: bool) -> Report:
    rows = diff_sets(
        MetricSet((MetricFile(file_name, base),)), MetricSet((MetricFile(file_name, head),))
    )
    names_ = [r.name for r in rows][:3]
    rules = [GateRule(pattern=n, min=0.5, max_drop=0.1) for n in names_] + [
        GateRule(pattern="*", max=1e9)
    ]
    gate = evaluate_gate(rules, rows)
    comparison = Comparison(
        metrics=rows,
        params=diff_sets(MetricSet((MetricFile("params.yaml", base),)), MetricSet()),
        base=BaseRef("main", "a" * 40, "merge-base"),
        head_sha="b" * 40,
        notes=tuple(f"{n} could not be read" for n in names_),
    )
    return Report("default", comparison, gate, show_all=show_all)


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
_PIPE = re.compile(r"(?<!\\)\|")


def tags(html: str) -> Counter:
    return Counter(f"{m.group(1)}{m.group(2).lower()}" for m in _TAG.finditer(html))


def placeholder_report(report: Report) -> Report:
    """The same report shape with every untrusted string replaced by a plain word."""
    from dataclasses import replace

    safe = {}

    def word(text: str | None) -> str | None:
        if text is None:
            return None
        return safe.setdefault(text, f"w{len(safe)}")

    def value(v):
        return (
            word(v) if isinstance(v, str) else (1.0 if is_number(v) and not math.isfinite(v) else v)
        )

    rows = tuple(
        r._replace(name=word(r.name), path=word(r.path), base=value(r.base), head=value(r.head))
        for r in report.comparison.metrics
    )
    params = tuple(
        r._replace(name=word(r.name), path=word(r.path), base=value(r.base), head=value(r.head))
        for r in report.comparison.params
    )
    checks = tuple(
        replace(
            c,
            pattern=word(c.pattern),
            metric=word(c.metric),
            path=word(c.path),
            value=value(c.value),
            base=value(c.base),
            note=word(c.note) if c.note else c.note,
        )
        for c in report.gate.checks
    )
    comparison = replace(
        report.comparison,
        metrics=rows,
        params=params,
        notes=tuple(word(n) for n in report.comparison.notes),
    )
    return replace(report, comparison=comparison, gate=replace(report.gate, checks=checks))


@given(base=sides, head=sides, file_name=any_name, show_all=st.booleans())
def test_markdown_is_inert_and_well_formed(base, head, file_name, show_all) -> None:
    report = build_report(base, head, file_name, show_all)
    md = render(report, "md")
    assert md.count("<!-- cml-py report id=") == 1 and md.startswith("<!-- cml-py report id=")
    assert md.count("<details>") == md.count("</details>")
    # Every table row has as many unescaped cell separators as its header.
    lines = md.split("\n")
    for i, line in enumerate(lines):
        if (
            line.startswith("|")
            and i + 1 < len(lines)
            and re.match(r"^\|(:?-+:?\|)+$", lines[i + 1])
        ):
            width = len(_PIPE.findall(line))
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                assert len(_PIPE.findall(row)) == width, (line, row)
    # Untrusted strings create no HTML: the rendered comment has exactly the tags of the
    # same report with every name and value replaced by a plain word.
    html = cmarkgfm.github_flavored_markdown_to_html(md)
    safe_html = cmarkgfm.github_flavored_markdown_to_html(render(placeholder_report(report), "md"))
    assert tags(html) == tags(safe_html)
    assert "\u202e" not in md


@given(base=sides, head=sides, file_name=any_name, show_all=st.booleans())
def test_json_is_strict_and_junit_is_xml(base, head, file_name, show_all) -> None:
    report = build_report(base, head, file_name, show_all)

    def no_constants(name: str):
        raise AssertionError(f"non-standard JSON constant {name}")

    data = json.loads(render(report, "json"), parse_constant=no_constants)
    assert len(data["metrics"]) == sum(
        1 for r in report.comparison.metrics if show_all or r.verdict is not Verdict.UNCHANGED
    )
    ET.fromstring(render(report, "junit"))


@given(base=sides, head=sides, file_name=any_name)
def test_text_has_no_control_characters_and_one_line_per_row(base, head, file_name) -> None:
    report = build_report(base, head, file_name, True)
    text = render(report, "text")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    assert text.count("\n") >= len(report.comparison.metrics) + 2


# --- end to end: the CLI never crashes on a PR's file ---------------------------------


@pytest.fixture(scope="module")
def cli_repo(tmp_path_factory):
    from tests.conftest import Repo

    repo = Repo(tmp_path_factory.mktemp("props") / "repo")
    repo.write("metrics.json", {"acc": 0.9})
    repo.write("cml.yaml", "metrics: [metrics.json]\ngate:\n  acc: {min: 0.5}\n")
    repo.commit("base")
    return repo


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(any_name, documents, max_size=4), fmt=st.sampled_from(["json", "yaml"]))
def test_the_cli_never_exits_4_on_any_metrics_file(cli_repo, capsys, monkeypatch, doc, fmt) -> None:
    from tests.helpers import run_cli

    monkeypatch.chdir(cli_repo.path)
    text = json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc, allow_unicode=True)
    (cli_repo.path / f"metrics.{fmt}").write_text(text)
    for args in (["diff", "--all"], ["gate"], ["report", "-o", "-", "--format", "json"]):
        result = run_cli(capsys, *args, "--metrics", f"metrics.{fmt}")
        assert result.code in (0, 1, 2), (args, result.err)
        assert "Traceback" not in result.err and "internal error" not in result.err
        if result.code == 2:
            assert len([line for line in result.err.splitlines() if "error" in line]) == 1


# --- the column-at-a-time cells are the row-by-row cells ----------------------------

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6),
    st.sampled_from([0.5, 0.5000001, 1e-7, 123456.0, 0.1, 0.30000000000000004, -0.0]),
)


plain_floats = st.floats(min_value=0.1, max_value=0.99)  # mostly the column path


@given(
    pairs=st.one_of(
        st.lists(st.tuples(plain_floats, plain_floats), min_size=1, max_size=12),
        st.lists(st.tuples(floats, floats), min_size=1, max_size=30),
    ),
    name=st.one_of(names, hostile),
    show_file=st.booleans(),
)
def test_column_cells_are_the_row_cells(pairs, name, show_file) -> None:
    from cml_py.report import markdown, text
    from cml_py.report.escape import md_cell
    from cml_py.report.view import _column_cells, _row_cells

    base = {f"{name}{i}": b for i, (b, _) in enumerate(pairs)}
    head = {f"{name}{i}": h for i, (_, h) in enumerate(pairs)}
    rows = list(
        diff_sets(
            MetricSet((MetricFile("m.json", base),)), MetricSet((MetricFile("m.json", head),))
        )
    )
    for esc, marks in ((text._plain, text.MARKS), (md_cell, markdown.MARKS)):
        fast = _column_cells(rows, esc, marks, show_file=show_file)
        if fast is not None:
            assert fast == list(_row_cells(rows, esc, marks, show_file=show_file))


def test_column_cells_take_the_common_block() -> None:
    """The fast path must actually be taken for ordinary changed floats (else the
    property above would pass without checking anything)."""
    from cml_py.report import text
    from cml_py.report.view import _column_cells

    base = {f"m{i}": 0.5 + i / 1000 for i in range(50)}
    head = {f"m{i}": 0.51 + i / 997 for i in range(50)}
    rows = list(
        diff_sets(
            MetricSet((MetricFile("m.json", base),)), MetricSet((MetricFile("m.json", head),))
        )
    )
    cells = _column_cells(rows, text._plain, text.MARKS, show_file=False)
    assert cells is not None and cells[0] == ("m0", "0.5", "0.51", "▲ +0.01 (+2%)", "better")
    mixed = [rows[0], rows[1]._replace(base=1)]  # an int: the row-by-row path
    assert _column_cells(mixed, text._plain, text.MARKS, show_file=False) is None


@settings(max_examples=300, deadline=None)
@given(
    base=st.floats(min_value=1e-4, max_value=1e14) | st.floats(min_value=-1e14, max_value=-1e-4),
    rel=st.floats(min_value=0.005, max_value=100) | st.floats(min_value=-100, max_value=-0.005),
)
def test_a_change_of_half_a_percent_or_more_never_needs_wider_values(base, rel) -> None:
    """The column-at-a-time cells check only changes under 0.5 % (view._may_disagree):
    above, four significant digits of main and this PR always agree with the change."""
    from cml_py.report.view import agreeing

    head = base + rel * abs(base)
    delta = head - base
    b, h = format(base, ".4g"), format(head, ".4g")
    if delta and abs(delta / base) >= 0.005 and "e" not in b + h and b != h:
        assert agreeing(base, head, b, h, delta) == (b, h)
