"""What a hostile pull request (or a careless main) can put in front of the report
renderers: names and values the PR chose, templates main chose."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cml_py.config import GateRule
from cml_py.errors import CmlError
from cml_py.gate import evaluate_gate
from cml_py.metrics.diff import diff_sets
from cml_py.model import BaseRef, Comparison, MetricFile, MetricSet, Report
from cml_py.report import render
from cml_py.report.template_source import from_working_tree

BASE = BaseRef("main", "1" * 40, "merge-base of HEAD and origin/main")


def report_of(main: dict, pr: dict, rules: list[GateRule] = ()) -> Report:
    base = MetricSet((MetricFile("m.json", main),))
    head = MetricSet((MetricFile("m.json", pr),))
    comparison = Comparison(diff_sets(base, head), (), BASE, "2" * 40)
    return Report("default", comparison, evaluate_gate(list(rules), comparison.metrics))


def test_junit_is_xml_whatever_characters_a_metric_name_holds() -> None:
    """U+FFFE and U+FFFF are valid in JSON and in Python strings, not in XML 1.0: a PR
    naming a metric `acc\\uffff` made the gate's JUnit file unparseable."""
    name = "acc\ufffe\uffff\x01\x85\u2028]]>"
    report = report_of({name: 0.9}, {name: 0.5}, [GateRule("acc*", min=0.8)])
    root = ET.fromstring(render(report, "junit"))
    (case,) = root.iter("testcase")
    assert case.get("name") == "m.json:acc\x85\u2028]]> ≥ 0.8"
    assert case.find("failure") is not None


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RLIMIT_AS is Linux's")
def test_a_template_that_builds_gigabytes_fails_with_a_message(tmp_path: Path) -> None:
    """A bar per metric, `"#" * value`, is harmless until a PR's value is 1.5e9: the
    string was built whole (the output limit only sees what the template yields) and a
    runner's out-of-memory killer ended the job with no message. So does a string
    doubled in a loop, which needs no number from the PR."""
    cases = {
        "bars.md.j2": "{% for row in metrics.rows %}{{ '#' * (row[2] | int) }}{% endfor %}",
        "double.md.j2": (
            "{% set ns = namespace(s='x') %}"
            "{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}"
        ),
    }
    import resource

    report = report_of({"acc": 0.9}, {"acc": 1.5e9})
    before = resource.getrlimit(resource.RLIMIT_AS)
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(CmlError, match=re.escape(f"{name}: the template needs too much")):
            render(report, "md", template=from_working_tree(tmp_path, name))
        assert resource.getrlimit(resource.RLIMIT_AS) == before
    (tmp_path / "fine.md.j2").write_text("{{ '#' * 1000 }}")
    assert render(report, "md", template=from_working_tree(tmp_path, "fine.md.j2")).endswith(
        "#" * 1000
    )


def test_a_template_never_writes_a_second_report_marker(tmp_path: Path) -> None:
    """The marker is how the sticky comment is found: a template that writes it twice
    (or another report's) still gives a comment with one marker, its first line."""
    (tmp_path / "twice.md.j2").write_text(
        "{{ marker }}\nverdict\n{{ marker }}\n<!-- cml-py report id=other -->\n"
        "<!--cml-py report id=x-->end <!-- kept -->\n"
    )
    text = render(
        report_of({"acc": 0.9}, {"acc": 0.5}),
        "md",
        template=from_working_tree(tmp_path, "twice.md.j2"),
    )
    assert text == "<!-- cml-py report id=default -->\nverdict\n\n\nend <!-- kept -->\n"
