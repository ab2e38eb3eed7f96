"""A gate check's numbers agree with its verdict in every format.

The docs say a value equal to its limit passes. A failed check whose value, change and
limit all print alike ("≥ 0.9 … 0.9") tells the reviewer it sits on the limit, and so
should have passed: whatever the rule compares is shown with enough digits to differ
from the limit whenever it does.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from cml_py.model import GateCheck, Status
from cml_py.report.format import fmt_distinct, fmt_pair
from cml_py.report.view import gate_numbers
from tests.conftest import Repo
from tests.helpers import run_cli

RULES = """\
metrics: [m.json]
gate:
  acc: {max_drop: 0.01}
  f1: {min: 0.9}
  auc: {min: 0.90004}
  recall: {max_drop_pct: 10}
  latency: {max: 20}
"""
MAIN = {"acc": 0.9, "f1": 0.95, "auc": 0.95, "recall": 1.0, "latency": 12.0}
PR = {"acc": 0.889996, "f1": 0.89996, "auc": 0.9, "recall": 0.8996, "latency": 20.0004}


def each_just_past_its_limit(repo: Repo) -> None:
    """main with RULES and MAIN's numbers; a PR whose every value is just past its rule."""
    repo.write("m.json", MAIN)
    repo.write("cml.yaml", RULES)
    repo.commit("main")
    repo.branch("feature")
    repo.write("m.json", PR)
    repo.commit("each just past its limit")


def test_every_failed_check_shows_numbers_beyond_its_limit(in_repo: Repo, capsys) -> None:
    each_just_past_its_limit(in_repo)

    gate = run_cli(capsys, "gate")
    assert gate.code == 1
    rows = {line.split()[1]: line.split()[2:] for line in gate.out.splitlines() if "FAIL" in line}
    # rule, limit, main, this PR, change: what the rule compares differs from the limit
    assert rows == {
        "acc": ["worse", "by", "≤", "0.01", "0.9", "0.889996", "-0.010004"],
        "f1": ["≥", "0.9", "0.95", "0.89996", "-0.05"],
        "auc": ["≥", "0.90004", "0.95", "0.9", "-0.05"],
        "recall": ["worse", "by", "≤", "10%", "1", "0.8996", "-0.1004", "(-10.04%)"],
        "latency": ["≤", "20", "12", "20.0004", "+8"],
    }

    md = run_cli(capsys, "report", "-o", "-").out
    assert "| ❌ | acc | worse by ≤ 0.01 | 0.9000 | 0.889996 | -0.010004 |  |" in md
    assert "| ❌ | f1 | ≥ 0.9 | 0.9500 | 0.89996 | -0.05 |  |" in md
    assert "| ❌ | auc | ≥ 0.90004 | 0.9500 | 0.9000 | -0.05 |  |" in md

    junit = ET.fromstring(run_cli(capsys, "report", "--format", "junit", "-o", "-").out)
    details = {
        case.get("name"): case.find("failure").get("message")  # type: ignore[union-attr]
        for case in junit.iter("testcase")
    }
    assert details["m.json:f1 ≥ 0.9"] == "value 0.89996, main 0.95, change -0.05, limit ≥ 0.9"
    assert details["m.json:recall worse by ≤ 10%"] == (
        "value 0.8996, main 1, change -0.1004 (-10.04%), limit worse by ≤ 10%"
    )


def test_a_check_on_its_limit_still_shows_them_equal() -> None:
    check = GateCheck("f1", "min", Status.PASS, "m.json", "f1", 0.9, 0.95, -0.05, 0.9)
    numbers = gate_numbers(check)
    assert (numbers.value, numbers.rule) == ("0.9", "≥ 0.9")


def test_missing_values_and_no_change_say_nothing_rather_than_null_or_zero() -> None:
    check = GateCheck("new", "max_drop", Status.WARN, "m.json", "new", 3.5, None, None, 0.1)
    numbers = gate_numbers(check)
    assert (numbers.base, numbers.value, numbers.change) == (None, "3.5", "")


def test_digits_grow_to_the_shortest_exact_form_and_no_further() -> None:
    assert fmt_pair(0.3, 0.1 + 0.2) == ("0.3", "0.30000000000000004")
    assert fmt_distinct((0.95, 0.89996, 0.9)) == ["0.95", "0.89996", "0.9"]
    assert fmt_distinct((0.010004, 0.01), sig=(3, 4)) == ["0.010004", "0.01"]
    assert fmt_distinct((0.0268, 5.0), sig=(3, 4)) == ["0.0268", "5"]
    for a, b in [(0.1, 0.1 + 1e-16), (1e-300, 1.0000000000000002e-300), (2.0**60, 2.0**60 + 2**8)]:
        shown = fmt_pair(a, b)
        assert shown[0] != shown[1] and float(shown[0]) == a and float(shown[1]) == b


def test_json_keeps_the_exact_numbers(in_repo: Repo, capsys) -> None:
    each_just_past_its_limit(in_repo)
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    checks = {c["metric"]: c for c in data["gate"]}
    assert checks["f1"]["value"] == 0.89996 and checks["auc"]["limit"] == 0.90004
    assert re.fullmatch(r"-0\.0500\d*", repr(checks["f1"]["change"]))


def test_negative_limits_keep_their_one_sign() -> None:
    checks = [
        GateCheck("t", "min", Status.PASS, "m.json", "t", -0.4, -0.6, 0.2, -0.5),
        GateCheck("t", "max_drop", Status.FAIL, "m.json", "t", 0.5, 0.5, 0.0001, -0.01),
        GateCheck("t", "max_drop_pct", Status.FAIL, "m.json", "t", 1.001, 1.0, 0.001, -1.0),
    ]
    assert [gate_numbers(c).rule for c in checks] == [
        "≥ -0.5",
        "worse by ≤ -0.01",
        "worse by ≤ -1%",
    ]
