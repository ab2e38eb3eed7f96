"""Tokens never appear in any output, log, exception message or report.

Every token cml-py reads is registered here the moment it is read; everything cml-py
prints or writes passes through `redact` — messages, every report file and the comment
it posts — and a logging filter does the same for any library that logs (PyGithub,
python-gitlab, urllib3), whatever the log level.

Reports matter as much as logs: a PR's training code can read the environment it runs
in, write a token into a metrics file as a metric's value, and have cml-py post it in
a comment. So a secret is masked in every form a renderer can turn it into — escaped
for markdown (`ghs\\_abc`), HTML or XML, or JSON-encoded — not only as itself.

Credentials inside URLs (`https://user:password@proxy:3128`, a git remote with a token)
are masked wherever they appear, registered or not: libraries quote the URL they failed
to parse in their error messages, and a proxy password must not reach a CI log.
"""

from __future__ import annotations

import re

MASK = "***"
_SECRETS: set[str] = set()
_FORMS: list[str] = []  # every secret in every rendered form, longest first

# scheme://userinfo@ — userinfo runs to the last "@" before the host (a password may
# itself contain "@", "/", "#" or ":"), never across whitespace or quotes. A markdown
# report breaks autolinks with a zero-width space after the scheme (`https\u200b://`).
_URL_CREDENTIALS_GREEDY = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*\u200b?://)[^\s'\"<>]*@")


def register(secret: str | None) -> None:
    if secret and len(secret) >= 4 and secret not in _SECRETS:
        _SECRETS.add(secret)
        _FORMS[:] = sorted({form for s in _SECRETS for form in rendered_forms(s)}, key=len)[::-1]
        install_logging_filter()


def rendered_forms(secret: str) -> set[str]:
    """The secret as each renderer may print it: itself, escaped for a markdown table
    or paragraph, for HTML and XML, JSON-encoded, and with the text renderer's break of
    `::` (a CI workflow command)."""
    import json

    from cml_py.report.escape import html_text, md_cell

    xml = secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    forms = {
        secret,
        md_cell(secret),
        html_text(secret),
        xml,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        secret.replace("::", ":\u200b:"),
    }
    return {form for form in forms if len(form) >= 4}


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
    for form in _FORMS:
        if form in text:
            text = text.replace(form, MASK)
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
