"""How cml-py talks to a forge: bounded time, retries only where they are safe.

* Connection errors and 5xx are retried with exponential backoff and full jitter.
* A write whose outcome is unknown (the connection dropped mid-POST, or a 5xx) is not
  blindly repeated: `recover` first looks for what the write would have created (the
  comment carrying this run's nonce), so a retry never leaves a duplicate.
* Primary rate limits (403/429 with `x-ratelimit-remaining: 0`) wait for the reset when
  it is near, else give up saying when it resets; secondary limits honour Retry-After.
* Everything stops at a total time bound. Errors carry the HTTP status and the API's
  own message, and never the token.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, TypeVar

from cml_py.errors import CmlError, ServiceError
from cml_py.redact import redact

T = TypeVar("T")
DAY = 86400.0  # a wait longer than this is not reported as a clock time


@dataclass(frozen=True)
class Failure:
    """A forge error, classified. `kind` is one of: network, server, rate, secondary,
    denied, missing, auth (the token was rejected), client, unexpected (an answer that
    is not the API's: see UnexpectedAnswer)."""

    kind: str
    status: int | None
    message: str
    wait: float | None = None  # seconds until a retry may succeed (rate limits)

    def describe(self, what: str) -> str:
        status = f"HTTP {self.status}: " if self.status else ""
        return redact(f"{what} failed: {status}{self.message}")


class ApiError(ServiceError):
    """The forge answered with an error that retrying will not fix; `failure` says which."""

    def __init__(self, message: str, *, failure: Failure) -> None:
        super().__init__(message)
        self.failure = failure


class PermissionDenied(ApiError):
    """The token may not do this (403, or 404 for what it cannot see); the caller can
    degrade gracefully."""


class UnexpectedAnswer(Exception):
    """The forge answered, but not as its API does: a redirect to another host, a page
    link to another host or port, HTML from a proxy, truncated JSON, JSON of another
    shape, a comment without an id. Raised only around the forge client's own calls
    (`reading`) and by the checks of what they return, so a bug in cml-py's own code
    still surfaces as one; the Retrier turns it into a service failure saying what was
    being done."""

    def __init__(self, forge: str, detail: str) -> None:
        super().__init__(f"{forge}'s answer was unexpected or unreadable: {detail}")


# What a forge client raises on an answer it cannot use: PyGithub raises RuntimeError
# on a redirect to another host and AssertionError on a page link to another host or
# port; json raises ValueError on a truncated body; a body of another shape gives
# TypeError, KeyError, IndexError or AttributeError where the client indexes it.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    RuntimeError,
    AssertionError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
)


@contextmanager
def reading(forge: str, *also: type[BaseException]) -> Iterator[None]:
    """Run a forge client's calls (theirs only: no cml-py logic inside) with what they
    raise on an unusable answer (`_READ_ERRORS`, and the client's own `also`) turned
    into UnexpectedAnswer. Transport errors stay what they are: requests' errors are
    OSErrors, some also ValueErrors (an invalid URL), and are classified as such."""
    try:
        yield
    except OSError:
        raise
    except _READ_ERRORS + also as exc:
        raise UnexpectedAnswer(forge, _detail(exc)) from exc


def _detail(exc: BaseException) -> str:
    """The client's complaint, short: PyGithub's redirect errors go on with advice for
    programmers ("please correct your Github server URL via base_url: …")."""
    text = str(exc).split(", please correct", 1)[0].strip()
    if isinstance(exc, AssertionError):  # PyGithub asserts a link's host, port or path
        text = f"a link outside the API's address ({text or 'no host'})"
    elif isinstance(exc, ValueError) and text:
        text = f"not valid JSON ({text})"
    elif not isinstance(exc, RuntimeError):
        text = f"not the expected data ({type(exc).__name__}: {text})"
    return text[:200]


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait, from GitHub's/GitLab's rate-limit headers, or None if absent or
    unreadable. `Retry-After` is seconds or an HTTP date (a past one: retry now); a value
    too large to wait for (`1e400`, `inf`, a reset in the year 300000000) stays large,
    and the Retrier gives up at once instead of computing a clock time from it."""
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = lowered.get("retry-after")
    if retry_after:
        seconds = _number(retry_after)
        if seconds is None:
            seconds = _http_date(retry_after)
            return None if seconds is None else max(0.0, seconds - now)
        return max(0.0, seconds)
    remaining = lowered.get("x-ratelimit-remaining", lowered.get("ratelimit-remaining"))
    reset = _number(lowered.get("x-ratelimit-reset", lowered.get("ratelimit-reset")) or "")
    if remaining == "0" and reset is not None:
        return max(0.0, reset - now)
    return None


def _number(text: str) -> float | None:
    """A header's number (possibly infinite: it only means "too long"); None for NaN or
    anything that is not a number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _http_date(text: str) -> float | None:
    """An HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`) as a Unix time, None if it is not one."""
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, says RFC 5322
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _later(seconds: float) -> str:
    """When a wait ends, for a message: a clock time within a day, else only that it is
    more than a day away (a reset header can name any year, or infinity)."""
    if seconds > DAY:
        return "in more than a day"
    resets = time.strftime("%H:%M UTC", time.gmtime(time.time() + seconds))
    return f"at {resets} (in {seconds / 60:.0f} min)"


def seconds_setting(
    env: Mapping[str, str], name: str, default: str, *, low: float, high: float, zero: bool
) -> float:
    """Seconds from the environment, within `low`..`high` (`zero`: `low` itself too);
    NaN and infinity are within no bounds, so a sleep or a deadline of them never runs."""
    raw = env.get(name, default)
    try:
        seconds = float(raw)
    except ValueError:
        raise CmlError(f"{name}: expected seconds, got {raw!r:.40}") from None
    if not ((low <= seconds) if zero else (low < seconds)) or not seconds <= high:
        wanted = f"{low:g} to {high:g}" if zero else f"more than {low:g} and up to {high:g}"
        raise CmlError(f"{name}: expected {wanted} seconds, got {raw!r:.40}")
    return seconds


def retry_seconds(env: Mapping[str, str]) -> float:
    """How long one operation may take with its retries: 300 s, or CML_PY_RETRY_SECONDS
    (a job that must fail sooner; the tests of what happens at the bound)."""
    return seconds_setting(env, "CML_PY_RETRY_SECONDS", "300", low=0, high=3600, zero=False)


@dataclass
class Retrier:
    """Runs one API operation under the policy above."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 20.0
    total_seconds: float = field(default_factory=lambda: retry_seconds(os.environ))
    max_rate_wait: float = 90.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    echo: Callable[[str], None] = lambda _: None

    def run(
        self,
        what: str,
        operation: Callable[[], T],
        classify: Callable[[BaseException], Failure | None],
        *,
        idempotent: bool = True,
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            failure: Failure | None
            try:
                return operation()
            except UnexpectedAnswer as exc:
                failure = Failure("unexpected", None, str(exc))
            except Exception as exc:
                failure = classify(exc)
                if failure is None:
                    raise
            if failure.kind in ("denied", "missing"):
                raise PermissionDenied(failure.describe(what), failure=failure)
            if failure.kind == "auth":
                raise CmlError(
                    failure.describe(what) + "; the token was rejected: check "
                    "CML_PY_TOKEN (or GITHUB_TOKEN / GITLAB_TOKEN)"
                )
            if failure.kind in ("client", "unexpected"):  # asking again gets the same answer
                raise ApiError(failure.describe(what), failure=failure)
            if failure.kind == "rate":
                wait = failure.wait or 0.0
                if wait > self.max_rate_wait:
                    raise ServiceError(
                        redact(
                            f"{what} failed: the API rate limit is used up and resets "
                            f"{_later(wait)}; try again then"
                        )
                    )
                delay = wait + random.uniform(0, 1)
            elif failure.kind == "secondary":
                delay = failure.wait if failure.wait is not None else 60.0
                if delay > self.max_rate_wait:
                    asked = "more than a day" if delay > DAY else f"{delay:.0f} s"
                    raise ServiceError(
                        redact(
                            f"{failure.describe(what)} (the API asks to wait {asked}; "
                            "try again later)"
                        )
                    )
            else:  # network, server
                delay = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
            unknown = not idempotent and failure.kind in ("network", "server")
            if attempt >= self.attempts:
                found = recover() if unknown and recover is not None else None
                if found is not None:
                    return found
                raise ServiceError(failure.describe(what) + f" (gave up after {attempt} attempts)")
            if self.clock() - started + delay > self.total_seconds:
                raise ServiceError(
                    failure.describe(what) + f" (gave up: over {self.total_seconds:g} s)"
                )
            self.echo(redact(f"{failure.describe(what)}; retrying in {delay:.1f} s"))
            self.sleep(delay)
            if unknown and recover is not None:
                found = recover()
                if found is not None:
                    return found


def message_of(data: Any, fallback: str) -> str:
    """The API's own message from an error body (GitHub's `message`, GitLab's `message`
    or `error`), with GitHub's validation `errors` appended."""
    if isinstance(data, dict):
        message = data.get("message") or data.get("error") or fallback
        if isinstance(message, (dict, list)):
            message = str(message)
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            found = [e.get("message") or e.get("code") for e in errors if isinstance(e, dict)]
            details = [str(d) for d in found if d]
            if details:
                message = f"{message} ({'; '.join(details)})"
        return str(message)
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8", "replace")
    return str(data).strip() or fallback
