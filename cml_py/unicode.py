"""Refusing documents whose strings are not valid Unicode: lone surrogates.

JSON's `\\ud800` escape (and YAML's, when PyYAML runs without libyaml) decodes to half
of a UTF-16 surrogate pair on its own. Python keeps it in a `str`, but no UTF-8 writer
takes it: printing the name crashes, and a stream with the surrogateescape handler (a
C locale's stdout) writes `\\udc80` as the raw byte 0x80, breaking the promise that JSON
output is valid UTF-8. The parsers cannot be told to refuse them, so the parsed
document is walked — but only when a scan of the raw text (in C) finds a surrogate
escape that is not half of a JSON pair: a document of hundreds of thousands of names
pays one regex scan. A valid pair (`\\ud83d\\ude00`, as json.dump writes an emoji)
decodes to one character and passes.
"""

from __future__ import annotations

import re
from typing import Any

from cml_py.errors import CmlError

# `\uD800`-`\uDFFF` in JSON, YAML and TOML; `\U0000D800` in YAML and TOML.
_ESCAPE = re.compile(r"\\(?:u|U0000)[dD][89a-fA-F]")
# JSON decodes a pair of surrogate escapes into one character (json.dump writes every
# emoji so): with pairs and escaped backslashes matched as tokens of their own (so that
# `\\ud800`, a backslash and then text, is no escape), any other match is a lone one.
# The backslash leads outside the group, so the scan for it runs at C speed.
_JSON_ESCAPES = re.compile(
    r"\\(?:(\\)|(u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})|u[dD][89a-fA-F])"
)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTAINERS = (dict, list, tuple, set)  # a YAML !!set too: its items are printed


def check_unicode(tree: Any, text: str | bytes, source: str, *, json: bool = False) -> None:
    """Raise a CmlError naming the first key or string value of `tree` (parsed from
    `text`, JSON when `json`) that holds a lone surrogate. Bytes (small YAML files
    handed to the parser undecoded) are always checked: they may be in UTF-16."""
    if isinstance(text, str):
        if _ESCAPE.search(text) is None:
            return
        if json and all(m.lastindex for m in _JSON_ESCAPES.finditer(text)):
            return  # only pairs
    found = _lone_surrogate(tree)
    if found is None:
        return
    name, is_key, char = found
    shown = repr(name) if len(name) <= 80 else repr(name[:77] + "...")
    what = f"the name {shown}" if is_key else f"the value of {shown}" if name else "the value"
    raise CmlError(
        f"{source}: {what} is not valid Unicode: it holds a lone surrogate "
        f"(\\u{ord(char):04x}); expected text, with surrogate escapes only in pairs"
    )


def _lone_surrogate(tree: Any) -> tuple[str, bool, str] | None:
    """(dotted name, whether the name itself holds it, the surrogate) of the first
    string in `tree` holding a lone surrogate; None when there is none."""
    if isinstance(tree, str):
        match = _SURROGATE.search(tree)
        return ("", False, match.group()) if match else None
    if not isinstance(tree, _CONTAINERS):
        return None
    stack: list[tuple[str, Any]] = [("", tree)]
    while stack:
        prefix, node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        nested: list[tuple[str, Any]] = []
        for key, value in items:
            name = f"{prefix}{key}"
            if isinstance(key, str) and (match := _SURROGATE.search(key)):
                return name, True, match.group()
            if isinstance(value, str):
                if match := _SURROGATE.search(value):
                    return name, False, match.group()
            elif isinstance(value, _CONTAINERS):
                nested.append((name + ".", value))
        stack.extend(reversed(nested))
    return None
