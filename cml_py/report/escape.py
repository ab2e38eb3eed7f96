"""Make untrusted text inert in GitHub-flavoured markdown and HTML (pure).

Metric names, param values and file names come from the PR being judged. In a comment
they must not break the table (`|`), inject HTML or links, format text, ping people
(`@user`) or reference issues (`#12`). Escaping uses backslashes for markdown
punctuation and entities for HTML, which both GitHub and GitLab render as plain text.
"""

from __future__ import annotations

import re

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
ZWSP = "\u200b"


def neutralise_mentions(text: str) -> str:
    """`@team` → `@\u200bteam`: still readable, never a notification or an issue link."""
    return _MENTION.sub(lambda m: m.group(1) + ZWSP, text)


def md_cell(text: str) -> str:
    """Text for a markdown table cell or a markdown paragraph."""
    return neutralise_mentions(text.translate(_MD_TABLE))


def html_text(text: str) -> str:
    """Text inside an HTML element (e.g. `<summary>`), where markdown is not parsed."""
    return neutralise_mentions(text.translate(_HTML))


def md_code(text: str) -> str:
    """Inline code for trusted-shape values such as commit SHAs and branch names."""
    text = text.replace("\n", " ")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
