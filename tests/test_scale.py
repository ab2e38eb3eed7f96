"""The fast paths taken at scale give the same answers as the plain ones (timings live
in benchmarks/, never here)."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cml_py.config import GateRule
from cml_py.gate import evaluate_gate
from cml_py.metrics.diff import diff_sets, natural_key
from cml_py.model import BaseRef, Comparison, GateResult, MetricFile, MetricSet, Report, Verdict
from cml_py.report import render, render_chunks
from cml_py.report import tables as tb
from cml_py.report import view as v
from cml_py.report.json_out import iter_json
from tests.conftest import Repo


def big_report(n: int, *, worse_every: int = 7, same: int = 0) -> Report:
    """n metrics: every `worse_every`-th worse, the last `same` unchanged, the rest better."""
    base = {f"group{i // 100}.m{i}": 0.5 for i in range(n)}
    head = {
        name: 0.5 if i >= n - same else (0.4 if i % worse_every == 0 else 0.6)
        for i, name in enumerate(base)
    }
    rows = diff_sets(
        MetricSet((MetricFile("m.json", base),)), MetricSet((MetricFile("m.json", head),))
    )
    comparison = Comparison(rows, (), BaseRef("main", "a" * 40, "merge-base"), "b" * 40)
    return Report("default", comparison, GateResult())


def test_natural_order() -> None:
    names = ["m10", "m2", "M1", "m02", "m", "m1a", "a.b", "a-b", "x9", "x10.y", "é1", "e1"]
    ordered = sorted(names, key=natural_key)
    assert ordered.index("m2") < ordered.index("m10")
    assert ordered.index("m") < ordered.index("M1") < ordered.index("m2")
    assert sorted(reversed(names), key=natural_key) == ordered  # total: no ties left to luck


def test_packed_text_tables_equal_kept_ones(monkeypatch) -> None:
    report = big_report(300)
    kept = render(report, "text")
    monkeypatch.setattr(tb, "_COMPACT_ABOVE", 10)
    monkeypatch.setattr(tb, "_CHUNK", 7)
    assert render(report, "text") == kept
    assert "".join(render_chunks(report, "text")) == kept


def test_markdown_folds_the_best_news_first(monkeypatch) -> None:
    report = big_report(1503, worse_every=3, same=3)  # 500 worse, 1000 better, 3 same
    md = render(report, "md")
    changed = md.split("#### Metrics", 1)[1].split("\n\n")[1].split("\n")
    assert len(changed) == 2 + v.MD_ROWS
    assert sum("worse" in line for line in changed) == 500  # every worse row is shown
    assert "… and 500 more rows (500 better) not shown here; every row is in report.json" in md
    assert "… and 503 more rows not shown here" in md  # the collapsed all-metrics table
    names = [line.split(" | ")[0].lstrip("| ") for line in changed[2:]]
    assert names == sorted(names, key=natural_key)  # still in file order


def test_the_gate_table_folds_failures_first() -> None:
    report = big_report(1200, worse_every=2)
    rules = (GateRule(pattern="*", max_drop=0.05),)
    gate = evaluate_gate(rules, report.comparison.metrics)
    from cml_py.report.markdown import MARKS

    table = v.gate_table(
        Report(report.id, report.comparison, gate), lambda s: s, MARKS, show_file=False, limit=100
    )
    assert len(table.rows) == 100 and table.omitted == 1100
    assert all(row[0] == "❌" for row in table.rows)
    assert table.omitted_detail == "500 failed, 600 passed"


def test_json_in_pieces_is_the_whole_report() -> None:
    report = big_report(4500)
    pieces = list(iter_json(report, include_unchanged=True))
    assert len(pieces) > 3
    data = json.loads("".join(pieces))
    assert len(data["metrics"]) == 4500
    assert data == json.loads(render(report, "json"))


names = st.text(alphabet="ab.:*?[]x0", min_size=1, max_size=6)


@given(
    rows=st.lists(st.tuples(st.sampled_from(["m.json", "e/m.json"]), names), max_size=20),
    patterns=st.lists(names, min_size=1, max_size=4),
)
def test_gate_matching_equals_fnmatch(rows, patterns) -> None:
    """Literal patterns by lookup, globs compiled once: the same rows, in the same order,
    as fnmatch on the name or on `file:name`."""
    values = {}
    for path, name in rows:
        values.setdefault(path, {})[name] = 1.0
    diff = diff_sets(None, MetricSet(tuple(MetricFile(p, vals) for p, vals in values.items())))
    rules = [GateRule(pattern=p, min=0.0) for p in dict.fromkeys(patterns)]
    checks = evaluate_gate(rules, diff).checks
    for rule in rules:
        expected = [
            (r.path, r.name)
            for r in diff
            if fnmatchcase(r.name, rule.pattern) or fnmatchcase(f"{r.path}:{r.name}", rule.pattern)
        ]
        got = [(c.path, c.metric) for c in checks if c.pattern == rule.pattern and c.metric]
        assert got == expected


@pytest.mark.parametrize("many", [False, True])
def test_reading_many_files_from_git_by_tree_listing(tmp_path, monkeypatch, many) -> None:
    from cml_py.git import Git

    repo = Repo(tmp_path / "r")
    for i in range(12):
        repo.write(f"d/m{i}.json", f'{{"i": {i}}}')
    repo.write("top.json", "{}")
    repo.write("d/sub/x.json", "[]")
    sha = repo.commit()
    git = Git(repo.path)
    if many:
        monkeypatch.setattr(Git, "_LIST_ABOVE", 2)
    paths = ["top.json", "d/m3.json", "d/sub/x.json", "d/nope.json", "d", "nope/x.json"]
    got = git.read_files(sha, paths)
    assert got == {
        "top.json": b"{}",
        "d/m3.json": b'{"i": 3}',
        "d/sub/x.json": b"[]",
        "d/nope.json": None,
        "d": None,
        "nope/x.json": None,
    }
    assert git.existing(sha, paths) == {"top.json", "d/m3.json", "d/sub/x.json"}


def test_unchanged_rows_keep_their_verdict_at_scale() -> None:
    report = big_report(50)
    assert {r.verdict for r in report.comparison.metrics} == {Verdict.BETTER, Verdict.WORSE}


@given(st.lists(st.text(alphabet="aB.0129é_", max_size=10), max_size=30))
def test_natural_sorted_equals_sorting_by_natural_key(names) -> None:
    from cml_py.metrics.diff import natural_sorted

    assert natural_sorted(names) == sorted(names, key=natural_key)
