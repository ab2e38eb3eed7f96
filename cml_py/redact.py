"""Tokens never appear in any output, log, exception message or report.

Every token cml-py reads is registered here the moment it is read; everything cml-py
prints passes through `redact`, and a logging filter does the same for any library
that logs (PyGithub, python-gitlab, urllib3), whatever the log level.
"""

from __future__ import annotations

import logging

MASK = "***"
_SECRETS: set[str] = set()


def register(secret: str | None) -> None:
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with every registered secret masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            message = redact(record.getMessage())
            record.msg, record.args = message, ()
        return True


def install_logging_filter() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for f in root.filters):
        root.addFilter(RedactingFilter())
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
