"""Publishing to GitHub with the real PyGithub client, over real HTTP, against a fake
GitHub that checks every request and response against GitHub's OpenAPI description."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from tests.conftest import Repo
from tests.fakes.github import FakeGitHub, Fault
from tests.fakes.server import Answer, Interposer
from tests.helpers import run_cli
from tests.publish_env import (
    HEAD_SHA,
    PNG,
    github_actions,
    pull_request_payload,
    report_with_images,
)

INSTALLATION = "ghs_installation_token_0123456789"
PERSONAL = "ghp_personal_token_0123456789"
READONLY = "ghs_readonly_token_0123456789"
MARKER = "<!-- cml-py report id=default -->"


def simple_report(
    tmp_path: Path, text: str = "### ✅ cml-py: gate passed\n", report_id: str = "default"
) -> Path:
    path = tmp_path / "report.md"
    path.write_text(f"<!-- cml-py report id={report_id} -->\n{text}")
    return path


def ours(fake: FakeGitHub, issue: int = 7, marker: str = MARKER) -> list[dict]:
    return [c for c in fake.comments_on(issue=issue) if marker in c["body"]]


def test_first_run_posts_and_rerun_edits(github_fake, tmp_path, monkeypatch, capsys) -> None:
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    report = simple_report(tmp_path)
    first = run_cli(capsys, "comment", str(report))
    assert first.code == 0, first.err
    (comment,) = ours(github_fake)
    assert (
        first.out.strip()
        == f"https://github.example/octo/models/pull/7#issuecomment-{comment['id']}"
    )
    assert comment["login"] == "github-actions[bot]"
    report.write_text(MARKER + "\n### ❌ cml-py: gate failed\n")
    second = run_cli(capsys, "comment", str(report))
    assert second.code == 0
    (edited,) = ours(github_fake)
    assert edited["id"] == comment["id"] and "gate failed" in edited["body"]
    assert [r.method for r in github_fake.requests].count("POST") == 1


def test_sticky_flow_on_a_pr_with_250_comments(github_fake, tmp_path, monkeypatch, capsys) -> None:
    for i in range(250):
        github_fake.add_comment(7, f"comment {i}", "someone")
    old = github_fake.add_comment(7, MARKER + "\nold report", "github-actions[bot]")
    newest = github_fake.add_comment(7, MARKER + "\nnewer report", "github-actions[bot]")
    impostor = github_fake.add_comment(7, MARKER + "\nnot ours", "mallory")
    other_id = github_fake.add_comment(
        7, "<!-- cml-py report id=gpu -->\nother report", "github-actions[bot]"
    )
    for i in range(5):
        github_fake.add_comment(7, f"later {i}", "someone")
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "comment", str(simple_report(tmp_path, "fresh report\n")))
    assert result.code == 0, result.err
    bodies = {c["id"]: c["body"] for c in github_fake.comments.values()}
    assert "fresh report" in bodies[newest]
    assert "old report" in bodies[old] and "not ours" in bodies[impostor]
    assert "other report" in bodies[other_id]
    assert len(github_fake.comments) == 259
    pages = [
        r
        for r in github_fake.requests
        if r.method == "GET" and r.path.endswith("/issues/7/comments")
    ]
    assert len(pages) == 3 and all(
        "per_page=100" in r.query or "per_page" not in r.query for r in pages
    )


@pytest.mark.parametrize(
    ("mode", "expected_posts", "expected_deletes"), [("new", 1, 0), ("recreate", 1, 1)]
)
def test_new_and_recreate_modes(
    github_fake, tmp_path, monkeypatch, capsys, mode, expected_posts, expected_deletes
) -> None:
    existing = github_fake.add_comment(7, MARKER + "\nearlier", "github-actions[bot]")
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)), "--mode", mode)
    assert result.code == 0, result.err
    methods = [r.method for r in github_fake.requests]
    assert methods.count("POST") == expected_posts and methods.count("DELETE") == expected_deletes
    assert (existing in github_fake.comments) == (mode == "new")
    assert len(ours(github_fake)) == (2 if mode == "new" else 1)


def test_github_enterprise_base_url(tmp_path, monkeypatch, capsys) -> None:
    from tests.fakes.github import Token

    fake = FakeGitHub(prefix="/api/v3", tokens={INSTALLATION: Token(None)})
    with fake.serve():
        github_actions(monkeypatch, fake, tmp_path, token=INSTALLATION)
        result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 0, result.err
    assert fake.requests and all(r.path.startswith("/api/v3/") for r in fake.requests)
    assert len(ours(fake)) == 1 and not fake.spec_errors


def test_images_are_committed_to_the_assets_branch(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    report = report_with_images(tmp_path)
    assert run_cli(capsys, "comment", str(report)).code == 0
    first_commit = github_fake.refs["heads/cml-py-assets"]
    (comment,) = ours(github_fake)
    links = re.findall(
        r"https://github\.example/octo/models/blob/([0-9a-f]{40})/([^)\"?]+)\?raw=true",
        comment["body"],
    )
    assert {path for _, path in links} == {
        f"default/{HEAD_SHA[:12]}/metric_changes.png",
        f"default/{HEAD_SHA[:12]}/roc pr.png",
    }
    assert {sha for sha, _ in links} == {first_commit}
    assert "charts/" not in comment["body"]
    blobs = [o for o in github_fake.git_objects.values() if o["type"] == "blob"]
    assert base64.b64decode(blobs[0]["content"]) == PNG.read_bytes()
    assert github_fake.git_objects[first_commit]["parents"] == []  # an orphan branch
    assert run_cli(capsys, "comment", str(report)).code == 0
    second_commit = github_fake.refs["heads/cml-py-assets"]
    assert github_fake.git_objects[second_commit]["parents"] == [first_commit]
    assert first_commit in json.dumps(github_fake.git_objects)  # the old comment's images stay


def test_images_none_replaces_them_with_data_tables(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "comment", str(report_with_images(tmp_path)), "--images", "none")
    assert result.code == 0
    (comment,) = ours(github_fake)
    assert "<img" not in comment["body"] and "![" not in comment["body"]
    assert "_Chart not published (images: none): ROC._" in comment["body"]
    assert "| this PR | 0.95 |" in comment["body"]
    assert "heads/cml-py-assets" not in github_fake.refs


@pytest.mark.parametrize("token", [INSTALLATION, READONLY])
def test_a_data_table_that_is_not_utf8_is_left_out_with_a_note(
    github_fake, tmp_path, monkeypatch, capsys, token
) -> None:
    """With --images none, and when a read-only token may not commit images, each chart
    becomes its table: one in another encoding crashed with exit 4; now the note says
    why the table is missing and the rest of the report goes out."""
    files = github_actions(monkeypatch, github_fake, tmp_path, token=token)
    report = report_with_images(tmp_path)
    (tmp_path / "charts" / "roc pr.md").write_bytes(b"| Side |\n|--|\n| \xff\xfe |\n")
    args = ["--images", "none"] if token == INSTALLATION else []
    result = run_cli(capsys, "comment", str(report), *args)
    assert result.code == 0, result.err
    note = "_Chart not published (images: none): ROC; its data table roc pr.md is not"
    summary = files["summary"].read_text()  # a read-only token's report is only here
    assert note in summary and "| metric_2 | 0.2 | 0.3 |" in summary


def test_missing_image_is_an_error_naming_it(github_fake, tmp_path, monkeypatch, capsys) -> None:
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    report = simple_report(tmp_path, "![chart](charts/nope.png)\n")
    result = run_cli(capsys, "comment", str(report))
    assert result.code == 2
    assert "the report links the image 'charts/nope.png', which does not exist" in result.err


def test_check_run_with_app_token_and_commit_status_with_pat(
    github_fake, in_repo: Repo, tmp_path, monkeypatch, capsys
) -> None:
    in_repo.write("metrics.json", {"acc": 0.9})
    in_repo.write("cml.yaml", "gate: {acc: {min: 0.95}}\n")
    in_repo.commit()
    files = github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "status")
    assert result.code == 0, result.err
    (run,) = github_fake.check_runs
    assert (run["name"], run["head_sha"], run["conclusion"]) == ("cml-py", HEAD_SHA, "failure")
    assert run["output"]["title"].startswith("cml-py: gate failed")
    assert run["output"]["summary"].startswith(MARKER)
    assert run["details_url"] == "https://github.example/octo/models/actions/runs/4242"
    assert "::error title=cml-py gate%3A acc::acc ≥ 0.95: this PR 0.9, main 0.9" in result.out
    assert "verdict<<" in files["output"].read_text() and "\nfail\n" in files["output"].read_text()
    monkeypatch.setenv("GITHUB_TOKEN", PERSONAL)
    assert run_cli(capsys, "status", "--id", "nightly").code == 0
    (status,) = github_fake.statuses
    assert (status["sha"], status["state"], status["context"]) == (
        HEAD_SHA,
        "failure",
        "cml-py (nightly)",
    )
    assert len(github_fake.check_runs) == 1


def test_fork_pr_read_only_token_warns_and_goes_on(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    files = github_actions(
        monkeypatch, github_fake, tmp_path, token=READONLY, payload=pull_request_payload(fork=True)
    )
    report = report_with_images(tmp_path)
    result = run_cli(capsys, "comment", str(report))
    assert result.code == 0, result.err
    assert "warning: images were not published" in result.err and "contents: write" in result.err
    assert "warning: the PR comment was not posted" in result.err
    assert "Resource not accessible by integration" in result.err
    assert "pull-requests: write" in result.err and "from a fork" in result.err
    assert not github_fake.comments
    assert "gate passed" in files["summary"].read_text()  # what could be posted, was
    strict = run_cli(capsys, "comment", str(report), "--strict")
    assert strict.code == 3


def test_server_errors_then_success(github_fake, tmp_path, monkeypatch, capsys) -> None:
    github_fake.faults.append(
        Fault("POST", r"/repos/octo/models/issues/7/comments", "500", times=2)
    )
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 0, result.err
    assert result.err.count("HTTP 502") == 2 and "retrying in" in result.err
    assert len(ours(github_fake)) == 1


def test_connection_reset_mid_post_leaves_no_duplicate(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    github_fake.faults.append(Fault("POST", r"/repos/octo/models/issues/7/comments", "reset"))
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 0, result.err
    assert "connection failed" in result.err
    assert len(ours(github_fake)) == 1
    assert [r.method for r in github_fake.requests].count("POST") == 1  # found, not re-posted
    assert result.out.strip().endswith(f"#issuecomment-{ours(github_fake)[0]['id']}")


def test_primary_rate_limit_waits_for_a_near_reset(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    github_fake.faults.append(
        Fault("GET", r"/repos/octo/models/issues/7/comments", "rate", reset_in=2)
    )
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 0, result.err
    assert "API rate limit exceeded" in result.err and "retrying in" in result.err
    assert len(ours(github_fake)) == 1


def test_primary_rate_limit_far_away_gives_up_clearly(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    github_fake.faults.append(Fault("GET", r"/user", "rate", reset_in=3600))
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 3
    assert (
        "the API rate limit is used up and resets at" in result.err and "(in 60 min)" in result.err
    )


RATE_LIMITED = json.dumps(
    {"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest"}
)


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        (403, {"x-ratelimit-remaining": "0", "retry-after": "1e400"}, "resets in more than a day"),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9999999999999"},
            "resets in more than a day",
        ),
        (429, {"retry-after": "inf"}, "(the API asks to wait more than a day; try again later)"),
    ],
)
def test_a_rate_limit_reset_beyond_any_bound_gives_up_clearly(
    github_fake, tmp_path, monkeypatch, capsys, status, headers, message
) -> None:
    """`1e400` crashed (OverflowError, exit 4) and a reset in the year 300000000 said
    "in 166636736211 min"."""
    limited = Answer(
        "GET",
        r"/repos/octo/models/issues/7/comments",
        lambda request, own: Response(
            RATE_LIMITED, status=status, headers=headers, content_type="application/json"
        ),
        forward=False,
    )
    with Interposer(github_fake, [limited]):
        github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
        result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 3, result.err
    assert "listing the PR comment failed" in result.err and message in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_retry_after_date_in_the_past_retries_now(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    """An HTTP-date Retry-After was unreadable, so cml-py always waited 60 s."""
    limited = Answer(
        "GET",
        r"/repos/octo/models/issues/7/comments",
        lambda request, own: Response(
            RATE_LIMITED,
            status=429,
            headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"},
            content_type="application/json",
        ),
        forward=False,
    )
    with Interposer(github_fake, [limited]):
        github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
        result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 0, result.err
    assert "retrying in 0.0 s" in result.err
    assert len(ours(github_fake)) == 1


def test_secondary_rate_limit_honours_retry_after(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    github_fake.faults.append(
        Fault("POST", r"/repos/octo/models/issues/7/comments", "secondary", reset_in=1)
    )
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 0, result.err
    assert "secondary rate limit" in result.err and "retrying in 1.0 s" in result.err
    assert len(ours(github_fake)) == 1


COMMENTS = r"/repos/octo/models/issues/7/comments"
EDIT = r"/repos/octo/models/issues/comments/\d+"
ELSEWHERE = "http://localhost:1/repos/octo/models/issues/7/comments"


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type="application/json")


def _next_page_elsewhere(request: Request, own: Response | None) -> Response:
    assert own is not None
    own.headers["Link"] = f'<{ELSEWHERE}?page=2>; rel="next"'
    return own


@pytest.mark.parametrize(
    ("method", "path", "make", "what"),
    [
        (
            "GET",
            COMMENTS,
            lambda r, own: Response(status=301, headers={"Location": ELSEWHERE}),
            "listing",
        ),
        ("GET", COMMENTS, _next_page_elsewhere, "listing"),
        ("GET", COMMENTS, lambda r, own: _json(b'[{"id": 1, "bo'), "listing"),
        ("GET", COMMENTS, lambda r, own: Response(b"<html>maintenance</html>"), "listing"),
        ("GET", COMMENTS, lambda r, own: _json(b'{"message": "ok"}'), "listing"),
        ("PATCH", EDIT, lambda r, own: Response(status=204), "updating"),
        (
            "PATCH",
            EDIT,
            lambda r, own: Response(status=301, headers={"Location": ELSEWHERE}),
            "updating",
        ),
    ],
    ids=[
        "list-301-elsewhere",
        "list-next-elsewhere",
        "list-truncated",
        "list-html",
        "list-object",
        "patch-204",
        "patch-301-elsewhere",
    ],
)
def test_an_answer_that_is_not_githubs_is_a_service_failure(
    github_fake, tmp_path, monkeypatch, capsys, method, path, make, what
) -> None:
    """A proxy or a moved GitHub Enterprise answers what PyGithub cannot use; it raised
    RuntimeError, AssertionError, JSONDecodeError or TypeError: exit 4."""
    github_fake.add_comment(7, MARKER + "\nold report", "github-actions[bot]")
    with Interposer(github_fake, [Answer(method, path, make)]):
        github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
        result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 3, result.err
    assert f"{what} the PR comment failed: GitHub's answer was unexpected or unreadable" in (
        result.err
    )
    assert len(result.err.strip().splitlines()) == 1
    assert INSTALLATION not in result.out + result.err


@pytest.mark.parametrize(
    ("make", "forward"),
    [
        (lambda r, own: Response(status=307, headers={"Location": ELSEWHERE}), False),
        (lambda r, own: Response(b"", status=200), False),
        (lambda r, own: _json(b"{}", status=201), True),
        (lambda r, own: _json(b'{"id": 5, "body": "x"}', status=201), True),
    ],
    ids=["307", "empty-200", "empty-object", "no-url"],
)
def test_a_post_answered_without_the_comment_is_a_service_failure(
    github_fake, tmp_path, monkeypatch, capsys, make, forward
) -> None:
    """The create answered with no comment (a redirect, an empty body, `{}`): cml-py
    exited 0 having printed no link and posted nothing, without a word."""
    with Interposer(github_fake, [Answer("POST", COMMENTS, make, forward=forward)]):
        github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
        result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 3, result.err
    assert "posting the PR comment failed: GitHub's answer was unexpected or unreadable: " in (
        result.err
    )
    assert ("without a valid id" in result.err) or ("no usable web URL" in result.err)


def test_202_forever_stops_at_the_retry_bound(github_fake, tmp_path, monkeypatch, capsys) -> None:
    """PyGithub asks again every 2 s while GitHub answers 202, all inside one attempt:
    the run hung past the 5-minute bound. Now each 202 is an attempt under the Retrier,
    whose bound (CML_PY_RETRY_SECONDS, here 2 s) ends it."""
    import time

    accepted = Answer(
        "GET", COMMENTS, lambda r, own: _json(b"{}", status=202), times=1000, forward=False
    )
    monkeypatch.setenv("CML_PY_RETRY_SECONDS", "2")
    with Interposer(github_fake, [accepted]):
        github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
        started = time.monotonic()
        result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 3, result.err
    assert time.monotonic() - started < 10
    last = result.err.strip().splitlines()[-1]
    assert "listing the PR comment failed: HTTP 202: Accepted: GitHub is still processing" in last
    assert "(gave up" in last and accepted.times > 990
    assert not ours(github_fake)


def test_a_70000_character_report_is_shrunk_not_rejected(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    files = github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    rows = "\n".join(
        f"| metric_{i:05d} | 0.{i:05d} | 0.{i + 1:05d} | ▲ +0.00001 |" for i in range(1400)
    )
    details = "\n".join(f"| m{i} | 1 | 2 |" for i in range(800))
    report = simple_report(
        tmp_path,
        "### ✅ gate passed\n\n| Metric | main | this PR | Change |\n|:--|--:|--:|--:|\n"
        f"{rows}\n\n<details><summary>All metrics (800)</summary>\n\n| Metric | main | this PR |\n|:--|--:|--:|\n{details}\n\n</details>\n",
    )
    assert len(report.read_text()) > 70_000
    result = run_cli(capsys, "comment", str(report))
    assert result.code == 0, result.err
    (comment,) = ours(github_fake)
    body = comment["body"]
    assert len(body) <= 65_536 and body.startswith(MARKER)
    assert "All metrics (800)" not in body
    assert re.search(
        r"_… [\d,]+ more rows: \[the full report\]\(https://github\.example/octo/models/actions/runs/4242\)\._",
        body,
    )
    assert "| metric_00000 |" in body
    assert "| metric_01399 |" in files["summary"].read_text()  # the job summary keeps it all


def test_commit_comment_when_not_a_pr(github_fake, tmp_path, monkeypatch, capsys) -> None:
    github_actions(
        monkeypatch,
        github_fake,
        tmp_path,
        token=INSTALLATION,
        event="push",
        payload={"ref": "refs/heads/main"},
    )
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 0, result.err
    (comment,) = github_fake.comments_on(commit="d" * 40)
    assert MARKER in comment["body"]
    assert result.out.strip().endswith(f"/commit/{'d' * 40}#commitcomment-{comment['id']}")


def test_explicit_targets(github_fake, tmp_path, monkeypatch, capsys) -> None:
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    assert run_cli(capsys, "comment", str(simple_report(tmp_path)), "--target", "issue/3").code == 0
    assert len(github_fake.comments_on(issue=3)) == 1
    bad = run_cli(capsys, "comment", str(simple_report(tmp_path)), "--target", "pull/3")
    assert (
        bad.code == 2
        and "--target: expected auto, pr, commit, pr/N, issue/N or commit/SHA" in bad.err
    )


@pytest.mark.parametrize(
    "target", ["pr/0", "pr/99999999999999999999", "issue/2147483648", "pr/\u0663"]
)
def test_a_target_number_out_of_range_or_not_ascii_is_bad_input(
    github_fake, tmp_path, monkeypatch, capsys, target
) -> None:
    """`\\d` matched "٣" (an Arabic-Indic 3) and any length: pr/٣ posted on PR #3."""
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)), "--target", target)
    assert result.code == 2, result.err
    assert "--target: expected" in result.err and "from 1 to 2,147,483,647" in result.err
    assert not github_fake.requests  # rejected before any API call


def test_report_id_from_flag_rewrites_the_marker(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    assert run_cli(capsys, "comment", str(simple_report(tmp_path)), "--id", "gpu").code == 0
    (comment,) = github_fake.comments_on(issue=7)
    assert (
        comment["body"].startswith("<!-- cml-py report id=gpu -->\n")
        and MARKER not in comment["body"]
    )


def test_bad_credentials(github_fake, tmp_path, monkeypatch, capsys) -> None:
    github_actions(monkeypatch, github_fake, tmp_path, token="ghp_wrong_token_0123456789")
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 2  # a wrong token is a configuration error, not an outage
    assert (
        "reading the token's user failed: HTTP 401: Bad credentials; the token was rejected"
        in result.err
    )


def test_the_token_never_leaks(github_fake, tmp_path, monkeypatch, capsys) -> None:
    """Every stream and file cml-py writes, across success, warnings, errors and debug."""
    files = github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    monkeypatch.setenv("CML_PY_DEBUG", "1")
    github_fake.faults += [
        Fault("POST", r"/repos/octo/models/issues/7/comments", "500"),
        Fault("POST", r"/repos/octo/models/issues/7/comments", "reset"),
    ]
    outputs = [run_cli(capsys, "comment", str(report_with_images(tmp_path)))]
    monkeypatch.setenv("GITHUB_TOKEN", READONLY)
    outputs.append(run_cli(capsys, "comment", str(report_with_images(tmp_path)), "--strict"))
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_unknown_token_0123456789")
    outputs.append(run_cli(capsys, "comment", str(report_with_images(tmp_path))))
    texts = [o.out + o.err for o in outputs]
    texts += [files["summary"].read_text(), files["output"].read_text()]
    texts += [c["body"] for c in github_fake.comments.values()]
    texts += [r.body for r in github_fake.requests]
    for token in (INSTALLATION, READONLY, "ghp_unknown_token_0123456789"):
        for text in texts:
            assert token not in text
    assert [o.code for o in outputs] == [0, 3, 2]


def test_an_app_token_that_cannot_read_its_user_still_updates_its_comment(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    monkeypatch.setenv("CML_PY_TOKEN", "ghs_app_token_0123456789")
    github_fake.add_comment(7, MARKER + "\nsomeone's copy", "mallory")
    for text in ("first\n", "second\n", "third\n"):
        assert run_cli(capsys, "comment", str(simple_report(tmp_path, text))).code == 0
    mine = [c for c in ours(github_fake) if c["login"] == "cml-py-app[bot]"]
    assert len(mine) == 1 and "third" in mine[0]["body"]
    assert any("someone's copy" in c["body"] for c in ours(github_fake))


def test_a_token_with_a_trailing_newline_works_and_stays_secret(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION + "\n")
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 0, result.err
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_half token_0123456789")
    broken = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert broken.code == 2 and "GITHUB_TOKEN: the token contains whitespace" in broken.err
    assert "half" not in broken.err and INSTALLATION not in result.err + result.out


def test_an_api_url_without_scheme_is_bad_input(github_fake, tmp_path, monkeypatch, capsys) -> None:
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    monkeypatch.setenv("GITHUB_API_URL", "api.github.com")
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert (
        result.code == 2
        and "GITHUB_API_URL: expected an http(s):// URL, got 'api.github.com'" in result.err
    )


def test_images_that_cannot_be_committed_do_not_block_the_comment(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    github_fake.faults.append(Fault("POST", r"/repos/octo/models/git/refs", "422", times=10))
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    result = run_cli(capsys, "comment", str(report_with_images(tmp_path)))
    assert result.code == 0, result.err
    assert (
        "warning: images were not published" in result.err
        and "Repository rule violations" in result.err
    )
    (comment,) = ours(github_fake)
    assert "_Chart not published (images: none): ROC._" in comment["body"]


def test_a_comment_deleted_while_the_run_edits_it_is_posted_anew(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    """A maintainer deletes the report (or another run's `recreate` does) between the
    listing and the edit: the edit answers 404, and the PR must still get its report."""
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    old = github_fake.add_comment(7, MARKER + "\nold", "github-actions[bot]")

    def delete_on_edit(method: str, path: str) -> None:
        if method == "PATCH":
            github_fake.comments.pop(old, None)

    github_fake.before_request = delete_on_edit
    result = run_cli(capsys, "comment", str(simple_report(tmp_path, "fresh\n")), "--strict")
    assert result.code == 0, result.err
    (comment,) = ours(github_fake)
    assert comment["id"] != old and "fresh" in comment["body"]
    assert "pull-requests: write" not in result.err


def test_the_configured_author_is_a_github_login_in_any_case(
    github_fake, tmp_path, monkeypatch, capsys
) -> None:
    """GitHub logins are case-insensitive: `GitHub-Actions[bot]` is the bot that posts,
    and its comment is edited, not joined by a new one on every run."""
    github_actions(monkeypatch, github_fake, tmp_path, token=INSTALLATION)
    monkeypatch.setenv("CML_PY_COMMENT_AUTHOR", "GitHub-Actions[bot]")
    for text in ("first\n", "second\n", "third\n"):
        assert run_cli(capsys, "comment", str(simple_report(tmp_path, text))).code == 0
    (comment,) = ours(github_fake)
    assert "third" in comment["body"]
