"""Matrix fan-in: three legs, one report, one comment, the gate across all legs."""

from __future__ import annotations

import json
import os

from tests.conftest import Repo
from tests.helpers import run_cli
from tests.publish_env import github_actions

INSTALLATION = "ghs_installation_token_0123456789"
LEGS = {"cpu": (0.91, 0.30), "gpu": (0.93, 0.28), "tpu": (0.80, 0.45)}


def run_legs(repo: Repo, capsys) -> None:
    repo.write(
        "cml.yaml",
        "metrics: [m.json]\ngate: {acc: {max_drop: 0.05}, '*loss': {max_drop_pct: 20}}\n",
    )
    repo.write("m.json", {"acc": 0.9, "val_loss": 0.3})
    repo.commit()
    repo.branch("feature")
    for leg, (acc, loss) in LEGS.items():
        repo.write("m.json", {"acc": acc, "val_loss": loss})
        result = run_cli(capsys, "run", "--no-publish", "--no-charts", "--out", f"legs/{leg}")
        assert result.code in (0, 1), result.err


def test_three_legs_merge_into_one_report(in_repo: Repo, capsys) -> None:
    run_legs(in_repo, capsys)
    data = json.loads(
        run_cli(
            capsys,
            "report",
            "--merge",
            "legs/cpu",
            "--merge",
            "legs/gpu",
            "--merge",
            "legs/tpu",
            "--format",
            "json",
            "-o",
            "-",
        ).out
    )
    assert [leg["name"] for leg in data["legs"]] == ["cpu", "gpu", "tpu"]
    assert [leg["verdict"] for leg in data["legs"]] == ["pass", "pass", "fail"]
    assert data["verdict"] == "fail"
    assert len(data["gate"]) == 6
    failed = [(c["file"], c["metric"]) for c in data["gate"] if c["status"] == "fail"]
    assert failed == [("tpu/m.json", "acc"), ("tpu/m.json", "val_loss")]
    accs = {m["file"]: m["head"] for m in data["metrics"] if m["name"] == "acc"}
    assert accs == {"cpu/m.json": 0.91, "gpu/m.json": 0.93, "tpu/m.json": 0.8}
    md = run_cli(
        capsys,
        "report",
        "--merge",
        "legs/cpu",
        "--merge",
        "legs/gpu",
        "--merge",
        "legs/tpu",
        "-o",
        "-",
    ).out
    assert "#### Matrix legs" in md
    assert "| tpu | ❌ | 0 passed, 2 failed, 0 warned | 0 | 2 |" in md
    assert "| gpu | ✅ | 2 passed, 0 failed, 0 warned | 2 | 0 |" in md


def test_run_merge_publishes_one_comment_and_fails_by_any_leg(
    in_repo: Repo, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    run_legs(in_repo, capsys)
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(
        capsys, "run", "--merge", "legs/cpu", "--merge", "legs/gpu", "--merge", "legs/tpu"
    )
    assert result.code == 1, result.err
    assert "leg tpu: fail" in result.err
    (comment,) = github_fake.comments_on(issue=7)
    assert "#### Matrix legs" in comment["body"] and "tpu/m.json" in comment["body"]
    (check,) = github_fake.check_runs
    assert check["conclusion"] == "failure"


def test_merge_errors(in_repo: Repo, capsys, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli(capsys, "report", "--merge", str(tmp_path / "empty"), "-o", "-")
    assert result.code == 2 and "no report.json in this leg's directory" in result.err
    result = run_cli(capsys, "report", "--merge", str(tmp_path / "missing"), "-o", "-")
    assert result.code == 2 and "leg directory not found" in result.err


def test_merge_takes_several_directories_after_one_flag(in_repo: Repo, capsys) -> None:
    run_legs(in_repo, capsys)
    repeated = run_cli(
        capsys, "report", "--format", "json", "-o", "-", *(f"--merge=legs/{leg}" for leg in LEGS)
    )
    one_flag = run_cli(
        capsys, "report", "--format", "json", "-o", "-", "--merge", *(f"legs/{leg}" for leg in LEGS)
    )
    assert one_flag.code == 0, one_flag.err
    assert json.loads(one_flag.out)["legs"] == json.loads(repeated.out)["legs"]
    assert len(json.loads(one_flag.out)["legs"]) == 3
    stray = run_cli(capsys, "report", "-o", "-", "legs/cpu")
    assert stray.code == 2 and "leg directories follow --merge" in stray.err


def leg_copy(repo: Repo, leg: str, name: str, change) -> str:
    """legs/<name>: a copy of leg `leg` whose report.json `change(data)` rewrote, as a
    leg's job running the pull request's code could."""
    data = json.loads((repo.path / "legs" / leg / "report.json").read_text())
    change(data)
    repo.write(f"legs/{name}/report.json", json.dumps(data))
    return f"legs/{name}"


def test_a_leg_whose_verdict_contradicts_its_checks_is_refused(in_repo: Repo, capsys) -> None:
    """A leg that says it passed beside its failed check, or failed with none, was not
    written by cml-py: the merged report would show ✅ beside ❌, or pass a failed leg."""
    run_legs(in_repo, capsys)
    passed = leg_copy(in_repo, "tpu", "tpu-passed", lambda d: d.update(verdict="pass"))
    result = run_cli(capsys, "report", "--merge", "legs/cpu", passed, "-o", "-")
    assert result.code == 2, result.err
    assert result.err.strip().splitlines()[-1:] == [
        f"cml-py: error: {passed}/report.json: verdict: expected 'fail' (2 of its gate "
        "checks failed), got 'pass'"
    ]
    failed = leg_copy(in_repo, "cpu", "cpu-failed", lambda d: d.update(verdict="fail"))
    result = run_cli(capsys, "report", "--merge", failed, "legs/gpu", "-o", "-")
    assert result.code == 2 and "expected 'pass' (none of its gate checks failed)" in result.err


def test_malformed_nonfinite_flags_are_bad_input(in_repo: Repo, capsys) -> None:
    run_legs(in_repo, capsys)
    for flag in ([1], {"a": 1}, 5):
        leg = leg_copy(
            in_repo, "cpu", "odd", lambda d, f=flag: d["metrics"][0].update(base_nonfinite=f)
        )
        result = run_cli(capsys, "report", "--merge", leg, "legs/gpu", "-o", "-")
        assert result.code == 2, result.err
        assert "metrics.0.base_nonfinite: expected NaN, inf or -inf" in result.err


def test_legs_at_different_commits_say_so(in_repo: Repo, capsys) -> None:
    """The footer shows one leg's commit: a leg that ran elsewhere must not go unseen."""
    run_legs(in_repo, capsys)
    other = leg_copy(in_repo, "gpu", "other", lambda d: d["head"].update(sha="0" * 40))
    result = run_cli(capsys, "report", "--merge", "legs/cpu", other, "--format", "json", "-o", "-")
    head = json.loads((in_repo.path / "legs/cpu/report.json").read_text())["head"]["sha"]
    assert (
        f"The legs ran at 2 different commits of this PR; the report shows {head[:12]} (leg cpu)."
        in json.loads(result.out)["notes"]
    )


def test_a_leg_report_that_is_a_link_pipe_or_device_is_refused(
    in_repo: Repo, capsys, tmp_path
) -> None:
    """An artifact can carry a symlink (GitLab's zip keeps them): to /dev/zero it read
    until memory ran out (exit 4), a pipe blocked the job, a link to another file was
    followed out of the leg's directory."""
    run_legs(in_repo, capsys)
    outside = tmp_path / "outside.json"
    outside.write_text((in_repo.path / "legs/cpu/report.json").read_text())
    targets = {"zero": "/dev/zero", "elsewhere": str(outside), "dangling": str(tmp_path / "no")}
    for name, target in targets.items():
        (in_repo.path / "legs" / name).mkdir()
        os.symlink(target, in_repo.path / "legs" / name / "report.json")
        result = run_cli(capsys, "report", "--merge", f"legs/{name}", "legs/gpu", "-o", "-")
        assert result.code == 2, (name, result.err)
        assert result.err.strip().splitlines()[-1:] == [
            f"cml-py: error: legs/{name}/report.json: expected report.json as a regular "
            "file in the leg's directory, got a symbolic link"
        ]
    (in_repo.path / "legs" / "pipe").mkdir()
    os.mkfifo(in_repo.path / "legs" / "pipe" / "report.json")
    result = run_cli(capsys, "report", "--merge", "legs/pipe", "legs/gpu", "-o", "-")
    assert result.code == 2 and "got a directory, pipe or device" in result.err


def test_the_legs_together_are_held_to_the_values_limit(in_repo: Repo, capsys, monkeypatch) -> None:
    """Each leg's report.json is bounded; their number is the workflow's glob, which a
    leg's artifact can add directories to."""
    run_legs(in_repo, capsys)
    monkeypatch.setenv("CML_PY_MAX_VALUES", "5")
    result = run_cli(capsys, "report", "--merge", "legs/cpu", "legs/gpu", "legs/tpu", "-o", "-")
    assert result.code == 2, result.err
    assert result.err.strip().splitlines()[-1] == (
        "cml-py: error: --merge: the legs up to tpu hold 6 rows, more than 5 values "
        "(limit 5; set CML_PY_MAX_VALUES to raise it)"
    )
    monkeypatch.setenv("CML_PY_MAX_VALUES", "6")
    assert run_cli(capsys, "report", "--merge", "legs/cpu", "legs/gpu", "-o", "-").code == 0
