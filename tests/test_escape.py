from __future__ import annotations

import re

import pytest

from cml_py.report.escape import ZWSP, html_text, md_cell, md_code


def test_table_breaking_and_html_characters_are_escaped() -> None:
    assert md_cell("a|b") == "a\\|b"
    assert md_cell("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert md_cell("[click](http://evil)") == f"\\[click\\](http{ZWSP}://evil)"
    assert md_cell("**bold** _it_ `code` ~~s~~ $x$") == (
        "\\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\~\\~s\\~\\~ \\$x\\$"
    )
    assert md_cell("line\nbreak") == "line break"
    assert md_cell("back\\slash") == "back\\\\slash"


def test_mentions_and_issue_refs_are_neutralised() -> None:
    assert md_cell("ping @octocat and #12") == f"ping @{ZWSP}octocat and #{ZWSP}12"
    assert html_text("@team") == f"@{ZWSP}team"
    assert md_cell("user@example") == f"user@{ZWSP}example"
    assert md_cell("a @ b") == "a @ b"


def test_html_text_escapes_quotes() -> None:
    assert html_text('"<b>"') == "&quot;&lt;b&gt;&quot;"


@pytest.mark.parametrize("brk", ["\r", "\n", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"])
def test_md_code_never_ends_its_line(brk: str, tmp_path) -> None:
    """A branch name from a PR's artifact with a line break would end the code span,
    and what follows — an image, a mention — would be live markdown. Read back from a
    report file as the publisher does, a lone CR is a line break too."""
    name = f"main{brk}{brk}![pixel](https://evil.example/p.png) @octocat"
    code = md_code(name)
    assert code.startswith("`main") and code.endswith("@octocat`") and code.count("`") == 2
    path = tmp_path / "report.md"
    path.write_text(f"Compared with {code} ·\n", encoding="utf-8", newline="")
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1


def test_md_code_handles_backticks() -> None:
    assert md_code("main") == "`main`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x") == "`` `x ``"


HOSTILE = [
    "see https://evil.example/login",
    "HTTP://EVIL.EXAMPLE",
    "www.evil.example",
    "ftp://evil.example/x",
    "mail me: mailto:x@evil.example or x@evil.example",
    "[click](https://evil.example)",
    "<a href='https://evil.example'>x</a>",
    "![pixel](https://evil.example/p.png)",
    "<https://evil.example>",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_no_untrusted_string_becomes_a_link_in_githubs_renderer(name: str) -> None:
    """Rendered by cmark-gfm with GitHub's extensions (autolinks included)."""
    import cmarkgfm

    table = f"| Metric | value |\n|:--|--:|\n| {md_cell(name)} | 1 |\n"
    html = cmarkgfm.github_flavored_markdown_to_html(table) + cmarkgfm.markdown_to_html(
        md_cell(name)
    )
    assert not re.search(r"<a\b|<img\b|\bhref=\"", html), html
    assert html.count("<tr>") == 2  # the table still has its header and one row
    summary = cmarkgfm.github_flavored_markdown_to_html(
        f"<details><summary>{html_text(name)}</summary>\n\nx\n</details>"
    )
    assert not re.search(r"<a\b|\bhref=\"", summary), summary


def test_references_and_bidi_overrides_are_neutralised() -> None:
    assert md_cell("fixes GH-123 and gh-7") == f"fixes GH{ZWSP}-123 and gh{ZWSP}-7"
    assert md_cell("acc\u202eLOSS") == "acc\ufffdLOSS"
    for char in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]:
        assert chr(char) not in md_cell(f"x{chr(char)}y") + html_text(f"x{chr(char)}y")
    assert md_cell("GHOST-1 and a#b") == f"GHOST-1 and a#{ZWSP}b"


def test_terminal_output_cannot_issue_workflow_commands_or_escapes() -> None:
    from cml_py.report.text import _plain

    line = _plain("::add-mask::x\n::error::spoofed \x1b[31mred\u202e")
    assert "::" not in line and "\x1b" not in line and "\u202e" not in line and "\n" not in line


def test_control_characters_cannot_drive_a_terminal_that_shows_the_report() -> None:
    """report.md is also read with `cat` or in a CI log: an ESC from a PR's run name or
    metric name would colour, move or clear what the reader sees."""
    assert md_cell("run\x1b[2Jname\x07") == "run\ufffd\\[2Jname\ufffd"
    assert html_text("a\x1bb\x00") == "a\ufffdb\ufffd"
    assert md_cell("plain name") == "plain name"


def test_c1_controls_are_replaced_like_c0_ones() -> None:
    """U+009B is CSI on its own in 8-bit terminals (`\x9b31m` colours as `\x1b[31m`
    does), and the other C1 codes are controls too; NEL (U+0085) is a line break."""
    from cml_py.terminal import one_line

    for code in range(0x80, 0xA0):
        line = one_line(f"a{chr(code)}31mb")
        assert line == ("a 31mb" if code == 0x85 else "a\ufffd31mb"), hex(code)
        assert chr(code) not in md_cell(f"a{chr(code)}b") + html_text(f"a{chr(code)}b")
    assert one_line("caf\u00e9 \u00a0ok") == "caf\u00e9 \u00a0ok"  # Latin-1 letters stay
