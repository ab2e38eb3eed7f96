"""One sticky comment per report id, on any forge.

A comment belongs to this report when its first line is the hidden marker
`<!-- cml-py report id=ID -->` and it was written by exactly the identity that posts now:
anyone can quote a marker, and editing someone else's comment would either fail (a stale
report) or, for a shared identity, overwrite their words. Modes: `update` edits the
newest such comment (or creates one), `new` always posts, `recreate` deletes the old
ones and posts (so watchers are notified).

When the identity is unknown (a GitHub App installation token can read neither /user
nor /app), the comment is posted, its author — now known from the object the token
itself created — identifies the older ones, and those are removed: one comment either
way, without ever guessing "some bot".

Two guarantees against duplicates: every body carries a per-run nonce, so a create
whose outcome is unknown is looked up before it is retried; and after creating, if
another run created one at the same time, every run keeps the oldest comment and folds
its own into it, so concurrent jobs converge on one comment.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cml_py.publish.net import Failure, Retrier

_MARKER = re.compile(r"<!-- cml-py report id=([A-Za-z0-9._-]+) -->")


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str | None
    url: str


class Thread(Protocol):
    """The comments of one PR/MR, issue or commit."""

    def list(self) -> list[Comment]: ...

    def create(self, body: str) -> Comment: ...

    def update(self, comment: Comment, body: str) -> Comment: ...

    def delete(self, comment: Comment) -> None: ...


def marker(report_id: str) -> str:
    return f"<!-- cml-py report id={report_id} -->"


def report_id_of(body: str) -> str | None:
    match = _MARKER.search(body)
    return match.group(1) if match else None


def with_marker(body: str, report_id: str) -> str:
    """The body with exactly one marker, for this id, on its first line."""
    body = _MARKER.sub("", body, count=1).lstrip("\n")
    return f"{marker(report_id)}\n{body}"


def with_nonce(body: str, nonce: str) -> str:
    return f"{body.rstrip()}\n<!-- cml-py nonce={nonce} -->\n"


def new_nonce() -> str:
    return secrets.token_hex(8)


def _exactly(a: str, b: str) -> bool:
    return a == b


def _ignoring_case(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


SAME_LOGIN: dict[str, Callable[[str, str], bool]] = {
    "github": _ignoring_case,  # GitHub logins are case-insensitive: `Octocat` is octocat
    "gitlab": _exactly,
    "": _exactly,
}
"""Whether two spellings name the same account, per forge."""


def is_report_of(
    comment: Comment,
    report_id: str,
    author: str | None,
    same_login: Callable[[str, str], bool] = _exactly,
) -> bool:
    """The marker is the first line and the author is `author` (never unknown)."""
    first = comment.body.lstrip("\ufeff").split("\n", 1)[0].strip()
    if author is None or comment.author is None or first != marker(report_id):
        return False
    return same_login(comment.author, author)


def post_sticky(
    thread: Thread,
    body: str,
    *,
    report_id: str,
    author: str | None,
    same_login: Callable[[str, str], bool] = _exactly,
    mode: str,
    retrier: Retrier,
    classify: Callable[[BaseException], Failure | None],
    what: str,
    warn: Callable[[str], None] = lambda _: None,
) -> Comment:
    """Create or update the report's comment; returns the comment that now holds it.
    `author` is the login this token writes as, or None when it cannot be known."""
    from cml_py.publish.net import PermissionDenied

    nonce = new_nonce()
    body = with_nonce(with_marker(body, report_id), nonce)

    def ours(comments: list[Comment], who: str | None) -> list[Comment]:
        return [c for c in comments if is_report_of(c, report_id, who, same_login)]

    listed = retrier.run(f"listing {what}", thread.list, classify)
    before = ours(listed, author)
    if mode == "update" and before:
        newest = max(before, key=lambda c: c.id)
        try:
            return retrier.run(f"updating {what}", lambda: thread.update(newest, body), classify)
        except PermissionDenied as exc:
            if exc.failure.status != 404:
                warn(
                    f"editing the earlier {what.removeprefix('the ')} was refused ({exc}); "
                    "posted a new one instead (the earlier one stays)"
                )
                mode = "new"  # post, and leave the one we could not edit alone
            # 404: it was deleted since it was listed (by hand, or by another run's
            # `recreate`): post the report anew, as if it had never been there.
    if mode == "recreate":
        for old in before:
            _delete(thread, old, retrier, classify, f"deleting the old {what}")

    def find_own() -> Comment | None:
        for comment in retrier.run(f"listing {what}", thread.list, classify):
            mine = author is None or (
                comment.author is not None and same_login(comment.author, author)
            )
            if f"nonce={nonce}" in comment.body and mine:
                return comment
        return None

    created = retrier.run(
        f"posting {what}", lambda: thread.create(body), classify, idempotent=False, recover=find_own
    )
    if author is None and created.author:
        # Learned from the comment this token just created: its older reports can go.
        earlier = [c for c in ours(listed, created.author) if c.id != created.id]
        if earlier and mode != "new":
            for previous in earlier:
                _delete(thread, previous, retrier, classify, f"deleting the previous {what}")
            warn(
                f"this token cannot tell who it is, so {what} was posted anew and the "
                f"previous one removed; set CML_PY_COMMENT_AUTHOR={created.author} to edit "
                "it in place"
            )
        return created
    if mode == "new":
        return created
    seen = {c.id for c in before}
    arrivals = [
        c
        for c in ours(retrier.run(f"listing {what}", thread.list, classify), author)
        if c.id not in seen
    ]
    if len(arrivals) <= 1:
        return created
    keep = min(arrivals, key=lambda c: c.id)  # every concurrent run picks the same one
    for extra in arrivals:
        if extra.id != keep.id and extra.id == created.id:
            updated = retrier.run(f"updating {what}", lambda: thread.update(keep, body), classify)
            _delete(thread, created, retrier, classify, f"deleting a duplicate {what}")
            return updated
    return created


def _delete(
    thread: Thread,
    comment: Comment,
    retrier: Retrier,
    classify: Callable[[BaseException], Failure | None],
    what: str,
) -> None:
    """Delete; a comment that is already gone (another run deleted it) is fine."""
    from cml_py.publish.net import PermissionDenied

    try:
        retrier.run(what, lambda: thread.delete(comment), classify)
    except PermissionDenied as exc:
        if exc.failure.status != 404:
            raise
