"""`cml-py publish DIR`: the privileged half of the two-workflow setup, fed a PR job's
artifact — honest and tampered — with the real PyGithub client against the fake GitHub."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Repo
from tests.fakes.github import FakeGitHub
from tests.fakes.openapi import webhook_examples
from tests.helpers import run_cli
from tests.publish_env import HEAD_SHA, PNG, github_actions

INSTALLATION = "ghs_installation_token_0123456789"
MAIN_CONFIG = "metrics: [metrics.json]\ngate:\n  acc: {min: 0.9}\n  loss: {max_drop: 0.05}\n"


def workflow_run_payload(
    *, head_sha: str = HEAD_SHA, numbers: tuple[int, ...] = (), owner: str = "octo"
) -> dict:
    """A real `workflow_run` payload (npm @octokit/webhooks-examples), for a PR run from
    `owner`'s repository (octo/models itself, or a fork) and its branch `feature`."""
    payload = copy.deepcopy(webhook_examples("workflow_run")[0])
    run = payload["workflow_run"]
    run["event"] = "pull_request"
    run["head_sha"] = head_sha
    run["head_branch"] = "feature"
    run["head_repository"]["owner"]["login"] = owner
    run["head_repository"]["full_name"] = f"{owner}/models"
    run["pull_requests"] = [
        {
            "url": f"https://api.github.com/repos/octo/models/pulls/{n}",
            "id": n,
            "number": n,
            "head": {"ref": "feature", "sha": head_sha, "repo": {"id": 1, "url": "x", "name": "m"}},
            "base": {"ref": "main", "sha": "b" * 40, "repo": {"id": 1, "url": "x", "name": "m"}},
        }
        for n in numbers
    ]
    return payload


def pr_artifact(tmp_path: Path, capsys, *, acc: float, loss: float = 0.3) -> Path:
    """What the unprivileged PR job uploads: `cml-py run --no-publish` on the PR."""
    pr = Repo(tmp_path / "pr-checkout")
    pr.write("cml.yaml", MAIN_CONFIG)
    pr.write("metrics.json", {"acc": 0.95, "loss": 0.3})
    pr.commit("main")
    pr.branch("feature")
    pr.write("metrics.json", {"acc": acc, "loss": loss})
    pr.commit("the PR")
    cwd = Path.cwd()
    os.chdir(pr.path)
    try:
        result = run_cli(capsys, "run", "--no-publish", "--out", "cml-py-report")
    finally:
        os.chdir(cwd)
    assert result.code in (0, 1), result.err
    artifact = tmp_path / "downloaded" / "cml-py-report"
    shutil.copytree(pr.path / "cml-py-report", artifact)
    return artifact


@pytest.fixture
def default_branch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """The publish job's checkout: the default branch only."""
    repo = Repo(tmp_path / "base-checkout")
    repo.write("cml.yaml", MAIN_CONFIG)
    repo.write("metrics.json", {"acc": 0.95, "loss": 0.3})
    repo.commit("main")
    monkeypatch.chdir(repo.path)
    return repo


def publish_env(monkeypatch, fake: FakeGitHub, tmp_path: Path, payload: dict[str, Any]) -> dict:
    return github_actions(
        monkeypatch, fake, tmp_path, token=INSTALLATION, event="workflow_run", payload=payload
    )


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_an_honest_artifact_is_published_on_its_pr(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    artifact = pr_artifact(tmp_path, capsys, acc=0.97)
    github_fake.add_pull(7, HEAD_SHA)
    files = publish_env(monkeypatch, github_fake, tmp_path, workflow_run_payload(numbers=(7,)))
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 0, result.err
    (comment,) = github_fake.comments_on(issue=7)
    assert comment["body"].startswith(
        "<!-- cml-py report id=default -->\n### ✅ cml-py: gate passed"
    )
    assert "| acc | 0.95 | 0.97 |" in comment["body"]
    assert "raw=true" in comment["body"]  # the metric-changes chart, from the artifact's PNG
    (check,) = github_fake.check_runs
    assert check["head_sha"] == HEAD_SHA and check["conclusion"] == "success"
    assert check["details_url"].endswith(f"#issuecomment-{comment['id']}")
    assert "gate passed" in files["summary"].read_text()


def test_a_fork_pr_is_found_from_the_head_commit(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    artifact = pr_artifact(tmp_path, capsys, acc=0.97)
    github_fake.add_pull(3, "e" * 40, branch="other")
    github_fake.add_pull(9, HEAD_SHA, owner="stranger")
    payload = workflow_run_payload(owner="stranger")  # no PRs listed: a fork's run
    publish_env(monkeypatch, github_fake, tmp_path, payload)
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 0, result.err
    assert len(github_fake.comments_on(issue=9)) == 1
    assert github_fake.comments_on(issue=3) == []


def test_a_fork_pr_of_another_prs_commit_never_comments_on_that_pr(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    """Anyone can open a PR whose head is another PR's commit (push that branch to a
    fork). Both PRs then have the run's head sha, and the lowest number won: the fork's
    run commented on someone else's PR #5 with the fork's artifact."""
    artifact = pr_artifact(tmp_path, capsys, acc=0.91)
    github_fake.add_pull(5, HEAD_SHA)  # octo:feature, someone else's PR
    github_fake.add_pull(9, HEAD_SHA, owner="stranger")  # stranger:feature, same commit
    publish_env(monkeypatch, github_fake, tmp_path, workflow_run_payload(owner="stranger"))
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 0, result.err
    assert github_fake.comments_on(issue=5) == []
    assert len(github_fake.comments_on(issue=9)) == 1


def test_a_fork_run_for_another_prs_commit_comments_nowhere(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    """The fork's own PR closed (or never opened against this repository): the only open
    PR with that head commit is someone else's, and it gets no comment."""
    artifact = pr_artifact(tmp_path, capsys, acc=0.91)
    github_fake.add_pull(5, HEAD_SHA)
    publish_env(monkeypatch, github_fake, tmp_path, workflow_run_payload(owner="stranger"))
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 0, result.err
    assert "no open pull request from stranger/models:feature" in result.err
    assert github_fake.comments_on(issue=5) == []


def test_a_report_claiming_passed_is_judged_again_with_mains_rules(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    artifact = pr_artifact(tmp_path, capsys, acc=0.5)  # fails main's `acc: {min: 0.9}`

    def forge(data: dict) -> None:
        data["verdict"] = "pass"
        data["gate"] = []
        for row in data["metrics"]:
            row["direction"] = "lower"  # "acc went down, and lower is better"
            row["verdict"] = "better"

    edit_json(artifact / "report.json", forge)
    (artifact / "report.md").write_text("<!-- cml-py report id=default -->\n### ✅ all good\n")
    github_fake.add_pull(7, HEAD_SHA)
    publish_env(monkeypatch, github_fake, tmp_path, workflow_run_payload(numbers=(7,)))
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 1, result.err
    assert "the artifact claimed pass" in result.err
    (comment,) = github_fake.comments_on(issue=7)
    assert "### ❌ cml-py: gate failed" in comment["body"] and "all good" not in comment["body"]
    assert "judged again with the default branch's rules it failed" in comment["body"]
    assert "🔴 worse" in comment["body"]  # acc is higher-is-better, whatever the artifact says
    assert github_fake.check_runs[0]["conclusion"] == "failure"


def test_a_report_for_a_stale_head_sets_the_check_but_keeps_the_newer_comment(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    artifact = pr_artifact(tmp_path, capsys, acc=0.97)
    github_fake.add_pull(7, "f" * 40)  # the PR was pushed to again
    newer = github_fake.add_comment(
        7, "<!-- cml-py report id=default -->\nnewer report", "github-actions[bot]"
    )
    publish_env(monkeypatch, github_fake, tmp_path, workflow_run_payload(numbers=(7,)))
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 0, result.err
    assert "PR #7 has a newer head commit" in result.err
    assert github_fake.comments[newer]["body"].endswith("newer report")
    assert len(github_fake.comments_on(issue=7)) == 1
    (check,) = github_fake.check_runs
    assert check["head_sha"] == HEAD_SHA


def test_the_pr_number_never_comes_from_the_artifact(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    artifact = pr_artifact(tmp_path, capsys, acc=0.97)
    edit_json(artifact / "report.json", lambda d: d.update(pr=3, head={"sha": "e" * 40}))
    github_fake.add_pull(7, HEAD_SHA)
    github_fake.add_pull(3, "e" * 40)
    publish_env(monkeypatch, github_fake, tmp_path, workflow_run_payload(numbers=(7,)))
    assert run_cli(capsys, "publish", str(artifact)).code == 0
    assert github_fake.comments_on(issue=3) == [] and len(github_fake.comments_on(issue=7)) == 1


def test_images_only_from_the_artifact_and_only_pngs(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    artifact = pr_artifact(tmp_path, capsys, acc=0.97)
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG.read_bytes()[:8] + b"runner secrets")
    (artifact / "charts" / "link.png").symlink_to(secret)
    (artifact / "charts" / "fake.png").write_text("GITHUB_TOKEN=ghs_x")
    (artifact / "charts" / "real.png").write_bytes(PNG.read_bytes())

    def point_elsewhere(data: dict) -> None:
        data["charts"] = [
            {"name": "a", "title": "escape", "path": "../../secret.png", "note": ""},
            {"name": "b", "title": "absolute", "path": str(secret), "note": ""},
            {"name": "c", "title": "symlink", "path": "charts/link.png", "note": ""},
            {"name": "d", "title": "not a png", "path": "charts/fake.png", "note": ""},
            {"name": "e", "title": "real", "path": "charts/real.png", "note": ""},
            {"name": "f", "title": "too long", "path": "charts/" + "a" * 300 + ".png", "note": ""},
        ]

    edit_json(artifact / "report.json", point_elsewhere)
    github_fake.add_pull(7, HEAD_SHA)
    publish_env(monkeypatch, github_fake, tmp_path, workflow_run_payload(numbers=(7,)))
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 0, result.err
    blobs = [o for o in github_fake.git_objects.values() if o["type"] == "blob"]
    assert len(blobs) == 1  # only charts/real.png crossed the wire
    (comment,) = github_fake.comments_on(issue=7)
    assert comment["body"].count("raw=true") == 1
    assert comment["body"].count("A chart of the artifact was not published") == 5
    assert "runner secrets" not in github_fake.captured_text()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda p: p.write_bytes(b"{" + b" " * (33 << 20) + b"}"),
            "over the 33,554,432-byte limit",
        ),
        (lambda p: p.write_text('{"metrics": [{"name": "acc", "head": NaN}]}'), "not valid JSON"),
        (lambda p: p.write_text("[1, 2]"), "expected a JSON object"),
        (lambda p: p.write_text('{"metrics": [{"file": 3, "name": "acc"}]}'), "metrics[0].file"),
        (lambda p: p.write_text('{"metrics": {"acc": 1}}'), "metrics: expected a list"),
        (
            lambda p: p.write_text('{"metrics": [{"file": "m", "name": "' + "x" * 5000 + '"}]}'),
            "longer than 2000",
        ),
        (lambda p: p.unlink(), "expected report.json as a regular file"),
        (
            lambda p: edit_json(p, lambda d: d["metrics"][0].update(name="acc\ud800")),
            "'metrics.0.name' is not valid Unicode",
        ),
        (lambda p: p.write_bytes(b'{"a": "\xed\xa0\x80"}'), "expected UTF-8 text"),
    ],
)
def test_a_malformed_artifact_is_refused_before_anything_is_posted(
    default_branch, github_fake, tmp_path, monkeypatch, capsys, tamper, message
) -> None:
    artifact = pr_artifact(tmp_path, capsys, acc=0.97)
    tamper(artifact / "report.json")
    github_fake.add_pull(7, HEAD_SHA)
    publish_env(monkeypatch, github_fake, tmp_path, workflow_run_payload(numbers=(7,)))
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 2, result.err
    assert message in result.err and "report.json" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert github_fake.comments == {} and github_fake.check_runs == []


def test_publish_outside_workflow_run_says_how_to_use_it(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    artifact = pr_artifact(tmp_path, capsys, acc=0.97)
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)  # a pull_request job
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 2
    assert "runs in a `workflow_run` workflow" in result.err


def test_the_token_never_appears_in_publish_output(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    artifact = pr_artifact(tmp_path, capsys, acc=0.5)
    edit_json(artifact / "report.json", lambda d: d["notes"].append(f"token: {INSTALLATION}"))
    github_fake.add_pull(7, HEAD_SHA)
    files = publish_env(monkeypatch, github_fake, tmp_path, workflow_run_payload(numbers=(7,)))
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 1
    seen = result.out + result.err + files["summary"].read_text() + files["output"].read_text()
    seen += json.dumps(github_fake.comments)
    assert INSTALLATION not in seen


@pytest.mark.parametrize("number", ["\u00b2", "7; rm -rf /", "9" * 30, "9" * 5000, "0"])
def test_a_pr_number_from_the_workflow_must_be_ascii_digits(number: str) -> None:
    from cml_py.errors import CmlError
    from cml_py.publish.artifact import target_from_event

    env = {"CML_PY_SHA": "a" * 40, "CML_PY_PR": number, "GITHUB_EVENT_NAME": "push"}
    with pytest.raises(CmlError, match="CML_PY_PR: expected a PR number"):
        target_from_event(env, publisher=None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda run: run.update(head_repository="stranger/models"),
            "workflow_run.head_repository: expected an object, got a string",
        ),
        (
            lambda run: run["head_repository"].update(owner="stranger"),
            "workflow_run.head_repository.owner: expected an object, got a string",
        ),
        (
            lambda run: run["head_repository"]["owner"].update(login=7),
            "workflow_run.head_repository.owner.login: expected a string, got a number",
        ),
        (lambda run: run.update(head_branch=["x"]), "workflow_run.head_branch: expected a string"),
        (
            lambda run: run.update(pull_requests={"number": 9}),
            "workflow_run.pull_requests: expected a list, got an object",
        ),
        (
            lambda run: run.update(pull_requests=["#9"]),
            "workflow_run.pull_requests[0]: expected an object, got a string",
        ),
        (
            lambda run: run.update(pull_requests=[{"number": 0}]),
            "workflow_run.pull_requests[0].number: expected a PR number from 1 to "
            "2,147,483,647, got 0",
        ),
        (
            lambda run: run.update(pull_requests=[{"number": 7}, {"number": "8"}]),
            "workflow_run.pull_requests[1].number: expected a PR number from 1 to "
            "2,147,483,647, got a string",
        ),
        (
            lambda run: run.update(pull_requests=[{"number": 2**31}]),
            "got 2147483648",
        ),
    ],
)
def test_an_odd_workflow_run_event_is_bad_input_naming_the_field(tmp_path, change, message) -> None:
    """Read before any API call: `head_repository` as a string crashed (exit 4), and a PR
    number 0 reached the API as a 404 (exit 3)."""
    from cml_py.errors import CmlError
    from cml_py.publish.artifact import target_from_event

    payload = workflow_run_payload()
    change(payload["workflow_run"])
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    env = {"GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": str(event)}
    with pytest.raises(CmlError) as raised:
        target_from_event(env, publisher=None)
    assert str(raised.value).startswith("GITHUB_EVENT_PATH: workflow_run.")
    assert message in str(raised.value)


def test_publish_outside_ci_does_not_speak_of_gitlab(tmp_path, monkeypatch, capsys) -> None:
    in_repo = Repo(tmp_path / "repo")
    in_repo.write("m.json", {"acc": 0.9})
    in_repo.write("cml.yaml", "metrics: [m.json]\n")
    in_repo.commit()
    (in_repo.path / "out").mkdir()
    monkeypatch.chdir(in_repo.path)
    result = run_cli(capsys, "publish", "out")
    assert result.code == 2, result.err
    assert "no CI detected here" in result.err and "GitLab" not in result.err
    monkeypatch.setenv("GITLAB_CI", "true")
    assert "on GitLab run `cml-py run`" in run_cli(capsys, "publish", "out").err


def test_a_missing_event_file_is_named_as_missing(tmp_path) -> None:
    """It read as "the workflow_run event has no `workflow_run`"."""
    from cml_py.errors import CmlError
    from cml_py.publish.artifact import target_from_event

    gone = tmp_path / "event.json"
    for env, said in (
        ({"GITHUB_EVENT_PATH": str(gone)}, f"GITHUB_EVENT_PATH: {gone} does not exist;"),
        ({}, "GITHUB_EVENT_PATH: not set;"),
    ):
        with pytest.raises(CmlError) as raised:
            target_from_event({"GITHUB_EVENT_NAME": "workflow_run", **env}, publisher=None)
        assert str(raised.value).startswith(said), raised.value


def test_a_workflow_run_without_a_head_owner_still_finds_the_pr(
    default_branch, github_fake, tmp_path, monkeypatch, capsys
) -> None:
    """`head_repository.owner: null` (or no head_repository) is an absent field, not a
    crash: the PR is found from the head commit."""
    artifact = pr_artifact(tmp_path, capsys, acc=0.97)
    github_fake.add_pull(9, HEAD_SHA, owner="stranger")
    payload = workflow_run_payload(owner="stranger")
    payload["workflow_run"]["head_repository"]["owner"] = None
    publish_env(monkeypatch, github_fake, tmp_path, payload)
    result = run_cli(capsys, "publish", str(artifact))
    assert result.code == 0, result.err
    assert len(github_fake.comments_on(issue=9)) == 1
