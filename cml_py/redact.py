"""Tokens never appear in any output, log, exception message or report.

Every token cml-py reads is registered here the moment it is read; everything cml-py
prints passes through `redact`, and a logging filter does the same for any library
that logs (PyGithub, python-gitlab, urllib3), whatever the log level.

Credentials inside URLs (`https://user:password@proxy:3128`, a git remote with a token)
are masked wherever they appear, registered or not: libraries quote the URL they failed
to parse in their error messages, and a proxy password must not reach a CI log.
"""

from __future__ import annotations

import re

MASK = "***"
_SECRETS: set[str] = set()

# scheme://userinfo@ — userinfo runs to the last "@" before the host (a password may
# itself contain "@", "/", "#" or ":"), never across whitespace or quotes.
_URL_CREDENTIALS_GREEDY = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s'\"<>]*@")


def register(secret: str | None) -> None:
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)
        install_logging_filter()


def register_url(url: str | None) -> None:
    """Register the credentials of a URL (the password, and the whole user:password) so
    that they are masked even where they appear without the URL around them."""
    if not url or "@" not in url:
        return
    rest = url.split("://", 1)[-1]
    userinfo = rest.rsplit("@", 1)[0]
    register(userinfo)
    if ":" in userinfo:
        register(userinfo.split(":", 1)[1])


def redact_url(text: str) -> str:
    """`http://user:secret@host` → `http://***@host`, also for URLs that do not parse."""
    return _URL_CREDENTIALS_GREEDY.sub(lambda m: m.group(1) + MASK + "@", text)


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    if "@" in text and "://" in text:
        text = redact_url(text)
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
