"""What a hostile pull request (or a careless main) can put in front of the report
renderers: names and values the PR chose, templates main chose."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cml_py.config import GateRule
from cml_py.gate import evaluate_gate
from cml_py.metrics.diff import diff_sets
from cml_py.model import BaseRef, Comparison, MetricFile, MetricSet, Report
from cml_py.report import render

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
