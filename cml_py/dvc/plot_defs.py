"""dvc.yaml's `plots:` entries (top-level and per stage) as PlotDefs: a data file or a
glob of them, the x/y fields, the template, or an image output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cml_py.dvc.project import (
    IMAGE_SUFFIXES,
    PLOT_DATA_SUFFIXES,
    TEMPLATES,
    PlotDef,
    _entries,
    _templated,
    _where,
    join_inside,
)
from cml_py.errors import CmlError


def _plot_items(value: Any, file: str) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if isinstance(value, Mapping):  # the older mapping form
        return [(str(k), v) for k, v in value.items()]
    return _entries(value, file, "plots")


def _is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)


def _plot(
    item: tuple[str, Any], here: str, file: str, keys: tuple[object, ...], skipped: list[str]
) -> PlotDef | None:
    """A top-level plot: `path`, `{path: options}` or `{id: {y: {file: field}, …}}`."""
    name, options = item
    if _templated(name):
        skipped.append(f"{_where(file, *keys)}: {name}")
        return None
    if options is not None and not isinstance(options, Mapping):
        raise CmlError(f"{_where(file, *keys, name)}: expected a mapping of plot options")
    y = (options or {}).get("y")
    if isinstance(y, Mapping):  # an id with its data files under y
        return _plot_options(None, options, here, file, (*keys, name), plot_id=name)
    path = join_inside(here, name, file, *keys)
    return _plot_options(path, options, here, file, (*keys, name))


def _fields(value: Any, where: str) -> list[str | None]:
    if value is None:
        return [None]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise CmlError(f"{where}: expected a field name or a list of them")


def _plot_options(
    path: str | None,
    options: Any,
    here: str,
    file: str,
    keys: tuple[object, ...],
    plot_id: str | None = None,
) -> PlotDef:
    options = options if isinstance(options, Mapping) else {}
    where = _where(file, *keys)
    template = options.get("template", "linear")
    if not isinstance(template, str) or template not in TEMPLATES:
        raise CmlError(
            f"{where}.template: expected one of {', '.join(TEMPLATES)}, got {template!r}"
        )
    y_pairs: list[tuple[str, str | None]] = []
    y = options.get("y")
    if isinstance(y, Mapping):
        for data_file, fields_ in y.items():
            target = join_inside(here, str(data_file), file, *keys, "y")
            y_pairs += [(target, f) for f in _fields(fields_, f"{where}.y.{data_file}")]
    else:
        assert path is not None
        y_pairs = [(path, f) for f in _fields(y, f"{where}.y")]
    x = options.get("x")
    x_field: str | None = None
    x_files: list[tuple[str, str]] = []
    if isinstance(x, Mapping):
        for data_file, value in x.items():
            if not isinstance(value, str):
                raise CmlError(f"{where}.x.{data_file}: expected a field name")
            x_files.append((join_inside(here, str(data_file), file, *keys, "x"), value))
    elif x is not None:
        if not isinstance(x, str):
            raise CmlError(f"{where}.x: expected a field name")
        x_field = x
    files = [p for p, _ in y_pairs]
    image = bool(files) and all(_is_image(p) for p in files)
    labels = {}
    for key in ("title", "x_label", "y_label"):
        value = options.get(key)
        if value is not None and not isinstance(value, str):
            raise CmlError(f"{where}.{key}: expected text")
        labels[key] = value
    directory = path is not None and not image and not path.lower().endswith(PLOT_DATA_SUFFIXES)
    return PlotDef(
        id=plot_id or path or "plot",
        template=template,
        x=x_field,
        y=tuple(y_pairs),
        x_files=tuple(x_files),
        image=image,
        directory=directory,
        **labels,
    )
