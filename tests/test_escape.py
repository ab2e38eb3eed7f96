from __future__ import annotations

from cml_py.report.escape import ZWSP, html_text, md_cell, md_code


def test_table_breaking_and_html_characters_are_escaped() -> None:
    assert md_cell("a|b") == "a\\|b"
    assert md_cell("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert md_cell("[click](http://evil)") == "\\[click\\](http://evil)"
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


def test_md_code_handles_backticks() -> None:
    assert md_code("main") == "`main`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x") == "`` `x ``"
