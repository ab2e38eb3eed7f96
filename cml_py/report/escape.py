"""Make untrusted text inert in GitHub-flavoured markdown and HTML (pure).

Metric names, param values and file names come from the PR being judged. In a comment
they must not break the table (`|`), inject HTML or links (also bare `https://…` and
`www.…`, which GitHub links by itself), format text, ping people (`@user`), reference
issues (`#12`, `GH-12`) or reorder what the reader sees (bidirectional overrides, as in
"Trojan Source"). Escaping uses backslashes for markdown punctuation and entities for
HTML, which both GitHub and GitLab render as plain text; links and references are
broken with an invisible zero-width space; bidi controls become U+FFFD.
"""

from __future__ import annotations

import re

from cml_py.terminal import one_line

_MD_TABLE = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "~": "\\~",
        "[": "\\[",
        "]": "\\]",
        "$": "\\$",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\r": " ",
        "\n": " ",
        "\t": " ",
    }
)
_HTML = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "\n": " ", "\r": " "}
)
_MENTION = re.compile(r"([@#])(?=[\w-])")
_AUTOLINK = re.compile(r"(?i)\b(?:https?|ftp|mailto|xmpp)(?=:)|\bwww(?=\.)")
_GH_REFERENCE = re.compile(r"(?i)\b(GH)(-\d)")
ZWSP = "\u200b"


def neutralise_mentions(text: str) -> str:
    """`@team` → `@\u200bteam`, `#12`/`GH-12` → broken references, `https://x` and
    `www.x` → no autolink, bidi overrides → U+FFFD: still readable, never a
    notification, a link, or text that displays in another order than it reads."""
    text = one_line(text)  # an ESC would also drive the terminal of `cat report.md`
    text = _MENTION.sub(lambda m: m.group(1) + ZWSP, text)
    text = _AUTOLINK.sub(lambda m: m.group(0) + ZWSP, text)
    return _GH_REFERENCE.sub(lambda m: m.group(1) + ZWSP + m.group(2), text)


_BLOCK_START = re.compile(r"^(\s*)(?:([-+#])|(\d{1,9})([.)]))(?=\s|$)")


def _literal_start(match: re.Match[str]) -> str:
    if match.group(2):
        return f"{match.group(1)}\\{match.group(2)}"
    return f"{match.group(1)}{match.group(3)}\\{match.group(4)}"


def md_cell(text: str) -> str:
    """Text for a markdown table cell or a markdown paragraph (or list item): a leading
    list marker or heading (`- `, `+ `, `# `, `1. `) is escaped too, or a note starting
    with a PR's file name `- x.json` would become a nested list."""
    return neutralise_mentions(_BLOCK_START.sub(_literal_start, text.translate(_MD_TABLE), count=1))


def html_text(text: str) -> str:
    """Text inside an HTML element (e.g. `<summary>`), where markdown is not parsed."""
    return neutralise_mentions(text.translate(_HTML))


def md_code(text: str) -> str:
    """Inline code for values such as commit SHAs and branch names. Nothing inside a
    code span is markdown, but a line break ends it — `\r` as much as `\n` (a report
    file read back turns a lone `\r` into a line) — and what follows would be markdown
    again: every line break becomes a space, every other control U+FFFD."""
    text = one_line(text)
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
