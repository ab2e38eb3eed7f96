"""Publishing to GitLab with the real python-gitlab client, over real HTTP, against a
fake GitLab that follows GitLab's REST API documentation."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.wrappers import Response

from tests.conftest import Repo
from tests.fakes.github import Fault
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.server import Answer, Interposer
from tests.helpers import run_cli
from tests.publish_env import HEAD_SHA, PNG, gitlab_ci, report_with_images

TOKEN = "glpat-secret-token-0123456789"
JOB_TOKEN = "job-token-0123456789"
MARKER = "<!-- cml-py report id=default -->"


def simple_report(tmp_path: Path, text: str = "### ✅ cml-py: gate passed\n") -> Path:
    path = tmp_path / "report.md"
    path.write_text(f"{MARKER}\n{text}")
    return path


def ours(fake: FakeGitLab, kind: str = "merge_requests", parent: str = "7") -> list[dict]:
    return [n for n in fake.notes_on(kind, parent) if MARKER in n["body"]]


def test_sticky_note_on_a_merge_request_with_250_notes(
    gitlab_fake, tmp_path, monkeypatch, capsys
) -> None:
    for i in range(250):
        gitlab_fake.add_note("merge_requests", "7", f"note {i}", "alice")
    gitlab_fake.add_note("merge_requests", "7", "added 1 commit", "alice", system=True)
    older = gitlab_fake.add_note("merge_requests", "7", MARKER + "\nold", "cml-bot")
    newer = gitlab_fake.add_note("merge_requests", "7", MARKER + "\nnewer", "cml-bot")
    foreign = gitlab_fake.add_note("merge_requests", "7", MARKER + "\nforeign", "mallory")
    gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN)
    result = run_cli(capsys, "comment", str(simple_report(tmp_path, "fresh\n")))
    assert result.code == 0, result.err
    assert "fresh" in gitlab_fake.notes[newer]["body"]
    assert (
        "old" in gitlab_fake.notes[older]["body"]
        and "foreign" in gitlab_fake.notes[foreign]["body"]
    )
    assert result.out.strip() == f"{gitlab_fake.base_url}/ml/models/-/merge_requests/7#note_{newer}"
    pages = [r for r in gitlab_fake.requests if r.method == "GET" and r.path.endswith("/notes")]
    assert len(pages) == 3
    assert not [r for r in gitlab_fake.requests if r.method == "POST"]


def test_first_run_creates_and_rerun_updates(gitlab_fake, tmp_path, monkeypatch, capsys) -> None:
    gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN)
    assert run_cli(capsys, "comment", str(simple_report(tmp_path))).code == 0
    assert run_cli(capsys, "comment", str(simple_report(tmp_path, "second\n"))).code == 0
    (note,) = ours(gitlab_fake)
    assert "second" in note["body"] and note["username"] == "cml-bot"
    recreate = run_cli(
        capsys, "comment", str(simple_report(tmp_path, "third\n")), "--mode", "recreate"
    )
    assert recreate.code == 0
    (renewed,) = ours(gitlab_fake)
    assert renewed["id"] != note["id"] and "third" in renewed["body"]


def test_uploads_stay_project_relative_on_a_sub_path_instance(
    tmp_path, monkeypatch, capsys
) -> None:
    fake = FakeGitLab(prefix="/gitlab", tokens={TOKEN: "cml-bot"})
    with fake.serve():
        gitlab_ci(monkeypatch, fake, token=TOKEN)
        result = run_cli(capsys, "comment", str(report_with_images(tmp_path)))
    assert result.code == 0, result.err
    assert all(r.path.startswith("/gitlab/api/v4/") for r in fake.requests)
    (note,) = ours(fake)
    assert len(fake.uploads) == 2 and all(
        data == PNG.read_bytes() for data in fake.uploads.values()
    )
    for key in fake.uploads:
        assert f"/uploads/{key}" in note["body"]
    assert "charts/" not in note["body"] and "127.0.0.1" not in note["body"]
    assert result.out.strip().startswith(
        f"{fake.base_url}/gitlab/ml/models/-/merge_requests/7#note_"
    )


def test_commit_discussion_without_a_merge_request(
    gitlab_fake, tmp_path, monkeypatch, capsys
) -> None:
    gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN, mr=None)
    assert run_cli(capsys, "comment", str(simple_report(tmp_path))).code == 0
    assert run_cli(capsys, "comment", str(simple_report(tmp_path, "edited\n"))).code == 0
    (note,) = ours(gitlab_fake, "commit", HEAD_SHA)
    assert "edited" in note["body"]


def test_commit_status(gitlab_fake, in_repo: Repo, monkeypatch, capsys) -> None:
    in_repo.write("metrics.json", {"acc": 0.99})
    in_repo.write("cml.yaml", "gate: {acc: {min: 0.95}}\n")
    in_repo.commit()
    gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN)
    result = run_cli(capsys, "status")
    assert result.code == 0, result.err
    (status,) = gitlab_fake.statuses
    assert (status["sha"], status["state"], status["name"]) == (HEAD_SHA, "success", "cml-py")
    assert status["target_url"] == "https://gitlab.example/ml/models/-/jobs/99"
    assert status["description"].startswith("cml-py: gate passed")


def test_job_token_says_which_token_to_create(gitlab_fake, tmp_path, monkeypatch, capsys) -> None:
    gitlab_ci(monkeypatch, gitlab_fake, token=JOB_TOKEN, token_variable="CI_JOB_TOKEN")
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 0
    assert "CI_JOB_TOKEN cannot post merge request notes" in result.err
    assert (
        "project access token with the `api` scope" in result.err and "CML_PY_TOKEN" in result.err
    )
    assert not gitlab_fake.notes
    assert run_cli(capsys, "comment", str(simple_report(tmp_path)), "--strict").code == 3


def test_server_errors_reset_and_retry_after(gitlab_fake, tmp_path, monkeypatch, capsys) -> None:
    gitlab_fake.faults += [
        Fault("GET", r"/projects/42/merge_requests/7/notes", "500", times=1),
        Fault("POST", r"/projects/42/merge_requests/7/notes", "reset"),
        Fault("GET", r"/user", "secondary", reset_in=1),
    ]
    gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN)
    result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 0, result.err
    assert (
        "HTTP 500" in result.err and "HTTP 429" in result.err and "connection failed" in result.err
    )
    assert len(ours(gitlab_fake)) == 1
    assert [r.method for r in gitlab_fake.requests].count("POST") == 1


def test_a_report_over_a_million_characters_is_shrunk(
    gitlab_fake, tmp_path, monkeypatch, capsys
) -> None:
    gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN)
    rows = "\n".join(f"| metric_{i:06d} | 0.{i:06d} | 0.{i + 1:06d} |" for i in range(30_000))
    report = simple_report(tmp_path, f"| Metric | main | this PR |\n|:--|--:|--:|\n{rows}\n")
    assert len(report.read_text()) > 1_000_000
    assert run_cli(capsys, "comment", str(report)).code == 0
    (note,) = ours(gitlab_fake)
    assert len(note["body"]) <= 1_000_000
    assert (
        "more rows: [the full report](https://gitlab.example/ml/models/-/jobs/99)" in note["body"]
    )


def test_the_token_never_leaks(gitlab_fake, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CML_PY_DEBUG", "1")
    gitlab_fake.faults.append(Fault("POST", r"/projects/42/merge_requests/7/notes", "500"))
    outputs = []
    for token, variable in (
        (TOKEN, "GITLAB_TOKEN"),
        ("glpat-wrong-0123456789", "CML_PY_TOKEN"),
        (JOB_TOKEN, "CI_JOB_TOKEN"),
    ):
        monkeypatch.delenv("GITLAB_TOKEN", raising=False)
        monkeypatch.delenv("CML_PY_TOKEN", raising=False)
        gitlab_ci(monkeypatch, gitlab_fake, token=token, token_variable=variable)
        outputs.append(run_cli(capsys, "comment", str(report_with_images(tmp_path))))
    assert [o.code for o in outputs] == [0, 2, 0]
    texts = [o.out + o.err for o in outputs] + [n["body"] for n in gitlab_fake.notes.values()]
    texts += [r.body for r in gitlab_fake.requests]
    for token in (TOKEN, "glpat-wrong-0123456789", JOB_TOKEN):
        assert not any(token in text for text in texts)


def test_the_token_never_goes_to_another_address(
    gitlab_fake, tmp_path, monkeypatch, capsys
) -> None:
    """requests strips `Authorization` when a redirect leaves the host, but not GitLab's
    PRIVATE-TOKEN: a redirect is never followed, and a next-page link naming another
    address (an instance whose external_url is wrong) is followed on the API's own."""
    from werkzeug.wrappers import Request, Response

    from tests.fakes.server import LocalServer

    reached: list[dict[str, str]] = []

    def elsewhere_app(environ, start_response):  # type: ignore[no-untyped-def]
        reached.append(dict(Request(environ).headers))
        return Response("[]", content_type="application/json")(environ, start_response)

    gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN)
    report = str(simple_report(tmp_path))
    with LocalServer(elsewhere_app) as elsewhere:
        other = elsewhere.url.replace("127.0.0.1", "localhost")
        for method in ("GET", "POST"):
            gitlab_fake.redirect = (method, r"/projects/42/merge_requests/7/notes", other)
            result = run_cli(capsys, "comment", report, "--strict")
            assert result.code == 3, result.err
            assert (
                f"GitLab answered with a redirect to {other}; cml-py does not follow "
                "redirects, which would send the token there"
            ) in result.err
        assert not ours(gitlab_fake)

        for i in range(150):  # two pages of notes, the second linked at the other address
            gitlab_fake.add_note("merge_requests", "7", f"note {i}", "alice")
        posted = gitlab_fake.add_note("merge_requests", "7", MARKER + "\nold", "cml-bot")
        gitlab_fake.link_base = other
        result = run_cli(capsys, "comment", str(simple_report(tmp_path, "new\n")))
        assert result.code == 0, result.err
        assert "new" in gitlab_fake.notes[posted]["body"] and len(ours(gitlab_fake)) == 1
    assert reached == []


def test_the_configured_author_is_used_on_gitlab_too(
    gitlab_fake, tmp_path, monkeypatch, capsys
) -> None:
    """With CML_PY_COMMENT_AUTHOR set, as cml-py advises for a token that cannot say
    who it is, GitLab's /user is not asked (here it fails) and the note is edited."""
    gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN)
    assert run_cli(capsys, "comment", str(simple_report(tmp_path, "first\n"))).code == 0
    gitlab_fake.faults.append(Fault("GET", r"/user", "500", times=1000))
    monkeypatch.setenv("CML_PY_COMMENT_AUTHOR", "cml-bot")
    for text in ("second\n", "third\n"):
        result = run_cli(capsys, "comment", str(simple_report(tmp_path, text)))
        assert result.code == 0, result.err
    (note,) = ours(gitlab_fake)
    assert "third" in note["body"]
    assert len([r for r in gitlab_fake.requests if r.method == "POST"]) == 1


NOTES = r"/api/v4/projects/42/merge_requests/7/notes"
DISCUSSIONS = rf"/api/v4/projects/42/repository/commits/{HEAD_SHA}/discussions"


@pytest.mark.parametrize(
    ("path", "body", "mr"),
    [
        (NOTES, b'{"a": 1}', 7),
        (NOTES, b'[{"body": "x"}]', 7),
        (NOTES, b'[{"id": 3, "body": "x", "author": "bob"}]', 7),
        (NOTES, b'[{"id": "3", "body": "x"}]', 7),
        (DISCUSSIONS, b'[{"id": "d", "notes": {"id": 3}}]', None),
        (DISCUSSIONS, b'[{"id": "d", "notes": [{"body": "x"}]}]', None),
    ],
    ids=["object", "no-id", "author-string", "id-string", "notes-object", "note-no-id"],
)
def test_a_malformed_note_list_is_a_service_failure(
    gitlab_fake, tmp_path, monkeypatch, capsys, path, body, mr
) -> None:
    """A note list that is not GitLab's crashed: KeyError 0 for an object, AttributeError
    for a note without an id or with `"author": "bob"` (exit 4)."""
    gitlab_fake.add_note("merge_requests", "7", MARKER + "\nold", "cml-bot")
    odd = Answer(
        "GET",
        path,
        lambda request, own: Response(body, content_type="application/json"),
        forward=False,
    )
    with Interposer(gitlab_fake, [odd]):
        gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN, mr=mr)
        result = run_cli(capsys, "comment", str(simple_report(tmp_path)))
    assert result.code == 3, result.err
    what = "the MR note" if mr else "the commit comment"
    assert f"listing {what} failed: GitLab's answer was unexpected or unreadable" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert TOKEN not in result.out + result.err


def test_a_fork_merge_request_gets_its_note_in_the_target_project(
    gitlab_fake, tmp_path, monkeypatch, capsys
) -> None:
    """A merge request from a fork has its pipeline in the fork (CI_PROJECT_ID), but
    the MR — iid 7 of the target project — and its notes are the target's. Posting to
    the fork's MR 7 would put the report on another MR, or nowhere."""
    gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN)
    monkeypatch.setenv("CI_PROJECT_ID", "999")  # the fork: the fake has no such project
    monkeypatch.setenv("CI_PROJECT_PATH", "someone/models")
    monkeypatch.setenv("CI_MERGE_REQUEST_PROJECT_ID", str(gitlab_fake.project_id))
    monkeypatch.setenv("CI_MERGE_REQUEST_PROJECT_PATH", gitlab_fake.project_path)
    result = run_cli(capsys, "comment", str(report_with_images(tmp_path)), "--strict")
    assert result.code == 0, result.err
    (note,) = ours(gitlab_fake)
    assert len(gitlab_fake.uploads) == 2
    assert all(f"/uploads/{key}" in note["body"] for key in gitlab_fake.uploads)
    assert f"/{gitlab_fake.project_path}/-/merge_requests/7#note_{note['id']}" in result.out
    assert not [r for r in gitlab_fake.requests if "/projects/999/" in r.path]


def test_an_upload_answer_without_its_url_is_a_service_failure(
    gitlab_fake, tmp_path, monkeypatch, capsys
) -> None:
    odd = Answer(
        "POST",
        r".*/uploads",
        lambda request, own: Response(b'{"id": 1}', status=201, content_type="application/json"),
        times=10,
    )
    with Interposer(gitlab_fake, [odd]):
        gitlab_ci(monkeypatch, gitlab_fake, token=TOKEN)
        result = run_cli(capsys, "comment", str(report_with_images(tmp_path)))
    assert result.code == 0, result.err  # the comment matters more than its pictures
    assert "images were not published (uploading" in result.err
    assert "an upload without its /uploads/ URL" in result.err
    (note,) = ours(gitlab_fake)
    assert "/uploads/" not in note["body"]
