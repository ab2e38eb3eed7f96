"""The CLI driven in real temporary git repositories, main branch and feature branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Repo, git
from tests.helpers import run_cli, run_process

CONFIG = """\
metrics: [metrics.json]
params: [params.yaml]
gate:
  eval.acc: {min: 0.8, max_drop: 0.01}
  "*loss": {max_drop_pct: 10}
"""


def feature_repo(
    repo: Repo, head_metrics: dict, *, base_metrics: dict | None = None, keep_config: bool = False
) -> Repo:
    if not keep_config:
        repo.write("cml.yaml", CONFIG)
    repo.write("metrics.json", base_metrics or {"eval": {"acc": 0.90, "loss": 0.30}, "n": 1})
    repo.write("params.yaml", "lr: 0.1\ndepth: 4\n")
    repo.commit("baseline")
    repo.branch("feature")
    repo.write("metrics.json", head_metrics)
    repo.write("params.yaml", "lr: 0.05\ndepth: 4\n")
    return repo


def test_diff_shows_changes_against_main(in_repo: Repo, capsys) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    result = run_cli(capsys, "diff")
    assert result.code == 0, result.err
    assert "eval.acc" in result.out and "▲ +0.05 (+5.56%)" in result.out and "better" in result.out
    assert "eval.loss" in result.out and "▼ -0.05 (-16.7%)" in result.out
    assert "| n |" not in result.out and "\n  n " not in result.out
    assert "lr" in result.out and "changed" in result.out
    assert "1 unchanged not shown" in result.out
    assert "merge-base of HEAD and main" in result.out


def test_diff_all_json_and_md(in_repo: Repo, capsys) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    data = json.loads(run_cli(capsys, "diff", "--json", "--all").out)
    assert [m["name"] for m in data["metrics"]] == ["eval.acc", "eval.loss", "n"]
    assert data["metrics"][2]["verdict"] == "unchanged"
    assert "gate" not in data
    md = run_cli(capsys, "diff", "--md").out
    assert md.startswith("#### Metrics\n\n| Metric | main | this PR | Change |  |")
    assert "| eval.acc | 0.9 | 0.95 | ▲ +0.05 (+5.56%) | 🟢 better |" in md
    both = run_cli(capsys, "diff", "--md", "--json")
    assert both.code == 2 and "cannot be used together" in both.err


def test_gate_passes_and_fails_with_exit_codes(in_repo: Repo, capsys) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    ok = run_cli(capsys, "gate")
    assert ok.code == 0, ok.err
    assert "gate passed: 3 of 3 checks passed" in ok.out
    in_repo.write("metrics.json", {"eval": {"acc": 0.85, "loss": 0.40}, "n": 1})
    bad = run_cli(capsys, "gate")
    assert bad.code == 1
    assert "gate failed: 2 of 3 checks failed" in bad.out
    assert "FAIL  eval.acc   worse by ≤ 0.01" in bad.out


def test_report_writes_markdown_atomically_and_other_formats(in_repo: Repo, capsys) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.85, "loss": 0.25}, "n": 1})
    result = run_cli(capsys, "report", "-o", "out/report.md")
    assert result.code == 0, result.err
    assert "wrote out/report.md (gate failed)" in result.err
    text = (in_repo.path / "out" / "report.md").read_text()
    assert text.startswith("<!-- cml-py report id=default -->\n### ❌ cml-py: gate failed")
    written = sorted(p.name for p in (in_repo.path / "out").iterdir())
    assert written == ["report.html", "report.md"]  # and no temporary file left behind
    head = in_repo.git("rev-parse", "--short=7", "HEAD")
    assert f"this PR `{head}`" in text
    stdout = run_cli(capsys, "report", "--format", "json", "-o", "-")
    assert json.loads(stdout.out)["verdict"] == "fail"
    run_cli(capsys, "report", "--format", "junit")
    assert (in_repo.path / "report.xml").read_text().startswith("<?xml")
    custom = run_cli(capsys, "report", "--id", "gpu-nightly", "-o", "-")
    assert custom.out.startswith("<!-- cml-py report id=gpu-nightly -->")
    bad_id = run_cli(capsys, "report", "--id", "no spaces", "-o", "-")
    assert bad_id.code == 2 and "--id: expected letters" in bad_id.err


def test_report_id_and_template_from_config(in_repo: Repo, capsys) -> None:
    in_repo.write("cml.yaml", CONFIG + "report: {id: cfg-id, template: t.md.j2}\n")
    in_repo.write("t.md.j2", "custom {{ report_id }}\n")
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1}, keep_config=True)
    assert run_cli(capsys, "report", "-o", "-").out == (
        "<!-- cml-py report id=cfg-id -->\ncustom cfg-id\n"
    )


def test_the_template_is_mains_not_the_prs(in_repo: Repo, capsys) -> None:
    in_repo.write("cml.yaml", CONFIG + "report: {template: t.md.j2}\n")
    in_repo.write("t.md.j2", "main's template\n")
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1}, keep_config=True)
    in_repo.write("t.md.j2", "{{ lipsum.__globals__ }}\n")
    assert run_cli(capsys, "report", "-o", "-").out.endswith("\nmain's template\n")


def test_branch_only_on_origin_is_found(tmp_path: Path, capsys, monkeypatch) -> None:
    upstream = Repo(tmp_path / "upstream")
    feature_repo(upstream, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    upstream.commit("feature work")
    git(tmp_path, "clone", "-q", "--branch", "feature", str(upstream.path), "clone")
    clone = tmp_path / "clone"
    git(clone, "branch", "-q", "-D", "main") if "main" in git(clone, "branch") else None
    monkeypatch.chdir(clone)
    result = run_cli(capsys, "diff")
    assert result.code == 0, result.err
    assert "merge-base of HEAD and origin/main" in result.out


def test_merge_base_not_tip_of_main(in_repo: Repo, capsys) -> None:
    """Main moved on after the branch forked: the PR is judged against the fork point."""
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    in_repo.commit("feature")
    in_repo.git("checkout", "-q", "main")
    in_repo.write("metrics.json", {"eval": {"acc": 0.99, "loss": 0.01}, "n": 1})
    in_repo.commit("main improved a lot")
    in_repo.git("checkout", "-q", "feature")
    data = json.loads(run_cli(capsys, "diff", "--json").out)
    acc = next(m for m in data["metrics"] if m["name"] == "eval.acc")
    assert acc["base"] == 0.90 and acc["verdict"] == "better"


@pytest.mark.parametrize(
    ("env", "expected_how"),
    [
        ({"GITHUB_BASE_REF": "develop"}, "merge-base of HEAD and develop"),
        ({"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "develop"}, "merge-base of HEAD and develop"),
    ],
)
def test_ci_variables_choose_the_base(
    in_repo: Repo, capsys, monkeypatch, env, expected_how
) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    in_repo.git("branch", "develop", "main")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    data = json.loads(run_cli(capsys, "diff", "--json").out)
    assert data["base"]["how"] == expected_how and data["base"]["name"] == "develop"


def test_gitlab_diff_base_sha_wins_over_target_branch(in_repo: Repo, capsys, monkeypatch) -> None:
    """For main's numbers; the rules are the target branch's, at its tip."""
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    in_repo.commit("feature")
    base_sha = in_repo.git("rev-parse", "main")
    in_repo.git("checkout", "-q", "-b", "develop", "main")
    in_repo.write("metrics.json", {"eval": {"acc": 0.5, "loss": 0.9}, "n": 1})
    tip = in_repo.commit("develop moved on")
    in_repo.git("checkout", "-q", "feature")
    monkeypatch.setenv("CI_MERGE_REQUEST_DIFF_BASE_SHA", base_sha)
    monkeypatch.setenv("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "develop")
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    assert data["base"]["sha"] == base_sha
    assert data["base"]["how"] == f"commit {base_sha} (from CI_MERGE_REQUEST_DIFF_BASE_SHA)"
    acc = next(m for m in data["metrics"] if m["name"] == "eval.acc")
    assert acc["base"] == 0.90
    assert f"develop's cml.yaml at {tip[:7]} (tip of develop)" in " ".join(data["notes"])


def test_base_flag_beats_ci_and_accepts_commits(in_repo: Repo, capsys, monkeypatch) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    in_repo.commit("feature 1")
    in_repo.write("metrics.json", {"eval": {"acc": 0.97, "loss": 0.2}, "n": 1})
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    data = json.loads(run_cli(capsys, "diff", "--json", "--base", "HEAD").out)
    acc = next(m for m in data["metrics"] if m["name"] == "eval.acc")
    assert acc["base"] == 0.95 and data["base"]["how"] == "commit HEAD (from --base)"


def test_master_is_the_fallback(tmp_path: Path, capsys, monkeypatch) -> None:
    repo = Repo(tmp_path / "r")
    repo.git("branch", "-m", "master")
    feature_repo(repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    monkeypatch.chdir(repo.path)
    data = json.loads(run_cli(capsys, "diff", "--json").out)
    assert data["base"]["name"] == "master"


def test_missing_base_branch_says_what_to_fetch(in_repo: Repo, capsys) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    result = run_cli(capsys, "diff", "--base", "release")
    assert result.code == 2
    assert "base 'release' (from --base) not found in this clone" in result.err
    assert "fetch-depth: 0" in result.err and "git fetch origin release" in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


@pytest.mark.parametrize("source", ["--base", "GITHUB_BASE_REF", "cml.yaml base"])
def test_an_exclusion_is_no_base(in_repo: Repo, capsys, monkeypatch, source: str) -> None:
    """`^main` passes `git rev-parse --verify` as `^<sha>`; taken for a sha, every file
    of main read as missing and main's cml.yaml as absent (the PR's own rules applied)."""
    in_repo.write("cml.yaml", CONFIG + ("base: '^main'\n" if source == "cml.yaml base" else ""))
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1}, keep_config=True)
    args = ("--base", "^main") if source == "--base" else ()
    if source == "GITHUB_BASE_REF":
        monkeypatch.setenv("GITHUB_BASE_REF", "^main")
    result = run_cli(capsys, "diff", *args)
    assert result.code == 2, result.out
    assert f"base '^main' (from {source}) not found in this clone" in result.err
    assert result.err.count("\n") == 1


@pytest.mark.parametrize(
    ("base", "command"),
    [
        ("--output=/tmp/x", None),  # an option of git fetch
        ("main:metrics.json", None),  # a refspec: would create a branch named metrics.json
        ("+main", None),  # a forced refspec
        ("main~1", None),  # a revision, not a branch
        ("feature x", None),
        ("it's", "git fetch origin 'it'\"'\"'s'"),  # a branch name git allows, quoted
        ("release/1.2", "git fetch origin release/1.2"),
    ],
)
def test_the_fetch_hint_suggests_only_a_branch_name(in_repo: Repo, capsys, base, command) -> None:
    """The base comes from a flag, the CI or cml.yaml, and the hint is meant to be
    pasted into a shell."""
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    result = run_cli(capsys, "diff", "--base", base)
    assert result.code == 2 and result.err.count("\n") == 1
    assert f"base {base!r} (from --base) not found in this clone" in result.err
    if command is None:
        assert "git fetch origin" not in result.err
        assert "elsewhere fetch the branch it is on from your remote" in result.err
    else:
        assert f"elsewhere run `{command}`" in result.err


def test_no_main_or_master(tmp_path: Path, capsys, monkeypatch) -> None:
    repo = Repo(tmp_path / "r")
    repo.git("branch", "-m", "trunk")
    repo.write("metrics.json", {"a": 1})
    repo.commit()
    monkeypatch.chdir(repo.path)
    result = run_cli(capsys, "diff")
    assert result.code == 2
    assert "neither 'main' nor 'master' exists" in result.err and "--base REV" in result.err


def _upstream_with_history(tmp_path: Path) -> Repo:
    upstream = Repo(tmp_path / "upstream")
    feature_repo(upstream, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    upstream.commit("feature 1")
    upstream.write("notes.txt", "more")
    upstream.commit("feature 2")
    return upstream


def test_shallow_single_branch_clone_names_the_fix(tmp_path: Path, capsys, monkeypatch) -> None:
    upstream = _upstream_with_history(tmp_path)
    git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "feature",
        f"file://{upstream.path}",
        "shallow",
    )
    monkeypatch.chdir(tmp_path / "shallow")
    result = run_cli(capsys, "diff")
    assert result.code == 2
    assert "neither 'main' nor 'master'" in result.err and "fetch-depth: 0" in result.err


def test_shallow_clone_without_merge_base_names_the_fix(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    upstream = _upstream_with_history(tmp_path)
    git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        "--no-single-branch",
        "--branch",
        "feature",
        f"file://{upstream.path}",
        "shallow",
    )
    monkeypatch.chdir(tmp_path / "shallow")
    result = run_cli(capsys, "diff")
    assert result.code == 2
    assert "cannot find where HEAD forked from origin/main: this clone is shallow" in result.err
    assert "fetch-depth: 0" in result.err and "git fetch --unshallow origin" in result.err
    git(tmp_path / "shallow", "fetch", "-q", "--unshallow", "origin")
    assert run_cli(capsys, "diff").code == 0


def test_shallow_clone_missing_base_sha(tmp_path: Path, capsys, monkeypatch) -> None:
    upstream = _upstream_with_history(tmp_path)
    base_sha = upstream.git("rev-parse", "main")
    git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "feature",
        f"file://{upstream.path}",
        "shallow",
    )
    monkeypatch.chdir(tmp_path / "shallow")
    monkeypatch.setenv("CI_MERGE_REQUEST_DIFF_BASE_SHA", base_sha)
    result = run_cli(capsys, "diff")
    assert result.code == 2
    assert (
        f"base commit {base_sha} (from CI_MERGE_REQUEST_DIFF_BASE_SHA) is not in this clone"
        in result.err
    )
    assert "GIT_DEPTH: 0" in result.err


def test_file_absent_at_base_means_added(in_repo: Repo, capsys) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    in_repo.write("cml.yaml", CONFIG.replace("[metrics.json]", "[metrics.json, extra.csv]"))
    in_repo.write("extra.csv", "name,value\nlatency_ms,12.5\n")
    untrusted = json.loads(run_cli(capsys, "diff", "--json").out)
    assert not [m for m in untrusted["metrics"] if m["file"] == "extra.csv"]  # main's list
    data = json.loads(run_cli(capsys, "diff", "--json", "--trust-pr-config").out)
    extra = [m for m in data["metrics"] if m["file"] == "extra.csv"]
    assert extra == [
        {
            "file": "extra.csv",
            "name": "latency_ms",
            "verdict": "added",
            "direction": "lower",
            "head": 12.5,
            "change": None,
            "change_pct": None,
        }
    ]
    assert "extra.csv does not exist on main: all its values are new." in data["notes"]


def test_globs_match_at_head_and_base(in_repo: Repo, capsys) -> None:
    in_repo.write("cml.yaml", "metrics: ['eval/**/*.json']\n")
    in_repo.write("eval/a.json", {"acc": 0.5})
    in_repo.write("eval/old/b.json", {"acc": 0.5})
    in_repo.commit()
    in_repo.branch("feature")
    in_repo.git("rm", "-q", "eval/old/b.json")
    in_repo.write("eval/a.json", {"acc": 0.6})
    in_repo.write("eval/new/c.json", {"acc": 0.7})
    data = json.loads(run_cli(capsys, "diff", "--json").out)
    assert [(m["file"], m["verdict"]) for m in data["metrics"]] == [
        ("eval/a.json", "better"),
        ("eval/new/c.json", "added"),
        ("eval/old/b.json", "removed"),
    ]


def test_autodetect_dvclive_and_params(in_repo: Repo, capsys) -> None:
    in_repo.write("dvclive/metrics.json", {"train": {"loss": 0.5}, "step": 3})
    in_repo.write("params.yaml", "lr: 0.1\n")
    in_repo.commit()
    in_repo.branch("feature")
    in_repo.write("dvclive/metrics.json", {"train": {"loss": 0.4}, "step": 3})
    in_repo.write("params.yaml", "lr: 0.2\n")
    data = json.loads(run_cli(capsys, "diff", "--json").out)
    assert data["metrics"][0]["file"] == "dvclive/metrics.json"
    assert data["metrics"][0]["verdict"] == "better"
    assert data["params"][0]["name"] == "lr"


def test_flags_replace_configured_files(in_repo: Repo, capsys) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    in_repo.write("other.yaml", "score: 3\n")
    data = json.loads(
        run_cli(capsys, "diff", "--json", "--metrics", "other.yaml", "--params", "params.yaml").out
    )
    assert [m["file"] for m in data["metrics"]] == ["other.yaml"]


def test_config_in_a_subdirectory(in_repo: Repo, capsys, monkeypatch) -> None:
    in_repo.write("models/a/cml.yaml", "metrics: [out/m.json]\n")
    in_repo.write("models/a/out/m.json", {"acc": 0.5})
    in_repo.commit()
    in_repo.branch("feature")
    in_repo.write("models/a/out/m.json", {"acc": 0.4})
    monkeypatch.chdir(in_repo.path / "models" / "a")
    data = json.loads(run_cli(capsys, "diff", "--json").out)
    assert data["metrics"][0]["file"] == "models/a/out/m.json"
    assert data["metrics"][0]["base"] == 0.5


def test_broken_file_at_base_is_a_note_not_a_failure(in_repo: Repo, capsys) -> None:
    in_repo.write("metrics.json", "{broken")
    in_repo.commit()
    in_repo.branch("feature")
    in_repo.write("metrics.json", {"acc": 1})
    result = run_cli(capsys, "diff", "--json")
    assert result.code == 0
    notes = json.loads(result.out)["notes"]
    assert notes and "main's metrics.json could not be read" in notes[0]


def test_on_main_itself_everything_is_unchanged(in_repo: Repo, capsys) -> None:
    in_repo.write("metrics.json", {"acc": 1})
    in_repo.commit()
    result = run_cli(capsys, "diff")
    assert result.code == 0 and "no metric changed" in result.out


def test_python_dash_m_and_no_traceback(in_repo: Repo) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    ok = run_process(in_repo.path, "gate")
    assert ok.code == 0 and "gate passed" in ok.out
    in_repo.write("metrics.json", "{oops")
    bad = run_process(in_repo.path, "gate")
    assert bad.code == 2
    assert (
        bad.err
        == "cml-py: error: metrics.json:1:2: invalid JSON: Expecting property name enclosed in double quotes\n"
    )


def test_report_writes_an_html_preview_beside_the_markdown(in_repo: Repo, capsys) -> None:
    feature_repo(in_repo, {"eval": {"acc": 0.95, "loss": 0.25}, "n": 1})
    result = run_cli(capsys, "report", "-o", "out/report.md")
    assert result.code == 0 and "out/report.html" in result.err
    html = (in_repo.path / "out" / "report.html").read_text()
    assert "<table>" in html and "eval.acc" in html and "&lt;!-- cml-py" not in html
    assert not (in_repo.path / "report.html").exists()
    assert run_cli(capsys, "report", "--format", "json", "-o", "out/r.json").code == 0
    assert not (in_repo.path / "out" / "r.html").exists()
