"""Tokens never appear in any output, log, exception message or report.

Every token cml-py reads is registered here the moment it is read; everything cml-py
prints passes through `redact`, and a logging filter does the same for any library
that logs (PyGithub, python-gitlab, urllib3), whatever the log level.
"""

from __future__ import annotations

MASK = "***"
_SECRETS: set[str] = set()


def register(secret: str | None) -> None:
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)
        install_logging_filter()


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redacting_record(record: object) -> bool:
    """A logging filter (any callable works): rewrite the message with secrets masked."""
    if _SECRETS:
        message = redact(record.getMessage())  # type: ignore[attr-defined]
        record.msg, record.args = message, ()  # type: ignore[attr-defined]
    return True


def install_logging_filter() -> None:
    """Mask secrets in every log record, whichever library logs. Called by whatever
    reads a token, so commands that never hold one do not pay for `logging`."""
    import logging

    root = logging.getLogger()
    if _redacting_record not in root.filters:
        root.addFilter(_redacting_record)
    for handler in root.handlers:
        if _redacting_record not in handler.filters:
            handler.addFilter(_redacting_record)
