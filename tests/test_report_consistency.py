"""Each number and word of a report agrees with the ones beside it, and with the other
formats of the same report."""

from __future__ import annotations

import json

from cml_py.config import GateRule
from cml_py.gate import evaluate_gate
from cml_py.metrics.diff import diff_sets
from cml_py.model import BaseRef, Comparison, MetricFile, MetricSet, Report
from cml_py.report import render
from cml_py.report.tables import md_table
from cml_py.report.view import Table

BASE = BaseRef("main", "1" * 40, "merge-base of HEAD and origin/main")


def report_of(
    main: dict, pr: dict, rules: list[GateRule] = (), *, main_path: str = "m.json"
) -> Report:
    base = MetricSet((MetricFile(main_path, main),))
    head = MetricSet((MetricFile("m.json", pr),))
    comparison = Comparison(diff_sets(base, head), (), BASE, "2" * 40)
    return Report("default", comparison, evaluate_gate(list(rules), comparison.metrics))


def test_a_gate_that_passes_with_a_warning_never_reads_as_a_failure() -> None:
    """ "0 of 1 check passed" under a green tick: the counts say what failed instead."""
    report = report_of(
        {"acc": 0.9}, {"acc": float("nan")}, [GateRule("acc", min=0.5, on_nonfinite="warn")]
    )
    assert render(report, "md").splitlines()[1] == (
        "### ✅ cml-py: gate passed: 0 of 1 check failed, 1 warning"
    )
    clean = report_of({"acc": 0.9}, {"acc": 0.95}, [GateRule("acc", min=0.5)])
    assert "gate passed: 1 of 1 check passed" in render(clean, "md")


def test_a_string_that_reads_as_a_number_is_shown_as_text() -> None:
    """A PR that writes "0.9" where main had 0.9: the row says changed, and must show
    why rather than `0.9 → 0.9`."""
    report = report_of(
        {"acc": 0.9, "opt": "adam", "flag": True}, {"acc": "0.9", "opt": "sgd", "flag": "true"}
    )
    md = render(report, "md")
    assert '| acc | 0.9 | "0.9" |' in md
    assert '| flag | true | "true" |' in md
    assert "| opt | adam | sgd |" in md  # plain text stays plain
    text = render(report, "text")
    assert '"0.9"' in text and "adam" in text and '"adam"' not in text
    assert json.loads(render(report, "json"))["metrics"][0]["head"] == "0.9"


def test_minus_zero_beside_zero_is_not_a_change() -> None:
    report = report_of({"bias": 0.0}, {"bias": -0.0})
    report = Report(report.id, report.comparison, report.gate, show_all=True)
    rows = [line for line in render(report, "text").splitlines() if " bias " in line]
    assert rows and "-0" not in rows[0] and "unchanged" in rows[0]


def test_data_measures_are_counted_beside_the_metrics() -> None:
    """The markdown shows the data stage's rows in a section of its own; its counts
    line names both, so that together they are the counts the text and JSON give."""
    base = MetricSet(
        (
            MetricFile("m.json", {"acc": 0.9}),
            MetricFile("data:train", {"data.train.rows": 100, "data.train.age.psi": 0.0}),
        )
    )
    head = MetricSet(
        (
            MetricFile("m.json", {"acc": 0.95}),
            MetricFile("data:train", {"data.train.rows": 90, "data.train.age.psi": 0.4}),
        )
    )
    comparison = Comparison(diff_sets(base, head), (), BASE, "2" * 40)
    report = Report("default", comparison, evaluate_gate([], comparison.metrics))
    md = render(report, "md")
    assert "· metrics: 1 better · data measures: 2 worse" in md
    assert json.loads(render(report, "json"))["counts"]["worse"] == 2
    assert "Metrics (2 worse, 1 better)" in render(report, "text")


def test_the_fold_note_says_where_every_row_is() -> None:
    table = Table(("a",), "l", (("x",),), omitted=2)
    assert md_table(table).endswith(
        "_… and 2 more rows not shown here; every row is in report.json (`cml-py run`) and "
        "in `cml-py report --format json --all`._"
    )


def test_an_unbounded_relative_drop_names_main_as_the_table_does() -> None:
    report = report_of({"acc": 0.0}, {"acc": -0.5}, [GateRule("acc", max_drop_pct=10)])
    (check,) = report.gate.checks
    assert check.note == "main's value is 0: a relative drop is unbounded"


def test_main_and_this_pr_shown_beside_a_change_never_contradict_it() -> None:
    """`100 | 100.1 | +0.02` reads as a contradiction (100.04 → 100.06): rows whose
    shown values stray from their change by more than a quarter of it get the change's
    decimals; ordinary rows keep four significant digits. Both the column-at-a-time
    path (a block of ordinary rows) and the row-by-row one (an int among them)."""
    main = {"a": 100.04, "b": 0.99996, "c": 0.91234, "d": 0.91234}
    pr = {"a": 100.06, "b": 1.00004, "c": 0.91357, "d": 0.91236}
    for extra in ({}, {"n": 1}):
        report = report_of({**main, **extra}, {**pr, **{k: 2 for k in extra}})
        md = render(report, "md")
        assert "| a | 100.04 | 100.06 | ▲ +0.02 (+0.020%) |" in md, md
        assert "| b | 0.99996 | 1.00004 | ▲ +8e-05 (+0.008%) |" in md, md
        assert "| c | 0.9123 | 0.9136 | ▲ +0.00123 (+0.135%) |" in md, md  # agrees as is
        assert "| d | 0.91234 | 0.91236 | ▲ +2e-05 (+0.00219%) |" in md, md
        text = render(report, "text")
        assert "100.04" in text and "1.00004" in text and "0.91236" in text


def test_a_report_of_uncommitted_changes_says_so_in_its_footer() -> None:
    """Before committing, HEAD is main's commit: `main 1111111 → this PR 1111111` read
    as if nothing had changed, beside a table of changes."""
    base = MetricSet((MetricFile("m.json", {"acc": 0.9}),))
    head = MetricSet((MetricFile("m.json", {"acc": 0.95}),))
    for head_sha, footer in (
        ("1" * 40, "`main` `1111111` → this PR `1111111` + working tree · report id"),
        ("2" * 40, "`main` `1111111` → this PR `2222222` · report id"),
    ):
        comparison = Comparison(diff_sets(base, head), (), BASE, head_sha)
        md = render(Report("default", comparison, evaluate_gate([], comparison.metrics)), "md")
        assert footer in md, md.splitlines()[-1]
