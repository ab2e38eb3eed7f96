"""What every forge's publisher offers, and what they do the same way.

flows.py drives a publisher through this interface only, so the GitHub and GitLab
publishers differ exactly where the forges do (identity, comment threads, images,
checks) and share the rest: every API call runs under the one retry policy (net.py),
classified by the forge's own errors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from cml_py.publish.net import Failure, Retrier, UnexpectedAnswer
from cml_py.publish.sticky import Comment, Thread

T = TypeVar("T")


class Publisher:
    comment_limit: int
    retrier: Retrier

    def classify(self, exc: BaseException) -> Failure | None:
        """How to treat an exception of this forge's client (None: not the forge's)."""
        raise NotImplementedError

    def run(
        self,
        what: str,
        operation: Callable[[], T],
        *,
        idempotent: bool = True,
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        """One API operation under the retry policy (see net.Retrier); the operation is
        the forge client's calls only, read through `answer`."""
        return self.retrier.run(
            what,
            functools.partial(self.answer, operation),
            self.classify,
            idempotent=idempotent,
            recover=recover,
        )

    def answer(self, call: Callable[[], T]) -> T:
        """`call()`, with what the forge's client raises on an answer it cannot use
        turned into UnexpectedAnswer (net.reading): GitHub's or GitLab's fault, a
        service failure, not a crash."""
        raise NotImplementedError

    def author(self) -> str | None:
        """The exact login this token writes comments as, None when it cannot be known."""
        raise NotImplementedError

    def thread(self, kind: str, ref: str) -> Thread:
        raise NotImplementedError

    def comment_url(self, kind: str, ref: str, comment: Comment) -> str:
        raise NotImplementedError

    def upload_images(
        self, files: Mapping[str, Path], *, branch: str, folder: str
    ) -> dict[str, str]:
        """Publish local images; returns each one's URL for the comment."""
        raise NotImplementedError

    def start_check(self, name: str, sha: str) -> Any:
        """A pending check to complete by `set_status`, where the forge has one."""
        return None

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
        """The gate's verdict on the commit; returns what was set ("check run", …)."""
        raise NotImplementedError


def checked_comment(
    forge: str, comment_id: Any, body: Any, author: Any, url: Any, *, need_url: bool
) -> Comment:
    """A comment as the forge described it, holding what the sticky logic and the printed
    link rely on: a positive integer id, a text body (none: empty), an author's login or
    none, and (`need_url`) its web URL. An answer without them — a proxy's `201 {}`, an
    empty 200 to a POST — is UnexpectedAnswer, never a comment "posted" with no id."""
    if not isinstance(comment_id, int) or isinstance(comment_id, bool) or comment_id <= 0:
        raise UnexpectedAnswer(forge, "a comment without a valid id")
    if body is not None and not isinstance(body, str):
        raise UnexpectedAnswer(forge, f"comment {comment_id} has a body that is not text")
    if author is not None and not isinstance(author, str):
        raise UnexpectedAnswer(forge, f"comment {comment_id} has an author that is not a login")
    if not isinstance(url, (str, type(None))) or (need_url and not url):
        raise UnexpectedAnswer(forge, f"comment {comment_id} has no usable web URL")
    return Comment(comment_id, body or "", author, url or "")
