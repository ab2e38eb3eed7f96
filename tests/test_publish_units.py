"""The pure parts of publishing: context, images, shrinking, retries, sticky logic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cml_py.errors import CmlError, ServiceError
from cml_py.model import GateCheck, Status
from cml_py.publish import actions, images, shrink, sticky
from cml_py.publish.context import detect, github_event_details
from cml_py.publish.net import Failure, PermissionDenied, Retrier, rate_limit_wait
from cml_py.redact import redact, register
from tests.fakes.openapi import webhook_examples


@pytest.mark.parametrize("event", ["pull_request", "pull_request_target"])
def test_real_pull_request_payloads(event: str, tmp_path: Path) -> None:
    examples = webhook_examples("pull_request")
    assert len(examples) > 20
    for payload in examples:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(payload))
        ctx = detect(
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_REPOSITORY": "o/r",
                "GITHUB_EVENT_NAME": event,
                "GITHUB_EVENT_PATH": str(path),
                "GITHUB_SHA": "f" * 40,
                "GITHUB_TOKEN": "t0ken-x",
            }
        )
        assert ctx.pr_number == payload["pull_request"]["number"] == payload["number"]
        assert ctx.head_sha == payload["pull_request"]["head"]["sha"] != "f" * 40


def test_real_push_payloads_use_github_sha(tmp_path: Path) -> None:
    for payload in webhook_examples("push"):
        path = tmp_path / "event.json"
        path.write_text(json.dumps(payload))
        ctx = detect(
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_REPOSITORY": "o/r",
                "GITHUB_EVENT_NAME": "push",
                "GITHUB_EVENT_PATH": str(path),
                "GITHUB_SHA": "f" * 40,
            }
        )
        assert ctx.pr_number is None and ctx.head_sha == "f" * 40


def test_fork_detection() -> None:
    payload = {
        "pull_request": {
            "number": 3,
            "head": {"sha": "a" * 40, "repo": {"full_name": "fork/r"}},
            "base": {"repo": {"full_name": "o/r"}},
        }
    }
    assert github_event_details("pull_request", payload)["is_fork"]
    payload["pull_request"]["head"]["repo"]["full_name"] = "o/r"
    assert not github_event_details("pull_request", payload)["is_fork"]


def test_github_context_and_overrides(tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "9",
        "GITHUB_SERVER_URL": "https://ghe.example",
        "GITHUB_API_URL": "https://ghe.example/api/v3",
        "GITHUB_SHA": "a" * 40,
        "GITHUB_TOKEN": "gh-token-1",
        "CML_PY_TOKEN": "cml-token-1",
    }
    ctx = detect(env)
    assert (ctx.forge, ctx.api_url, ctx.run_url) == (
        "github",
        "https://ghe.example/api/v3",
        "https://ghe.example/o/r/actions/runs/9",
    )
    assert ctx.token == "cml-token-1" and ctx.token_source == "CML_PY_TOKEN"
    assert "cml-token-1" not in repr(ctx)
    overridden = detect({**env, "CML_PY_PR": "12", "CML_PY_SHA": "b" * 40}, {"repository": "x/y"})
    assert (overridden.pr_number, overridden.head_sha, overridden.repository) == (
        12,
        "b" * 40,
        "x/y",
    )
    with pytest.raises(CmlError, match="CML_PY_PR: expected a PR/MR number"):
        detect({**env, "CML_PY_PR": "twelve"})


def test_gitlab_context_merged_results_pipeline() -> None:
    ctx = detect(
        {
            "GITLAB_CI": "true",
            "CI_API_V4_URL": "https://gl.example/sub/api/v4",
            "CI_PROJECT_ID": "5",
            "CI_MERGE_REQUEST_IID": "8",
            "CI_COMMIT_SHA": "m" * 40,
            "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": "e" * 40,
            "CI_JOB_TOKEN": "job-tok-1",
        }
    )
    assert (ctx.forge, ctx.pr_number, ctx.head_sha) == ("gitlab", 8, "e" * 40)
    assert ctx.token_source == "CI_JOB_TOKEN"
    assert detect({}).forge is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CML_PY_PR", "7\n"), ("CML_PY_SHA", "abcdef1\n")],
)
def test_a_trailing_newline_is_not_part_of_a_number_or_a_sha(variable: str, value: str) -> None:
    """`$` in a regex also matches before a final newline: such a value must be refused
    like any other that is not a number or a commit id, not pass into an API path."""
    env = {"GITLAB_CI": "true", "CI_API_V4_URL": "https://gitlab.example/api/v4", variable: value}
    with pytest.raises(CmlError) as exc:
        detect(env)
    assert variable in str(exc.value) and repr(value) in str(exc.value)


def test_find_and_rewrite_images(tmp_path: Path) -> None:
    text = (
        '![a](charts/a.png)\n<details>\n<IMG width="9" SRC=\'charts/b c.png\' alt="B">\n</details>\n'
        '![remote](https://x.example/r.png) ![up](/uploads/abc/u.png) ![t](<charts/a.png> "t")'
    )
    refs = images.find_images(text)
    assert [(r.src, r.html) for r in refs] == [
        ("charts/a.png", False),
        ("charts/b c.png", True),
        ("<charts/a.png>", False),
    ]
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "a.png").write_bytes(b"png")
    with pytest.raises(CmlError, match=r"the report links the image 'charts/b c\.png'"):
        images.resolve(refs, tmp_path)
    rewritten = images.with_urls(
        text, refs, {"charts/a.png": "U1", "charts/b c.png": "U2", "<charts/a.png>": "U3"}
    )
    assert "![a](U1)" in rewritten and "SRC='U2'" in rewritten and '![t](U3 "t")' in rewritten
    assert "https://x.example/r.png" in rewritten and "/uploads/abc/u.png" in rewritten


def test_the_link_is_rewritten_even_when_the_alt_text_reads_the_same() -> None:
    """`![charts/a.png](charts/a.png)` had its alt text turned into the URL and the
    link left pointing at a file the forge does not have: a broken image."""
    text = '![charts/a.png](charts/a.png) <img alt="charts/b.png" src="charts/b.png">'
    refs = images.find_images(text)
    rewritten = images.with_urls(text, refs, {"charts/a.png": "U1", "charts/b.png": "U2"})
    assert rewritten == '![charts/a.png](U1) <img alt="charts/b.png" src="U2">'


def test_a_huge_data_table_is_left_out_with_a_note(tmp_path: Path) -> None:
    """`--images none` puts each chart's data table in the comment; one of megabytes
    (a report artifact can hold anything) is not read whole to be cut anyway."""
    import shutil

    from tests.publish_env import PNG

    (tmp_path / "charts").mkdir()
    shutil.copyfile(PNG, tmp_path / "charts" / "a.png")
    (tmp_path / "charts" / "a.md").write_text("| x |\n|--|\n" + "| 1 |\n" * 60_000)
    text = "![A chart](charts/a.png)"
    out = images.without_images(text, images.find_images(text), tmp_path)
    assert out == (
        "_Chart not published (images: none): A chart; its data table a.md is over 256 KiB._"
    )
    (tmp_path / "charts" / "a.md").write_text("| x |\n|--|\n| 1 |\n")
    out = images.without_images(text, images.find_images(text), tmp_path)
    assert out.endswith("| x |\n|--|\n| 1 |\n")


def test_shrink_drops_details_then_rows_then_text() -> None:
    table = "| M | v |\n|:--|--:|\n" + "\n".join(f"| m{i} | {i} |" for i in range(500))
    details = "\n<details><summary>All metrics (500)</summary>\n\n" + table + "\n\n</details>\n"
    text = "<!-- marker -->\n# head\n\n" + table + "\n" + details
    assert shrink.fit(text, 10**6) == text
    without_details = shrink.fit(text, len(text) - 100)
    assert "All metrics" not in without_details and "| m499 |" in without_details
    rows_cut = shrink.fit(text, 2000, link="https://ci/run")
    assert len(rows_cut) <= 2000 and rows_cut.startswith("<!-- marker -->")
    assert "more rows: [the full report](https://ci/run)._" in rows_cut
    assert "\n\n_…" in rows_cut  # a blank line ends the table before the note
    tiny = shrink.fit("<!-- marker -->\n" + "x" * 5000, 300)
    assert len(tiny) <= 300 and tiny.startswith("<!-- marker -->") and "cut to fit" in tiny
    unicode = shrink.fit(text.replace("m", "é"), 3000, measure=lambda s: len(s.encode()))
    assert len(unicode.encode()) <= 3000


def test_rate_limit_wait_from_headers() -> None:
    assert rate_limit_wait({"Retry-After": "7"}, 0) == 7
    assert rate_limit_wait({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "130"}, 100) == 30
    assert rate_limit_wait({"x-ratelimit-remaining": "3", "x-ratelimit-reset": "130"}, 100) is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(failures: list[Failure], result: str = "ok"):
    calls = []

    def operation() -> str:
        calls.append(1)
        if len(calls) <= len(failures):
            raise RuntimeError(str(len(calls) - 1))
        return result

    return (
        operation,
        (lambda exc: failures[int(str(exc))] if isinstance(exc, RuntimeError) else None),
        calls,
    )


def test_rate_limit_wait_from_odd_headers() -> None:
    """Any header value is bounded: `1e400` and `inf` mean "too long" (the Retrier gives
    up), NaN and words mean "unknown", an HTTP date counts from now (a past one: now)."""
    assert rate_limit_wait({"Retry-After": "1e400"}, 0) == float("inf")
    assert rate_limit_wait({"Retry-After": "inf"}, 0) == float("inf")
    assert rate_limit_wait({"Retry-After": "nan"}, 0) is None
    assert rate_limit_wait({"Retry-After": "soon"}, 0) is None
    assert rate_limit_wait({"Retry-After": "-5"}, 0) == 0
    assert rate_limit_wait({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 1445412480) == 0
    assert rate_limit_wait({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 1445412470) == 10
    assert rate_limit_wait({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 2e9) == 0
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1e400"}
    assert rate_limit_wait(reset, 100) == float("inf")
    assert rate_limit_wait({**reset, "x-ratelimit-reset": "nan"}, 100) is None


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (
            Failure("rate", 403, "API rate limit exceeded", float("inf")),
            "resets in more than a day",
        ),
        (Failure("rate", 403, "API rate limit exceeded", 1e13), "resets in more than a day"),
        (Failure("secondary", 429, "slow down", float("inf")), "asks to wait more than a day"),
    ],
)
def test_a_wait_beyond_any_bound_gives_up_at_once(failure: Failure, message: str) -> None:
    clock = Clock()
    retrier = Retrier(sleep=clock.sleep, clock=lambda: clock.now)
    operation, classify, calls = failing([failure])
    with pytest.raises(ServiceError, match=message):
        retrier.run("listing the PR comment", operation, classify)
    assert len(calls) == 1 and clock.sleeps == []


def test_reading_turns_only_the_clients_complaints_into_an_unexpected_answer() -> None:
    """Around client calls, what a client raises on an answer it cannot use becomes a
    service failure; transport errors (also a ValueError such as requests' InvalidURL)
    keep their own classification, and an error outside `reading` is still a crash."""
    import requests

    from cml_py.publish.net import UnexpectedAnswer, reading

    with pytest.raises(UnexpectedAnswer, match="answer was unexpected"), reading("GitHub"):
        json.loads('[{"id": 1, "bo')
    with pytest.raises(requests.exceptions.InvalidURL), reading("GitHub"):
        raise requests.exceptions.InvalidURL("no scheme")
    retrier = Retrier(sleep=lambda s: None)
    with pytest.raises(ServiceError, match=r"^listing the PR comment failed: GitHub's answer"):
        retrier.run("listing the PR comment", lambda: _read_json("{"), lambda exc: None)
    with pytest.raises(json.JSONDecodeError):  # not inside `reading`: a bug of ours
        retrier.run("listing", lambda: json.loads("{"), lambda exc: None)


def _read_json(text: str) -> object:
    from cml_py.publish.net import reading

    with reading("GitHub"):
        return json.loads(text)


def test_retrier_backs_off_then_succeeds_within_bounds() -> None:
    clock = Clock()
    retrier = Retrier(sleep=clock.sleep, clock=lambda: clock.now, base_delay=1, max_delay=8)
    operation, classify, calls = failing([Failure("server", 502, "bad gateway")] * 3)
    assert retrier.run("x", operation, classify) == "ok"
    assert len(calls) == 4 and len(clock.sleeps) == 3
    assert all(0 <= s <= 8 for s in clock.sleeps) and clock.sleeps[2] <= 4


def test_retrier_gives_up_and_respects_total_time() -> None:
    clock = Clock()
    retrier = Retrier(sleep=clock.sleep, clock=lambda: clock.now, attempts=3)
    operation, classify, _ = failing([Failure("network", None, "reset")] * 5)
    with pytest.raises(ServiceError, match="gave up after 3 attempts"):
        retrier.run("posting", operation, classify)
    slow = Retrier(sleep=clock.sleep, clock=lambda: clock.now, total_seconds=10, max_rate_wait=60)
    operation, classify, _ = failing([Failure("secondary", 403, "slow down", 30.0)])
    with pytest.raises(ServiceError, match="gave up: over 10 s"):
        slow.run("posting", operation, classify)


def test_retrier_never_retries_denied_or_client_errors() -> None:
    retrier = Retrier(sleep=lambda s: None)
    operation, classify, calls = failing(
        [Failure("denied", 403, "Resource not accessible by integration")]
    )
    with pytest.raises(PermissionDenied, match="HTTP 403: Resource not accessible by integration"):
        retrier.run("posting", operation, classify)
    assert len(calls) == 1
    operation, classify, calls = failing([Failure("client", 422, "Validation Failed")])
    with pytest.raises(ServiceError, match="HTTP 422"):
        retrier.run("posting", operation, classify)
    assert len(calls) == 1


def test_unknown_outcome_is_recovered_not_repeated() -> None:
    retrier = Retrier(sleep=lambda s: None)
    operation, classify, calls = failing([Failure("network", None, "reset")])
    assert (
        retrier.run("posting", operation, classify, idempotent=False, recover=lambda: "found")
        == "found"
    )
    assert len(calls) == 1


class MemoryThread:
    """An in-memory comment thread; `interleave` simulates another job posting too."""

    def __init__(self) -> None:
        self.comments: dict[int, sticky.Comment] = {}
        self.next_id = 1
        self.interleave: str | None = None

    def list(self):
        return list(self.comments.values())

    def create(self, body):
        if self.interleave is not None:
            self._add(self.interleave, "bot")
            self.interleave = None
        return self._add(body, "bot")

    def _add(self, body, author):
        comment = sticky.Comment(self.next_id, body, author, f"u/{self.next_id}")
        self.comments[comment.id] = comment
        self.next_id += 1
        return comment

    def update(self, comment, body):
        self.comments[comment.id] = sticky.Comment(comment.id, body, comment.author, comment.url)
        return self.comments[comment.id]

    def delete(self, comment):
        del self.comments[comment.id]


def test_concurrent_runs_converge_on_one_comment() -> None:
    thread = MemoryThread()
    thread.interleave = sticky.marker("default") + "\nfrom the other job"
    posted = sticky.post_sticky(
        thread,
        "mine",
        report_id="default",
        author="bot",
        mode="update",
        retrier=Retrier(sleep=lambda s: None),
        classify=lambda e: None,
        what="c",
    )
    assert list(thread.comments) == [1] and posted.id == 1
    assert "mine" in thread.comments[1].body


def test_marker_and_nonce() -> None:
    body = sticky.with_marker("<!-- cml-py report id=old -->\nhello", "new")
    assert body == "<!-- cml-py report id=new -->\nhello"
    assert sticky.report_id_of(body) == "new"
    assert sticky.with_nonce(body, "abc").endswith("<!-- cml-py nonce=abc -->\n")


def test_annotations_mask_tokens_and_url_passwords() -> None:
    """Gate annotations print the PR's names and values into the job log and the check."""
    register("ghs_annotation_token_0123456789")
    checks = [
        GateCheck("*", "min", Status.FAIL, metric="acc", value="ghs_annotation_token_0123456789"),
        GateCheck("*", "min", Status.FAIL, metric="ghs_annotation_token_0123456789", value=0.1),
        GateCheck("*", "min", Status.WARN, metric="b", value="https://u:hunter2pw@db.example/x"),
    ]
    printed = "\n".join(actions.gate_annotations(checks))
    assert "ghs_annotation" not in printed and "hunter2pw" not in printed
    assert printed.count("***") == 4  # the name in the second title and its text


def test_annotations_are_escaped_and_capped() -> None:
    checks = [
        GateCheck("acc", "min", Status.FAIL, metric=f"m{i}", value=0.5, limit=0.9, note="50%\nbad")
        for i in range(12)
    ]
    checks.append(GateCheck("x", "max", Status.WARN, metric="a:b,c", value=2, limit=1))
    lines = actions.gate_annotations(checks)
    errors = [ln for ln in lines if ln.startswith("::error")]
    assert len(errors) == 11 and errors[-1].endswith("2 more failed checks in the report")
    assert (
        errors[0] == "::error title=cml-py gate%3A m0::m0 ≥ 0.9: this PR 0.5, main — (50%25%0Abad)"
    )
    assert lines[-1].startswith("::warning title=cml-py gate%3A a%3Ab%2Cc::")


def test_step_outputs_use_delimiters(tmp_path: Path) -> None:
    path = tmp_path / "out"
    actions.set_outputs(path, {"verdict": "pass", "report-path": "a\nb"})
    text = path.read_text().splitlines()
    assert (
        text[0].startswith("verdict<<cml_py_")
        and text[1] == "pass"
        and text[2] == text[0].split("<<")[1]
    )
    assert text[4:6] == ["a", "b"]


def test_redaction() -> None:
    register("s3cr3t-token")
    assert redact("Authorization: token s3cr3t-token!") == "Authorization: token ***!"
    register("ab")  # too short to be a token: never masks ordinary text
    assert redact("about") == "about"


def test_retrier_gives_up_on_a_long_retry_after() -> None:
    retrier = Retrier(sleep=lambda s: None, max_rate_wait=90)
    operation, classify, calls = failing([Failure("secondary", 429, "slow down", 600.0)])
    with pytest.raises(ServiceError, match="the API asks to wait 600 s"):
        retrier.run("posting", operation, classify)
    assert len(calls) == 1


def test_last_attempt_still_looks_for_an_unknown_outcome() -> None:
    retrier = Retrier(sleep=lambda s: None, attempts=2)
    operation, classify, calls = failing([Failure("network", None, "reset")] * 2)
    looked = []

    def recover():
        looked.append(1)
        return "created" if len(looked) == 2 else None

    assert (
        retrier.run("posting", operation, classify, idempotent=False, recover=recover) == "created"
    )
    assert len(calls) == 2 and len(looked) == 2


def test_shrink_by_bytes_keeps_as_much_as_fits() -> None:
    text = "<!-- marker -->\n" + "é" * 5000
    fitted = shrink.fit(text, 3000, measure=lambda s: len(s.encode()))
    assert 2900 < len(fitted.encode()) <= 3000


def test_secrets_are_masked_in_any_logger(capsys) -> None:
    import logging

    register("log-secret-0123456789")
    handler = logging.StreamHandler()
    logging.getLogger().addHandler(handler)
    try:
        logging.getLogger("urllib3.connectionpool").warning(
            "Authorization: token %s", "log-secret-0123456789"
        )
    finally:
        logging.getLogger().removeHandler(handler)
    err = capsys.readouterr().err
    assert "Authorization: token ***" in err and "log-secret" not in err
