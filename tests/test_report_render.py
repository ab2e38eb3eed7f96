from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cml_py.errors import CmlError
from cml_py.report import render
from cml_py.report.markdown import marker
from cml_py.report.template_source import from_working_tree
from tests.golden import assert_golden
from tests.sample_reports import clean_report, mixed_report


def test_markdown_golden_mixed() -> None:
    assert_golden("report_mixed.md", render(mixed_report(), "md"))


def test_markdown_golden_all_rows() -> None:
    assert_golden("report_all.md", render(mixed_report(show_all=True), "md"))


def test_markdown_golden_nothing_changed() -> None:
    assert_golden("report_clean.md", render(clean_report(), "md"))


def test_text_golden() -> None:
    assert_golden("report_mixed.txt", render(mixed_report(), "text"))


def test_markdown_starts_with_the_marker_for_its_id() -> None:
    text = render(mixed_report("nightly-gpu"), "md")
    assert text.splitlines()[0] == "<!-- cml-py report id=nightly-gpu -->" == marker("nightly-gpu")


def test_markdown_verdict_header_and_sections() -> None:
    text = render(mixed_report(), "md")
    assert "### ❌ cml-py: gate failed: 1 of 5 checks failed, 2 warnings" in text
    assert "| 🔴 worse |" in text and "| 🟢 better |" in text
    assert "<details><summary>All metrics (13)</summary>" in text
    assert "`1111111` → this PR `2222222`" in text


def test_markdown_escapes_untrusted_names() -> None:
    text = render(mixed_report(), "md")
    assert "@\u200boctocat\\|&lt;b&gt;\\[x\\](y)" in text
    assert "<b>" not in text and "@octocat" not in text


def test_real_change_never_prints_as_equal() -> None:
    text = render(mixed_report(), "md")
    assert "| tiny | 1.234e-05 | 1.24e-05 | ▲ +5.4e-08 (+0.437%) | 🟢 better |" in text


def test_unchanged_rows_hidden_unless_all() -> None:
    hidden = render(mixed_report(), "md")
    shown = render(mixed_report(show_all=True), "md")
    assert "| same |" not in hidden.split("<details>")[0]
    assert "| same |" in shown.split("<details>")[0]
    assert "2 unchanged metrics not shown." in hidden


def test_json_is_valid_and_flags_non_finite_values() -> None:
    data = json.loads(render(mixed_report(), "json"))
    assert data["verdict"] == "fail" and data["id"] == "default"
    unstable = next(m for m in data["metrics"] if m["name"] == "unstable")
    assert unstable["head"] is None and unstable["head_nonfinite"] == "NaN"
    assert unstable["base"] == 0.7
    assert data["base"]["sha"].startswith("1111111")
    statuses = [(c["metric"], c["rule"], c["status"]) for c in data["gate"]]
    assert ("eval.acc", "max_drop", "fail") in statuses
    assert data["counts"]["worse"] == 1


def test_json_never_contains_bare_nan() -> None:
    text = render(mixed_report(show_all=True), "json")
    assert "NaN," not in text and "Infinity" not in text


def test_junit_has_one_testcase_per_check() -> None:
    report = mixed_report()
    root = ET.fromstring(render(report, "junit"))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == len(report.gate.checks) == 5
    assert suite.get("failures") == "1" and suite.get("tests") == "5"
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["metrics.json:eval.acc worse by ≤ 0.01"]
    warned = [c for c in cases if c.find("system-out") is not None]
    assert len(warned) == 2


def test_junit_with_no_rules_is_an_empty_valid_suite() -> None:
    root = ET.fromstring(render(clean_report(), "junit"))
    assert root.get("tests") == "0"


def test_custom_template_gets_escaped_variables(tmp_path: Path) -> None:
    (tmp_path / "mine.md.j2").write_text("Verdict: {{ headline }}\n{{ md_table(metrics) }}\n")
    text = render(mixed_report(), "md", template=from_working_tree(tmp_path, "mine.md.j2"))
    assert text.startswith("<!-- cml-py report id=default -->\nVerdict: gate failed")
    assert "&lt;b&gt;" in text


def test_custom_template_errors_are_bad_input(tmp_path: Path) -> None:
    cases = {
        "broken.md.j2": ("{% if %}\n", "broken.md.j2:1: template syntax error"),
        "undefined.md.j2": ("{{ nope }}\n", "'nope' is undefined"),
        "include.md.j2": ("{% include 'gone.j2' %}\n", "included template 'gone.j2' not found"),
        "divide.md.j2": ("ok\n{{ 1 // 0 }}\n", "divide.md.j2:2: template error: ZeroDivisionError"),
        "loop.md.j2": ("{% include 'loop.md.j2' %}\n", "recurses without end"),
        "escape.md.j2": ("{% include '../outside.j2' %}\n", "the path leaves the repository"),
        "huge.md.j2": (
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            "the template produced more than",
        ),
        "python.md.j2": (
            "{{ lipsum.__globals__.os.popen('id').read() }}\n",
            "unsafe",
        ),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(CmlError, match=re.escape(message)):
            render(mixed_report(), "md", template=from_working_tree(tmp_path, name))
    with pytest.raises(CmlError, match="template file not found"):
        render(mixed_report(), "md", template=from_working_tree(tmp_path, "missing.j2"))


def test_markdown_golden_with_statistics_and_charts() -> None:
    from tests.sample_reports import stats_report

    text = render(stats_report(), "md")
    assert_golden("report_stats.md", text)
    assert (
        "| accuracy | 0.9301 | 0.9371 | ▲ +0.007 (+0.75%) [-0.00668, +0.0211] | ⚪ better · within noise |"
        in text
    )
    assert (
        "| log\\_loss | 0.1505 | 0.1856 | ▲ +0.0351 (+23.30%) [+0.01, +0.0602] | 🔴 worse · significant |"
        in text
    )
    assert (
        '<img src="charts/roc%20pr.png" alt="ROC and precision-recall curves" width="800">' in text
    )
    assert "Charts not drawn" not in text  # nothing to draw is not news in a comment


def test_many_changed_params_fold_away() -> None:
    from dataclasses import replace

    from cml_py.metrics.diff import diff_sets
    from cml_py.model import MetricFile, MetricSet

    report = mixed_report()
    base = MetricSet((MetricFile("params.json", {f"p{i}": i for i in range(15)}),))
    head = MetricSet((MetricFile("params.json", {f"p{i}": i + (i < 12) for i in range(15)}),))
    many = replace(
        report, comparison=replace(report.comparison, params=diff_sets(base, head, judge=False))
    )
    text = render(many, "md")
    summary = "<details><summary>Params (12 changed, 3 unchanged)</summary>"
    assert summary in text and "#### Params" not in text
    # the count is of params, not of the table's rows, whatever the table shows
    assert summary in render(replace(many, show_all=True), "md")
    assert "#### Params\n\n| Param |" in render(report, "md")  # a few stay in plain sight
