"""Untrusted text on one line of a terminal or a CI log (pure).

Names a pull request chose — a metric's, a file's, an MLflow run's — are printed in
tables and progress lines. A line break in one would start a log line of its own, which
the runner reads as a workflow command (`::error …`); an escape sequence would drive the
reader's terminal, and a bidi control would show the text in another order than it
reads. Line breaks become spaces; the other controls U+FFFD, C1 ones too (U+009B alone
is CSI to an 8-bit terminal).
"""

from __future__ import annotations

import re

_BREAK = re.compile("[\t\n\v\f\r\x85\u2028\u2029]")
_UNSAFE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    if text.isprintable():  # C-level, and true for almost every name
        return text
    return _UNSAFE.sub("\ufffd", _BREAK.sub(" ", text))
