"""Report → markdown (jinja2 template), plain text, JSON and JUnit XML.

Rows are built once in `view.py` and only formatted by each renderer, so the numbers a
reviewer sees in the PR comment, the terminal and the JSON are always the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from cml_py.model import Report

if TYPE_CHECKING:
    from cml_py.report.template_source import TemplateSource

FORMATS = ("md", "text", "json", "junit")
DEFAULT_FILES = {
    "md": "report.md",
    "text": "report.txt",
    "json": "report.json",
    "junit": "report.xml",
}


def render(report: Report, fmt: str, *, template: TemplateSource | None = None) -> str:
    """Render with the named format; heavy renderers are imported only when asked for."""
    renderer: Callable[[Report], str]
    if fmt == "md":
        from cml_py.report.markdown import render_markdown

        return render_markdown(report, template=template)
    if fmt == "text":
        from cml_py.report.text import render_text as renderer
    elif fmt == "json":
        from cml_py.report.json_out import render_json as renderer
    elif fmt == "junit":
        from cml_py.report.junit import render_junit as renderer
    else:
        raise ValueError(f"unknown report format {fmt!r}")
    return renderer(report)


def render_chunks(
    report: Report, fmt: str, *, template: TemplateSource | None = None
) -> Iterator[str]:
    """The rendered report in pieces, to write as they come: JSON holds every row (half
    a million at the scale cml-py is measured at), so it is produced a block of rows at
    a time instead of as one string the size of the file, plus its encoded copy."""
    if fmt == "json":
        from cml_py.report.json_out import iter_json

        yield from iter_json(report)
    elif fmt == "text":
        from cml_py.report.text import in_blocks, text_lines

        yield from in_blocks(text_lines(report))
    else:
        yield render(report, fmt, template=template)
