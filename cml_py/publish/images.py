"""Local images referenced by a report: find them, and rewrite their links (pure).

Both markdown `![alt](path)` and HTML `<img src="path">` count, wherever they stand —
inside `<details>` too. Links that are already URLs (http, https, data, or a forge's
own `/uploads/...`) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from cml_py.errors import CmlError

_MARKDOWN = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src><[^>]*>|[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
_HTML = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*(?P<q>[\"'])(?P<src>.*?)(?P=q)[^>]*>", re.IGNORECASE)
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|/uploads/|#)", re.IGNORECASE)


@dataclass(frozen=True)
class ImageRef:
    start: int
    end: int
    src: str  # as written in the report
    alt: str
    html: bool

    @property
    def local_path(self) -> str:
        return unquote(self.src.strip("<>"))


def find_images(markdown: str) -> list[ImageRef]:
    refs = []
    for match in _MARKDOWN.finditer(markdown):
        src = match.group("src")
        if not _REMOTE.match(src.strip("<>")):
            refs.append(ImageRef(match.start(), match.end(), src, match.group("alt"), False))
    for match in _HTML.finditer(markdown):
        src = match.group("src")
        if not _REMOTE.match(src):
            alt = re.search(r"\balt\s*=\s*([\"'])(.*?)\1", match.group(0))
            refs.append(
                ImageRef(match.start(), match.end(), src, alt.group(2) if alt else "", True)
            )
    return sorted(refs, key=lambda r: r.start)


def resolve(refs: list[ImageRef], report_dir: Path) -> dict[str, Path]:
    """Local path of each distinct reference; a missing file is an error naming it."""
    out: dict[str, Path] = {}
    for ref in refs:
        if ref.src in out:
            continue
        path = (report_dir / ref.local_path).resolve()
        if not path.is_file():
            raise CmlError(
                f"the report links the image {ref.local_path!r}, which does not "
                f"exist (looked in {report_dir})"
            )
        out[ref.src] = path
    return out


def rewrite(markdown: str, refs: list[ImageRef], replace: Callable[[ImageRef], str]) -> str:
    """Replace each reference's whole `![..](..)` or `<img ..>` with `replace(ref)`."""
    parts, pos = [], 0
    for ref in refs:
        parts += [markdown[pos : ref.start], replace(ref)]
        pos = ref.end
    return "".join(parts) + markdown[pos:]


def with_urls(markdown: str, refs: list[ImageRef], urls: Mapping[str, str]) -> str:
    """Point every reference at its published URL, keeping the tag's other attributes."""

    def replace(ref: ImageRef) -> str:
        original = markdown[ref.start : ref.end]
        return original.replace(ref.src, urls[ref.src], 1)

    return rewrite(markdown, refs, replace)


def without_images(markdown: str, refs: list[ImageRef], report_dir: Path) -> str:
    """`--images none`: each image becomes its data table (`<chart>.md` beside the PNG,
    written with the chart) and a note; never a broken link."""

    def replace(ref: ImageRef) -> str:
        table = (report_dir / ref.local_path).with_suffix(".md")
        note = f"_Chart not published (images: none): {ref.alt or ref.local_path}._"
        if table.is_file():
            return f"{note}\n\n{table.read_text(encoding='utf-8').strip()}\n"
        return note

    return rewrite(markdown, refs, replace)
