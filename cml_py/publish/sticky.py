"""One sticky comment per report id, on any forge.

A comment belongs to this report when it carries the hidden marker
`<!-- cml-py report id=ID -->` and was written by the token's own user. Modes:
`update` edits the newest such comment (or creates one), `new` always posts, `recreate`
deletes the old ones and posts (so watchers are notified).

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

ANY_BOT = "*[bot]"  # the author of an app token that cannot read /user: some `name[bot]`
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


def post_sticky(
    thread: Thread,
    body: str,
    *,
    report_id: str,
    author: str | None,
    mode: str,
    retrier: Retrier,
    classify: Callable[[BaseException], Failure | None],
    what: str,
) -> Comment:
    """Create or update the report's comment; returns the comment that now holds it."""
    tag = marker(report_id)
    nonce = new_nonce()
    body = with_nonce(with_marker(body, report_id), nonce)

    def written_by_us(comment: Comment) -> bool:
        if author is None:
            return True
        if author == ANY_BOT:
            return bool(comment.author and comment.author.endswith("[bot]"))
        return comment.author == author

    def ours(comments: list[Comment]) -> list[Comment]:
        return [c for c in comments if tag in c.body and written_by_us(c)]

    before = ours(retrier.run(f"listing {what}", thread.list, classify))
    if mode == "update" and before:
        newest = max(before, key=lambda c: c.id)
        return retrier.run(f"updating {what}", lambda: thread.update(newest, body), classify)
    if mode == "recreate":
        for old in before:
            _delete(thread, old, retrier, classify, f"deleting the old {what}")

    def find_own() -> Comment | None:
        for comment in retrier.run(f"listing {what}", thread.list, classify):
            if f"nonce={nonce}" in comment.body:
                return comment
        return None

    created = retrier.run(
        f"posting {what}", lambda: thread.create(body), classify, idempotent=False, recover=find_own
    )
    if mode == "new":
        return created
    seen = {c.id for c in before}
    arrivals = [
        c for c in ours(retrier.run(f"listing {what}", thread.list, classify)) if c.id not in seen
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
