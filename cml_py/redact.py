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


_installed = False


def install_logging_filter() -> None:
    """Mask secrets in every log record, whichever library or logger creates it (a record
    factory sees them all; filters on the root logger miss child loggers). Called by
    whatever reads a token, so commands that never hold one do not pay for `logging`."""
    global _installed
    if _installed:
        return
    import logging

    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _SECRETS:
            record.msg, record.args = redact(record.getMessage()), ()
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
