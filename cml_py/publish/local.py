"""No CI detected: the report and its images go into a local directory instead."""

from __future__ import annotations

import shutil
from pathlib import Path

from cml_py.fsio import write_atomic
from cml_py.publish import images as img


def publish_locally(text: str, report_dir: Path, target: Path) -> Path:
    """Copy the report with every publishable image it links into `target` (images from
    outside the report's directory are refused, as on a forge); returns the report."""
    refs = img.find_images(text)
    files, refused = img.resolve(refs, report_dir)
    if refused:
        text = img.without_refused(text, refs, refused)
        refs = [r for r in img.find_images(text) if r.src in files]
    target.mkdir(parents=True, exist_ok=True)
    urls = {}
    for src, path in files.items():
        destination = target / "images" / path.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.resolve() != path:
            shutil.copyfile(path, destination)
        urls[src] = f"images/{path.name}"
    report = target / "report.md"
    write_atomic(report, img.with_urls(text, refs, urls))
    return report
