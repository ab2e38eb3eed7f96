"""Local images referenced by a report: find them, and rewrite their links (pure).

Both markdown `![alt](path)` and HTML `<img src="path">` count, wherever they stand —
inside `<details>` too. Links that are already URLs (http, https, data, or a forge's
own `/uploads/...`) are left alone.

Whatever a report says, only image files inside the report's own directory are ever
read and published: a reference that is absolute, climbs out with `..`, goes through a
symlink or names something that is not a PNG, JPEG, GIF or WebP image is replaced by a
note. Publishing copies files to the forge, so a reference to `/proc/self/environ`
must not be able to post the environment.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from cml_py.errors import CmlError
from cml_py.paths import lookup_error

_MARKDOWN = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src><[^>]*>|[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
_HTML = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*(?P<q>[\"'])(?P<src>.*?)(?P=q)[^>]*>", re.IGNORECASE)
TABLE_BYTES = 256 * 1024
"""A chart's data table is a few rows; a report artifact could hold a huge file there,
which the comment could not hold anyway."""
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|/uploads/|#)", re.IGNORECASE)


@dataclass(frozen=True)
class ImageRef:
    start: int
    end: int
    src: str  # as written in the report
    alt: str
    html: bool
    src_at: int  # where `src` starts in the report (the alt text may read the same)

    @property
    def local_path(self) -> str:
        return unquote(self.src.strip("<>"))


def find_images(markdown: str) -> list[ImageRef]:
    refs = []
    for match in _MARKDOWN.finditer(markdown):
        src = match.group("src")
        if not _REMOTE.match(src.strip("<>")):
            refs.append(
                ImageRef(
                    match.start(), match.end(), src, match.group("alt"), False, match.start("src")
                )
            )
    for match in _HTML.finditer(markdown):
        src = match.group("src")
        if not _REMOTE.match(src):
            alt = re.search(r"\balt\s*=\s*([\"'])(.*?)\1", match.group(0))
            refs.append(
                ImageRef(
                    match.start(),
                    match.end(),
                    src,
                    alt.group(2) if alt else "",
                    True,
                    match.start("src"),
                )
            )
    return sorted(refs, key=lambda r: r.start)


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)


def _is_image(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(signature) for signature, _ in _SIGNATURES)


def _refusal(ref: ImageRef, report_dir: Path) -> tuple[Path | None, str | None]:
    """(file, None) for a publishable reference, else (None, why not)."""
    raw = ref.local_path
    if not raw or raw.startswith(("/", "\\")) or "\\" in raw or ":" in raw.split("/")[0]:
        return None, "not a relative path"
    normal = posixpath.normpath(raw)
    if normal == ".." or normal.startswith("../"):
        return None, "outside the report's directory"
    root = report_dir.resolve()
    candidate = root
    try:
        for part in normal.split("/"):
            candidate = candidate / part
            if candidate.is_symlink():
                return None, "a symlink"
        present = candidate.is_file()
    except OSError as exc:
        raise lookup_error(str(report_dir), f"the image {raw!r} the report links", exc) from None
    if not present:
        raise CmlError(
            f"the report links the image {raw!r}, which does not exist (looked in {report_dir})"
        )
    if not _is_image(candidate):
        return None, "not a PNG, JPEG, GIF or WebP image"
    return candidate, None


def resolve(refs: list[ImageRef], report_dir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """The file of each distinct publishable reference, and the reason for each refused
    one; a missing file is an error naming it."""
    files: dict[str, Path] = {}
    refused: dict[str, str] = {}
    for ref in refs:
        if ref.src in files or ref.src in refused:
            continue
        path, reason = _refusal(ref, report_dir)
        if path is not None:
            files[ref.src] = path
        else:
            refused[ref.src] = reason or "refused"
    return files, refused


def without_refused(markdown: str, refs: list[ImageRef], refused: Mapping[str, str]) -> str:
    """Each refused reference becomes a note saying why it was not published."""
    chosen = [r for r in refs if r.src in refused]

    def replace(ref: ImageRef) -> str:
        return f"_Image not published: {_plain(ref.local_path)} is {refused[ref.src]}._"

    return rewrite(markdown, chosen, replace)


def _plain(text: str) -> str:
    from cml_py.report.escape import md_cell

    return md_cell(text)


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
        at = ref.src_at - ref.start  # the link itself: an alt text may say the same
        original = markdown[ref.start : ref.end]
        return original[:at] + urls[ref.src] + original[at + len(ref.src) :]

    return rewrite(markdown, refs, replace)


def without_images(markdown: str, refs: list[ImageRef], report_dir: Path) -> str:
    """`--images none`: each image becomes its data table (`<chart>.md` beside the PNG,
    written with the chart) and a note; never a broken link. A table that cannot be read
    as UTF-8 text (cml-py did not write it so) is left out like a missing one, the note
    saying so: the report matters more than one chart's data."""

    def replace(ref: ImageRef) -> str:
        what = _plain(ref.alt or ref.local_path)
        note = f"_Chart not published (images: none): {what}._"
        try:
            image, reason = _refusal(ref, report_dir)
        except CmlError:
            return note
        table = image.with_suffix(".md") if image is not None and reason is None else None
        if table is not None and table.is_file() and not table.is_symlink():
            try:
                with table.open("rb") as handle:
                    data = handle.read(TABLE_BYTES + 1)
                text = data.decode("utf-8").strip()
            except (OSError, UnicodeDecodeError):
                return (
                    f"_Chart not published (images: none): {what}; its data table "
                    f"{_plain(table.name)} is not readable UTF-8 text._"
                )
            if len(data) > TABLE_BYTES:
                return (
                    f"_Chart not published (images: none): {what}; its data table "
                    f"{_plain(table.name)} is over {TABLE_BYTES // 1024} KiB._"
                )
            return f"{note}\n\n{text}\n"
        return note

    return rewrite(markdown, refs, replace)
