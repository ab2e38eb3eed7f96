"""DVC plots: each plot's data on both sides, read once, as plain records.

The plot definitions come from the dvc.yaml that applies (main's, see settings.py); this
PR's data from the working tree (regular files inside the repository only), main's from
the base source — git, else main's dvc.lock and the DVC cache or remote. A data file
that is missing or unreadable on one side is a note, never an error: a chart is not
worth failing a job over.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cml_py.dvc.project import IMAGE_SUFFIXES, PLOT_DATA_SUFFIXES, PlotDef
from cml_py.errors import CmlError
from cml_py.limits import active, hint
from cml_py.paths import check_readable, lookup_error
from cml_py.unicode import check_unicode

MAX_BYTES = 20 * 1024 * 1024  # per data file: plots are for a comment, not a data lake
MAX_RECORDS = 200_000
MAX_IMAGE_PIXELS = 25_000_000  # 5000 × 5000: a chart image, not a photograph
Records = list[dict[str, Any]]


@dataclass(frozen=True)
class PlotData:
    """One plot and its files' contents per side: records for data files, bytes for
    images; a file absent on a side is simply not there."""

    plot: PlotDef
    base: tuple[tuple[str, Any], ...] = ()
    head: tuple[tuple[str, Any], ...] = ()
    base_name: str = "main"


def _number(text: str | None) -> Any:
    if text is None:  # a row shorter than the header
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _find_records(tree: Any) -> Records | None:
    """DVC's data shapes: a list of records, or a mapping holding one (dvclive writes
    `{"roc": [...]}`), searched breadth-first."""
    queue = deque([tree])
    while queue:
        node = queue.popleft()
        if isinstance(node, list) and node and all(isinstance(r, Mapping) for r in node):
            return [dict(r) for r in node]
        if isinstance(node, Mapping):
            queue.extend(node.values())
    return None


def parse_records(data: bytes, path: str) -> Records:
    """A plot data file (JSON, YAML, CSV, TSV) → records (pure)."""
    if len(data) > MAX_BYTES:
        raise CmlError(f"{path}: {len(data):,} bytes is more than a plot can show")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CmlError(f"{path}: expected UTF-8 text") from None
    lower = path.lower()
    if lower.endswith((".csv", ".tsv")):
        delimiter = "\t" if lower.endswith(".tsv") else ","
        limits = active()
        csv.field_size_limit(limits.csv_field_bytes)  # process-wide: set each time
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
        try:
            records = [{k: _number(v) for k, v in row.items() if k is not None} for row in reader]
        except csv.Error as exc:  # a field beyond the limit
            raise CmlError(
                f"{path}: invalid CSV: {exc} ({hint('csv_field_bytes', limits)})"
            ) from None
    else:
        if lower.endswith(".json"):
            try:
                tree = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise CmlError(f"{path}: invalid JSON: {exc}") from None
            check_unicode(tree, text, path, json=True)
        else:
            from cml_py.yamlio import load_yaml

            tree = load_yaml(text, path)
        found = _find_records(tree)
        if found is None:
            raise CmlError(f"{path}: expected a list of records (or a mapping holding one)")
        records = found
    if len(records) > MAX_RECORDS:
        raise CmlError(f"{path}: {len(records):,} rows is more than a plot can show")
    return records


def _files(plot: PlotDef, listing: list[str]) -> list[str]:
    """The plot's files; a directory plot takes every data file or image under it."""
    if not plot.directory:
        return list(dict.fromkeys(path for path, _ in plot.y))
    prefixes = [path.rstrip("/") + "/" for path, _ in plot.y]
    return sorted(
        p
        for p in listing
        if any(p.startswith(prefix) for prefix in prefixes)
        and p.lower().endswith((*PLOT_DATA_SUFFIXES, *IMAGE_SUFFIXES))
    )


def _expand(plot: PlotDef, files: list[str]) -> list[PlotDef]:
    """A directory plot becomes one plot per file (DVC draws them separately)."""
    if not plot.directory:
        return [plot]
    from dataclasses import replace

    field = plot.y[0][1] if plot.y else None
    return [
        replace(
            plot,
            id=path,
            y=((path, field),),
            directory=False,
            image=path.lower().endswith(IMAGE_SUFFIXES),
        )
        for path in files
    ]


def _decode(path: str, data: bytes, image: bool) -> Any:
    if not image:
        return parse_records(data, path)
    if len(data) > MAX_BYTES:
        raise CmlError(f"{path}: {len(data):,} bytes is more than a plot can show")
    check_image_size(data, path)
    return data


def check_image_size(data: bytes, path: str) -> None:
    """Refuse an image by the size its header declares, before anything decodes it: a
    656 KB PNG of 13,000 × 13,000 pixels took 6 GB and 23 s to draw (Pillow's own guard
    only warns below 179 million pixels). A header Pillow cannot read is left to the
    chart, which shows such an image as unreadable. SVG is not drawn at all."""
    if path.lower().endswith(".svg"):
        return
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as picture:
                width, height = picture.size
    except Image.DecompressionBombError:
        raise CmlError(f"{path}: an image of too many pixels for a plot") from None
    except Exception:  # not an image Pillow knows: the chart says so
        return
    if width * height > MAX_IMAGE_PIXELS:
        raise CmlError(
            f"{path}: an image of {width:,} × {height:,} pixels is more than a plot can show"
        )


def _read_head(target: Path, path: str) -> bytes:
    """The PR's data file, refused by its size before it is read."""
    try:
        size = target.stat().st_size
        if size > MAX_BYTES:
            raise CmlError(f"{path}: {size:,} bytes is more than a plot can show")
        return target.read_bytes()
    except OSError as exc:  # a directory where the file should be, permissions
        raise CmlError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def load_plots(state: Any, ws: Any, source: Any, notes: list[str]) -> tuple[PlotData, ...]:
    """Both sides' data for every plot dvc.yaml declares."""
    root = ws.root
    head_listing: list[str] = []
    base_listing: list[str] = []
    if any(plot.directory for plot in state.plots):
        head_listing = sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
        )
        try:  # a directory output's listing may have to come from the remote
            base_listing = source.list_files()
        except CmlError as exc:  # plots are never worth failing a job over
            notes.append(f"Plots: {ws.base.name}'s files could not be listed ({exc}).")
    out: list[PlotData] = []
    for declared in state.plots:
        head_files = _files(declared, head_listing)
        base_files = _files(declared, base_listing)
        for plot in _expand(declared, list(dict.fromkeys([*head_files, *base_files]))):
            files = list(dict.fromkeys(path for path, _ in plot.y))
            head = []
            for path in files:
                target = root / path
                try:
                    if not (target.exists() or target.is_symlink()):
                        continue
                except OSError as exc:
                    raise lookup_error(path, "a plot file", exc) from None
                check_readable(target, root, "a plot file", path)
                try:
                    head.append((path, _decode(path, _read_head(target, path), plot.image)))
                except CmlError as exc:
                    notes.append(f"Plot {plot.id}: this PR's {exc}; skipped.")
            base = []
            try:
                blobs = source.read_files(files)
            except CmlError as exc:
                notes.append(f"Plot {plot.id}: {ws.base.name}'s data could not be read ({exc}).")
                blobs = {}
            for path in files:
                data = blobs.get(path)
                if data is None:
                    continue
                try:
                    base.append((path, _decode(path, data, plot.image)))
                except CmlError as exc:
                    notes.append(f"Plot {plot.id}: {ws.base.name}'s {exc}; skipped.")
            out.append(PlotData(plot, tuple(base), tuple(head), ws.base.name))
    return tuple(out)


def series(
    records: Records, plot: PlotDef, path: str, field: str | None
) -> tuple[list[Any], list[Any]]:
    """(x, y) of one file's field; x is the plot's (or this file's) x field, else the
    row number, as DVC's `step`."""
    x_field = dict(plot.x_files).get(path, plot.x)
    if field is None:  # DVC: the last field that is not x
        names = [k for k in (records[0] if records else {}) if k != x_field]
        field = names[-1] if names else None
    xs, ys = [], []
    for index, record in enumerate(records):
        y = record.get(field) if field is not None else None
        x = record.get(x_field, index) if x_field is not None else index
        xs.append(x)
        ys.append(y)
    return xs, ys


def label_for(plot: PlotDef, path: str, field: str | None) -> str:
    """A short name for one series: the file (without a shared directory) and field."""
    files = [p for p, _ in plot.y]
    common = posixpath.commonpath([posixpath.dirname(p) for p in files]) if len(files) > 1 else None
    name = posixpath.relpath(path, common) if common else posixpath.basename(path)
    fields = [f for p, f in plot.y if p == path]
    return f"{name}:{field}" if (field and len(fields) > 1) or (len(files) == 1 and field) else name
