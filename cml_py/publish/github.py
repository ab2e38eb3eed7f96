"""GitHub (and GitHub Enterprise, by GITHUB_API_URL alone) through PyGithub.

Comments are PR/issue comments or commit comments; images are committed to an orphan
assets branch through the Git Data API (GitHub has no upload API for comments) and
linked pinned to that commit, so an old comment never changes; the status is a check
run, or a commit status when the token cannot create check runs.
"""

from __future__ import annotations

import base64
import functools
import http.client
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from cml_py.errors import CmlError, ServiceError
from cml_py.publish.base import Publisher, checked_comment
from cml_py.publish.context import CiContext
from cml_py.publish.net import (
    ApiError,
    Failure,
    PermissionDenied,
    Retrier,
    message_of,
    rate_limit_wait,
    reading,
    seconds_setting,
)
from cml_py.publish.shrink import GITHUB_COMMENT_LIMIT
from cml_py.publish.sticky import Comment

ACTIONS_BOT = "github-actions[bot]"
ASSETS_AUTHOR = ("cml-py", "cml-py@users.noreply.invalid")
ASSETS_MESSAGE = "cml-py images for "
T = TypeVar("T")
DEFAULT_TIMEOUT = 30


def classify_error(exc: BaseException) -> Failure | None:
    """A PyGithub or transport exception → how to treat it; None for anything else."""
    import requests
    from github import GithubException
    from urllib3.exceptions import ProtocolError

    if isinstance(exc, GithubException):
        status = exc.status
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        message = message_of(exc.data, exc.message or f"HTTP {status}")
        wait = rate_limit_wait(headers, time.time())
        if status in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
            return Failure("rate", status, message, wait)
        if status in (403, 429) and (
            "retry-after" in headers or "secondary rate" in message.lower()
        ):
            return Failure("secondary", status, message, wait if wait is not None else 60.0)
        if status == 401:
            return Failure("auth", status, message)
        if status == 429:
            return Failure("secondary", status, message, wait if wait is not None else 60.0)
        if status == 403:
            return Failure("denied", status, message)
        if status == 404:
            return Failure("missing", status, message)
        if status is not None and status >= 500:
            return Failure("server", status, message)
        return Failure("client", status, message)
    if isinstance(
        exc,
        (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
            ProtocolError,
            http.client.HTTPException,
            ConnectionError,
        ),
    ):
        return Failure("network", None, f"{type(exc).__name__}: connection failed or timed out")
    if isinstance(exc, requests.exceptions.RetryError):  # a 202 to a read: see _no_202_loop
        return Failure("server", 202, "Accepted: GitHub is still processing the request")
    if isinstance(exc, requests.exceptions.RequestException):  # a bad URL, header, redirect…
        return Failure("client", None, f"{type(exc).__name__}: {exc}")
    return None


def _no_202_loop() -> Any:
    """Transport retries for PyGithub: none (the Retrier decides), except that a 202
    Accepted to a GET or HEAD raises RetryError at once. PyGithub itself asks again every
    2 s for as long as GitHub (or a proxy) answers 202, inside one Retrier attempt, so
    the Retrier's time bound never applied; now each 202 is a failed attempt under it."""
    from urllib3.util.retry import Retry

    return Retry(
        total=0,
        read=False,  # a read error is raised as itself, as without a Retry
        status_forcelist=(202,),
        allowed_methods=("GET", "HEAD"),
        raise_on_status=True,
    )


def _answer(call: Callable[[], T]) -> T:
    """`call()`, made of PyGithub calls only, with what PyGithub raises on an answer it
    cannot use (a redirect or page link to another host, a body that is not the JSON it
    expects) turned into UnexpectedAnswer: a service failure, not a crash."""
    from github.GithubException import BadAttributeException

    with reading("GitHub", BadAttributeException):
        return call()


def _comment(obj: Any) -> Comment:
    user = getattr(obj, "user", None)
    login = user.login if user is not None else None
    return checked_comment("GitHub", obj.id, obj.body, login, obj.html_url, need_url=True)


class _Thread:
    """Comments of an issue/PR (`issue`) or of a commit, as PyGithub objects by id."""

    def __init__(self, parent: Any) -> None:
        self.parent = parent
        self.objects: dict[int, Any] = {}

    def list(self) -> list[Comment]:
        def read() -> list[tuple[Comment, Any]]:
            return [(_comment(obj), obj) for obj in self.parent.get_comments()]

        pairs = _answer(read)
        self.objects = {comment.id: obj for comment, obj in pairs}
        return [comment for comment, _ in pairs]

    def create(self, body: str) -> Comment:
        def post() -> tuple[Comment, Any]:
            obj = self.parent.create_comment(body)
            return _comment(obj), obj

        comment, obj = _answer(post)
        self.objects[comment.id] = obj
        return comment

    def update(self, comment: Comment, body: str) -> Comment:
        obj = self.objects[comment.id]

        def edit() -> Comment:
            obj.edit(body)
            return _comment(obj)

        return _answer(edit)

    def delete(self, comment: Comment) -> None:
        _answer(self.objects[comment.id].delete)


class GitHubPublisher(Publisher):
    comment_limit = GITHUB_COMMENT_LIMIT

    def __init__(
        self, ctx: CiContext, retrier: Retrier, *, write_interval: float | None = None
    ) -> None:
        from github import Auth, Github

        if not ctx.token:
            raise CmlError(
                "no GitHub token: set CML_PY_TOKEN, or GITHUB_TOKEN in the workflow "
                "(env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})"
            )
        if not ctx.repository:
            raise CmlError("GITHUB_REPOSITORY is not set; set CML_PY_REPOSITORY=owner/name")
        interval = write_interval
        if interval is None:
            interval = seconds_setting(
                os.environ, "CML_PY_WRITE_INTERVAL", "1.0", low=0, high=60, zero=True
            )
        self.ctx = ctx
        self.retrier = retrier
        self.github = Github(
            auth=Auth.Token(ctx.token),
            base_url=ctx.api_url or "https://api.github.com",
            timeout=DEFAULT_TIMEOUT,
            retry=_no_202_loop(),
            per_page=100,
            seconds_between_requests=0.0,
            seconds_between_writes=interval,
            lazy=True,
        )
        self.repo = self.github.get_repo(ctx.repository)
        self.learned_author: str | None = None  # from a check run this token created

    def classify(self, exc: BaseException) -> Failure | None:
        return classify_error(exc)

    def answer(self, call: Callable[[], T]) -> T:
        return _answer(call)

    # -- identity -------------------------------------------------------------------
    def author(self) -> str | None:
        """The exact login comments are written as, or None when it cannot be known.

        The token's own user (CML_PY_COMMENT_AUTHOR, when set, is used instead: see
        flows). The Actions GITHUB_TOKEN cannot read /user, and its comments are by
        github-actions[bot]. Another app's installation token cannot read /user or /app
        either: its `<app>[bot]` login is learned from the comment it creates."""
        try:
            return self.run("reading the token's user", lambda: self.github.get_user().login)
        except PermissionDenied:
            if self.learned_author:
                return self.learned_author
            if self.ctx.github_actions and self.ctx.token_source == "GITHUB_TOKEN":
                return ACTIONS_BOT
            return None

    # -- pull requests ---------------------------------------------------------------
    def pulls_for(
        self,
        sha: str,
        numbers: list[int],
        *,
        head_owner: str | None,
        head_branch: str | None,
    ) -> list[tuple[int, str]]:
        """(number, current head sha) of the open PRs that `sha` was the head of: the
        ones the event names, else those GitHub associates with the commit, else those
        whose head is `head_owner:head_branch` (a fork's branch)."""

        def heads(pulls: Any) -> list[tuple[int, str]]:
            return [(p.number, p.head.sha) for p in pulls if p.state == "open"]

        if numbers:
            return self.run(
                "reading the pull requests",
                lambda: heads(self.repo.get_pull(n) for n in numbers),
            )
        found = self.run(
            "finding the pull request of the commit",
            lambda: heads(self.repo.get_commit(sha).get_pulls()),
        )
        if not found and head_owner and head_branch:
            found = self.run(
                "finding the pull request of the branch",
                lambda: heads(
                    self.repo.get_pulls(state="open", head=f"{head_owner}:{head_branch}")
                ),
            )
        return found

    # -- comments --------------------------------------------------------------------
    def comment_url(self, kind: str, ref: str, comment: Comment) -> str:
        return comment.url

    def thread(self, kind: str, ref: str) -> _Thread:
        if kind in ("pr", "issue"):
            return _Thread(self.repo.get_issue(int(ref)))
        return _Thread(self.repo.get_commit(ref))

    # -- images ----------------------------------------------------------------------
    def upload_images(
        self, files: Mapping[str, Path], *, branch: str, folder: str
    ) -> dict[str, str]:
        """Commit the images to `branch` (an orphan branch, one commit per report) and
        return links pinned to that commit."""
        from github import InputGitTreeElement

        if not files:
            return {}
        default = self.run("reading the repository", lambda: self.repo.default_branch)
        if branch == default:
            raise CmlError(
                f"assets branch {branch!r} is the repository's default branch; cml-py commits "
                "chart images only to a branch of its own (default cml-py-assets)"
            )
        names = _unique_names(files)
        blobs = {}
        for src, path in files.items():
            content = base64.b64encode(path.read_bytes()).decode("ascii")
            blobs[src] = self.run(
                f"uploading {path.name} to the {branch} branch",
                functools.partial(self.repo.create_git_blob, content, "base64"),
            )
        tree = self.run(
            "creating the image tree",
            lambda: self.repo.create_git_tree(
                [
                    InputGitTreeElement(f"{folder}/{names[src]}", "100644", "blob", sha=blob.sha)
                    for src, blob in blobs.items()
                ]
            ),
        )
        commit_sha = self._commit_to_branch(branch, tree, f"{ASSETS_MESSAGE}{folder}")
        base = f"{self.ctx.server_url or 'https://github.com'}/{self.ctx.repository}"
        return {src: f"{base}/blob/{commit_sha}/{folder}/{names[src]}?raw=true" for src in files}

    def _commit_of(self, ref: Any) -> Any:
        """The commit a branch ref points at, loaded (so its author and message are read)."""
        return _loaded(self.repo.get_git_commit(ref.object.sha))

    def _commit_to_branch(self, branch: str, tree: Any, message: str) -> str:
        from github import InputGitAuthor

        author = InputGitAuthor(*ASSETS_AUTHOR)
        last = ""
        for _ in range(5):  # a concurrent job may move the branch between read and write
            try:
                ref = self.run(
                    f"reading the {branch} branch",
                    lambda: _loaded_ref(self.repo.get_git_ref(f"heads/{branch}")),
                )
            except PermissionDenied as exc:
                if exc.failure.status != 404:
                    raise
                ref = None
            parents = (
                []
                if ref is None
                else [
                    self.run(
                        "reading the branch head",
                        functools.partial(self._commit_of, ref),
                    )
                ]
            )
            if parents and not _is_assets_commit(parents[0]):
                raise CmlError(
                    f"assets branch {branch!r} exists and its history is not cml-py's (its "
                    "head commit was not made by cml-py); cml-py commits chart images only "
                    "to a branch it created — choose another publish.assets_branch"
                )
            commit = self.run(
                "committing the images",
                functools.partial(
                    self.repo.create_git_commit, message, tree, parents, author=author
                ),
            )
            try:
                if ref is None:
                    self.run(
                        f"creating the {branch} branch",
                        functools.partial(
                            self.repo.create_git_ref, f"refs/heads/{branch}", commit.sha
                        ),
                    )
                else:
                    self.run(
                        f"moving the {branch} branch",
                        functools.partial(ref.edit, commit.sha, force=False),
                    )
                return commit.sha
            except ApiError as exc:
                if exc.failure.status != 422:  # 422: the branch moved (or appeared) meanwhile
                    raise
                last = exc.failure.message
        raise ServiceError(
            f"could not move the {branch} branch: it was rejected five times, last with "
            f"{last!r} (other jobs kept updating it, or a branch rule forbids it)"
        )

    # -- status ----------------------------------------------------------------------
    def start_check(self, name: str, sha: str) -> Any:
        """An in-progress check run, completed by `set_status` once the comment exists
        (so its details link can point at the comment). Its `app` also tells an app
        token who it is. None when the token cannot create check runs."""
        try:
            run = self.run(
                "starting the check run",
                lambda: self.repo.create_check_run(
                    name,
                    sha,
                    status="in_progress",
                    output={"title": "cml-py is publishing the report", "summary": "…"},
                ),
            )
        except PermissionDenied:
            return None
        slug = getattr(run.app, "slug", None) if run.app is not None else None
        if slug:
            self.learned_author = f"{slug}[bot]"
        return run

    def set_status(
        self,
        *,
        passed: bool,
        name: str,
        title: str,
        summary: str,
        details_url: str | None,
        sha: str,
        pending: Any = None,
    ) -> str:
        """A check run (completing `pending` when there is one); a commit status when the
        token cannot create check runs."""
        output = {"title": title[:255], "summary": summary}
        kwargs: dict[str, Any] = {
            "status": "completed",
            "conclusion": "success" if passed else "failure",
            "output": output,
        }
        if details_url:
            kwargs["details_url"] = details_url
        if pending is not None:
            self.run("completing the check run", lambda: pending.edit(**kwargs))
            return "check run"
        try:
            self.run(
                "creating the check run", lambda: self.repo.create_check_run(name, sha, **kwargs)
            )
            return "check run"
        except PermissionDenied:
            pass
        commit = self.repo.get_commit(sha)
        state = "success" if passed else "failure"
        status_kwargs: dict[str, Any] = {"description": title[:140], "context": name}
        if details_url:
            status_kwargs["target_url"] = details_url
        self.run("creating the commit status", lambda: commit.create_status(state, **status_kwargs))
        return "commit status"


def _loaded_ref(ref: Any) -> Any:
    """Complete a lazy GitRef: its URL then comes from GitHub (`/git/refs/...`), which is
    the one PATCH needs."""
    _ = ref.object.sha
    return ref


def _is_assets_commit(commit: Any) -> bool:
    """A commit cml-py made on its assets branch: its author and message say so."""
    author = getattr(commit, "author", None)
    return getattr(author, "name", None) == ASSETS_AUTHOR[0] and (commit.message or "").startswith(
        ASSETS_MESSAGE
    )


def _loaded(obj: Any) -> Any:
    _ = obj.sha
    return obj


def _unique_names(files: Mapping[str, Path]) -> dict[str, str]:
    names: dict[str, str] = {}
    used: set[str] = set()
    for src, path in files.items():
        name, n = path.name, 1
        while name in used:
            n += 1
            name = f"{path.stem}-{n}{path.suffix}"
        used.add(name)
        names[src] = name
    return names
