"""GitLab (gitlab.com and self-managed, also under a sub-path) through python-gitlab.

Comments are merge request or issue notes, or a commit discussion (GitLab's commit
comments cannot be edited, discussion notes can); images go through the project uploads
API and stay project-relative (`/uploads/<secret>/<name>`), the form that keeps working
across GitLab versions and sub-path installs; the status is a commit status.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from cml_py.errors import CmlError
from cml_py.publish.base import Publisher, checked_comment
from cml_py.publish.context import CiContext
from cml_py.publish.net import (
    Failure,
    PermissionDenied,
    Retrier,
    UnexpectedAnswer,
    message_of,
    rate_limit_wait,
    reading,
)
from cml_py.publish.shrink import GITLAB_NOTE_LIMIT
from cml_py.publish.sticky import Comment

T = TypeVar("T")
DEFAULT_TIMEOUT = 30
# python-gitlab's own retries are off: cml-py's Retrier decides, knowing which writes
# are safe to repeat.
NO_LIBRARY_RETRY: dict[str, Any] = {"obey_rate_limit": False, "max_retries": 0}
JOB_TOKEN_HELP = (
    "CI_JOB_TOKEN cannot post merge request notes, uploads or commit statuses; create a "
    "project access token with the `api` scope (role Reporter or higher) and add it as "
    "the masked CI/CD variable CML_PY_TOKEN"
)


def api_base(ctx: CiContext) -> str:
    """The instance URL python-gitlab wants (it appends /api/v4 itself)."""
    if ctx.api_url and ctx.api_url.rstrip("/").endswith("/api/v4"):
        return ctx.api_url.rstrip("/")[: -len("/api/v4")]
    if ctx.server_url:
        return ctx.server_url
    raise CmlError("CI_API_V4_URL is not set; set CML_PY_API_URL=https://gitlab.example.com/api/v4")


def _session_without_redirects() -> Any:
    import requests

    session = requests.Session()
    session.max_redirects = 0  # the first redirect raises TooManyRedirects, unfollowed
    return session


def _redirect_message(response: Any) -> str:
    """Where GitLab redirected to (scheme, host and port only: the rest is the API's
    path), and why cml-py stops there."""
    from urllib.parse import urlsplit

    where = "another address"
    try:
        location = urlsplit(response.headers.get("Location", "") if response else "")
        if location.hostname:
            port = f":{location.port}" if location.port else ""
            where = f"{location.scheme}://{location.hostname}{port}"
    except ValueError:  # a port that is not one
        pass
    return (
        f"GitLab answered with a redirect to {where}; cml-py does not follow redirects, "
        "which would send the token there: set CML_PY_API_URL (or check CI_API_V4_URL) "
        "to the address the API answers at"
    )


class GitLabPublisher(Publisher):
    comment_limit = GITLAB_NOTE_LIMIT

    def __init__(self, ctx: CiContext, retrier: Retrier) -> None:
        import gitlab

        if not ctx.token:
            raise CmlError("no GitLab token: " + JOB_TOKEN_HELP.split("; ", 1)[1])
        project = ctx.project_id or ctx.repository
        if not project:
            raise CmlError("CI_PROJECT_ID is not set; set CML_PY_PROJECT_ID")
        self.ctx = ctx
        self.retrier = retrier
        self.last_headers: dict[str, str] = {}
        job = ctx.token_source == "CI_JOB_TOKEN"
        self.gitlab = gitlab.Gitlab(
            api_base(ctx),
            private_token=None if job else ctx.token,
            job_token=ctx.token if job else None,
            timeout=DEFAULT_TIMEOUT,
            retry_transient_errors=False,
            per_page=100,
            # The token goes to the configured API address only. A next-page link is
            # followed on that address (a GitLab whose external_url differs would
            # otherwise get it at another host, perhaps over http), and a redirect is
            # never followed: requests strips `Authorization` from one to another host,
            # but sends GitLab's PRIVATE-TOKEN and JOB-TOKEN headers along.
            keep_base_url=True,
            session=_session_without_redirects(),
        )
        self.gitlab.session.hooks["response"].append(self._remember_headers)
        self.project = self.gitlab.projects.get(project, lazy=True)
        # the merge request's own project: where its notes, and the uploads they show, go
        mr_project = ctx.mr_project_id or ctx.mr_repository
        self.mr_project = (
            self.gitlab.projects.get(mr_project, lazy=True) if mr_project else self.project
        )

    def _remember_headers(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.last_headers = {k.lower(): v for k, v in response.headers.items()}

    def classify(self, exc: BaseException) -> Failure | None:
        import requests
        from gitlab.exceptions import GitlabError

        if isinstance(exc, GitlabError):
            status = exc.response_code
            message = message_of(exc.error_message, f"HTTP {status}")
            if status == 429:
                return Failure(
                    "secondary", status, message, rate_limit_wait(self.last_headers, time.time())
                )
            if status in (401, 403) and self.ctx.token_source == "CI_JOB_TOKEN":
                return Failure("denied", status, f"{message} — {JOB_TOKEN_HELP}")
            if status == 401:
                return Failure("auth", status, message)
            if status == 403:
                return Failure("denied", status, message)
            if status == 404:
                return Failure("missing", status, message)
            if status is not None and status >= 500:
                return Failure("server", status, message)
            if status is None:
                return Failure("network", None, message)
            return Failure("client", status, message)
        if isinstance(
            exc,
            (
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
                ConnectionError,
            ),
        ):
            return Failure("network", None, f"{type(exc).__name__}: connection failed or timed out")
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            status = getattr(exc.response, "status_code", None)
            return Failure("client", status, _redirect_message(exc.response))
        if isinstance(exc, requests.exceptions.RequestException):
            return Failure("client", None, f"{type(exc).__name__}: {exc}")
        return None

    def run(
        self,
        what: str,
        operation: Callable[[], T],
        *,
        idempotent: bool = True,
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        """Refused up front with the job token, which can write no note or status."""
        if self.ctx.token_source == "CI_JOB_TOKEN":
            raise PermissionDenied(
                f"{what} failed: {JOB_TOKEN_HELP}", failure=Failure("denied", None, JOB_TOKEN_HELP)
            )
        return super().run(what, operation, idempotent=idempotent, recover=recover)

    def answer(self, call: Callable[[], T]) -> T:
        return _answer(call)

    def author(self) -> str | None:
        def who() -> str | None:
            user = self.gitlab.http_get("/user", **NO_LIBRARY_RETRY)
            name = user.get("username") if isinstance(user, dict) else None
            return name if isinstance(name, str) else None

        return self.run("reading the token's user", who)

    def comment_url(self, kind: str, ref: str, comment: Comment) -> str:
        """Notes carry no web URL in every GitLab version; build the anchor ourselves."""
        if comment.url:
            return comment.url
        repository = (self.ctx.mr_repository if kind == "pr" else None) or self.ctx.repository
        base = f"{self.ctx.server_url or api_base(self.ctx)}/{repository}/-"
        page = {"pr": f"merge_requests/{ref}", "issue": f"issues/{ref}"}.get(kind, f"commit/{ref}")
        return f"{base}/{page}#note_{comment.id}"

    def thread(self, kind: str, ref: str) -> Any:
        if kind == "pr":
            return _NoteThread(self.mr_project.mergerequests.get(int(ref), lazy=True))
        if kind == "issue":
            return _NoteThread(self.project.issues.get(int(ref), lazy=True))
        return _CommitThread(self.project.commits.get(ref, lazy=True))

    def upload_images(
        self, files: Mapping[str, Path], *, branch: str, folder: str
    ) -> dict[str, str]:
        urls = {}
        for src, path in files.items():
            data = path.read_bytes()
            urls[src] = self.run(
                f"uploading {path.name}", functools.partial(self._upload, path.name, data)
            )
        return urls

    def _upload(self, name: str, data: bytes) -> str:
        """One file to the project whose notes show it — the merge request's — and its
        project-relative URL, `/uploads/<secret>/<name>`."""
        result = self.mr_project.upload(name, filedata=data, **NO_LIBRARY_RETRY)
        url = result.get("url") if isinstance(result, dict) else None
        if not isinstance(url, str) or not url.startswith("/uploads/"):
            raise UnexpectedAnswer("GitLab", f"an upload without its /uploads/ URL ({url!r:.60})")
        return url

    def set_status(
        self,
        *,
        passed: bool,
        name: str,
        title: str,
        summary: str,
        details_url: str | None,
        sha: str,
        pending: Any = None,  # GitLab has no pending check to complete
    ) -> str:
        data = {
            "state": "success" if passed else "failed",
            "name": name,
            "description": title[:255],
        }
        if details_url:
            data["target_url"] = details_url
        commit = self.project.commits.get(sha, lazy=True)
        self.run(
            "creating the commit status", lambda: commit.statuses.create(data, **NO_LIBRARY_RETRY)
        )
        return "commit status"


def _answer(call: Callable[[], T]) -> T:
    """`call()`, made of python-gitlab calls only, with what the client raises on an
    answer it cannot use (a JSON object where a list belongs: KeyError 0; a note without
    an id: AttributeError) turned into UnexpectedAnswer: a service failure, not a crash."""
    with reading("GitLab"):
        return call()


class _NoteThread:
    """Notes of a merge request or an issue; system notes are not comments."""

    def __init__(self, parent: Any) -> None:
        self.parent = parent
        self.objects: dict[int, Any] = {}

    def list(self) -> list[Comment]:
        def read() -> list[tuple[dict[str, Any], Any]]:
            notes = self.parent.notes.list(iterator=True, **NO_LIBRARY_RETRY)
            return [(note.attributes, note) for note in notes]

        pairs = [(_comment(data), note) for data, note in _answer(read) if not data.get("system")]
        self.objects = {comment.id: note for comment, note in pairs}
        return [comment for comment, _ in pairs]

    def create(self, body: str) -> Comment:
        note = _answer(lambda: self.parent.notes.create({"body": body}, **NO_LIBRARY_RETRY))
        comment = _comment(note.attributes)
        self.objects[comment.id] = note
        return comment

    def update(self, comment: Comment, body: str) -> Comment:
        note = self.objects[comment.id]
        note.body = body
        _answer(lambda: note.save(**NO_LIBRARY_RETRY))
        return _comment({**note.attributes, "body": body})

    def delete(self, comment: Comment) -> None:
        note = self.objects[comment.id]
        _answer(lambda: note.delete(**NO_LIBRARY_RETRY))


class _CommitThread:
    """The first note of each discussion on a commit."""

    def __init__(self, commit: Any) -> None:
        self.commit = commit
        self.discussions: dict[int, Any] = {}

    def list(self) -> list[Comment]:
        def read() -> list[tuple[Any, Any]]:
            found = self.commit.discussions.list(iterator=True, **NO_LIBRARY_RETRY)
            return [(d.attributes.get("notes"), d) for d in found]

        out = []
        self.discussions = {}
        for notes, discussion in _answer(read):
            first = _first_note(notes)
            if first is not None and not first.get("system"):
                comment = _comment(first)
                self.discussions[comment.id] = discussion
                out.append(comment)
        return out

    def create(self, body: str) -> Comment:
        discussion = _answer(
            lambda: self.commit.discussions.create({"body": body}, **NO_LIBRARY_RETRY)
        )
        first = _first_note(discussion.attributes.get("notes"))
        if first is None:
            raise UnexpectedAnswer("GitLab", "the new discussion has no note")
        comment = _comment(first)
        self.discussions[comment.id] = discussion
        return comment

    def update(self, comment: Comment, body: str) -> Comment:
        note = self.discussions[comment.id].notes.get(comment.id, lazy=True)
        note.body = body
        _answer(lambda: note.save(**NO_LIBRARY_RETRY))
        return Comment(comment.id, body, comment.author, comment.url)

    def delete(self, comment: Comment) -> None:
        note = self.discussions[comment.id].notes.get(comment.id, lazy=True)
        _answer(lambda: note.delete(**NO_LIBRARY_RETRY))


def _first_note(notes: Any) -> Mapping[str, Any] | None:
    """A discussion's first note; None when it has none."""
    if not notes:
        return None
    if not isinstance(notes, list) or not isinstance(notes[0], dict):
        raise UnexpectedAnswer("GitLab", "a discussion whose notes are not a list of notes")
    return notes[0]


def _comment(note: Mapping[str, Any]) -> Comment:
    """A note as a Comment, checked (base.checked_comment); its author is an object or
    none (a string `"author": "bob"` crashed)."""
    author = note.get("author")
    if author is not None and not isinstance(author, dict):
        raise UnexpectedAnswer("GitLab", "a note whose author is not an object")
    username = author.get("username") if author else None
    return checked_comment(
        "GitLab", note.get("id"), note.get("body"), username, note.get("web_url"), need_url=False
    )
