"""Bytes of a metrics/params file → a flat mapping of dotted names to scalar values.

Pure functions: the same code reads a file from the working tree and the same file as
it was at the base commit. Nothing is dropped silently — lists become `name.0`,
`name.1`…, non-numeric values are kept, NaN and ±inf survive — because a value that
disappears from the diff is a value the reviewer cannot question.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import re
from typing import Any

from cml_py.errors import CmlError
from cml_py.model import Scalar

FORMATS = {
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".csv": "csv",
    ".tsv": "tsv",
}
_LONG_HEADERS = {"name", "metric", "key", "param", "parameter"}
_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(
    r"^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|infinity)$", re.IGNORECASE
)


def file_format(path: str) -> str:
    dot = path.rfind(".")
    ext = path[dot:].lower() if dot > path.rfind("/") else ""
    try:
        return FORMATS[ext]
    except KeyError:
        raise CmlError(
            f"{path}: unsupported file type {ext or '(none)'!r}; "
            "expected .json, .yaml, .yml, .toml, .csv or .tsv"
        ) from None


def parse_file(data: bytes, path: str) -> dict[str, Scalar]:
    """Parse by file extension; errors name the file and, where known, line and column."""
    kind = file_format(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CmlError(f"{path}: expected UTF-8 text, found invalid byte at {exc.start}") from None
    if kind in ("csv", "tsv"):
        return parse_table(text, path, delimiter="\t" if kind == "tsv" else ",")
    if not text.strip():
        return {}
    if kind == "json":
        tree = _load_json(text, path)
    elif kind == "yaml":
        from cml_py.yamlio import load_yaml

        tree = load_yaml(text, path)
    else:
        tree = _load_toml(text, path)
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise CmlError(
            f"{path}: expected a mapping of names to values at the top level, "
            f"got {type(tree).__name__}"
        )
    return flatten(tree, path)


def _load_json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CmlError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise CmlError(f"{path}: invalid JSON: nested too deeply") from None


def _load_toml(text: str, path: str) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CmlError(f"{path}: invalid TOML: {exc}") from None


def flatten(tree: dict, path: str) -> dict[str, Scalar]:
    """Nested mappings and lists → `a.b.c` and `name.0`; a name produced twice is an error."""
    out: dict[str, Scalar] = {}
    stack: list[tuple[str, Any]] = [("", tree)]
    # An explicit stack, not recursion: metrics files come from user code and may be deep.
    while stack:
        prefix, node = stack.pop()
        if isinstance(node, dict):
            items = [(str(k), v) for k, v in node.items()]
        elif isinstance(node, (list, tuple)):
            items = [(str(i), v) for i, v in enumerate(node)]
        else:
            if prefix in out:
                raise CmlError(f"{path}: the name {prefix!r} appears twice after flattening")
            out[prefix] = _scalar(node)
            continue
        if not items and prefix:
            continue
        for key, value in reversed(items):
            stack.append((f"{prefix}.{key}" if prefix else key, value))
    return out


def _scalar(value: Any) -> Scalar:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return str(value)


def parse_cell(cell: str) -> Scalar:
    """A CSV cell as the most specific scalar: int, float (NaN/inf too), bool, null, str."""
    text = cell.strip()
    if not text:
        return None
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def _is_numeric_cell(cell: str) -> bool:
    text = cell.strip()
    return bool(_INT.match(text) or _FLOAT.match(text))


def parse_table(text: str, path: str, *, delimiter: str) -> dict[str, Scalar]:
    """CSV/TSV in either shape.

    *wide*: a header row of names and one row of values. *long*: two columns, name and
    value, with an optional `name,value` (or metric/key/param) header. Neither a header
    row nor a name is ever a number, which is how the two shapes are told apart.
    """
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(row)]
    if not rows:
        return {}
    first = [cell.strip().lower() for cell in rows[0]]
    if len(first) == 2 and first[0] in _LONG_HEADERS and first[1] == "value":
        return _long(rows[1:], path, line_offset=2)
    if len(rows) == 2 and not any(_is_numeric_cell(c) for c in rows[0]):
        return _wide(rows[0], rows[1], path)
    if all(len(row) == 2 and not _is_numeric_cell(row[0]) for row in rows):
        return _long(rows, path, line_offset=1)
    raise CmlError(
        f"{path}: expected a header row and one row of values (wide) or two columns "
        f"name,value (long); found {len(rows)} rows of up to {max(map(len, rows))} columns"
    )


def _wide(header: list[str], values: list[str], path: str) -> dict[str, Scalar]:
    if len(header) != len(values):
        raise CmlError(
            f"{path}: the header has {len(header)} columns but the values row has {len(values)}"
        )
    out: dict[str, Scalar] = {}
    for column, (name, cell) in enumerate(zip(header, values, strict=True), start=1):
        name = name.strip()
        if not name:
            raise CmlError(f"{path}: column {column} has an empty name in the header row")
        if name in out:
            raise CmlError(f"{path}: the name {name!r} appears twice in the header row")
        out[name] = parse_cell(cell)
    return out


def _long(rows: list[list[str]], path: str, *, line_offset: int) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {}
    for index, row in enumerate(rows):
        if len(row) != 2:
            raise CmlError(
                f"{path}: row {index + line_offset}: expected 2 columns (name, value), "
                f"got {len(row)}"
            )
        name = row[0].strip()
        if not name:
            raise CmlError(f"{path}: row {index + line_offset}: the name is empty")
        if name in out:
            raise CmlError(f"{path}: row {index + line_offset}: the name {name!r} appears twice")
        out[name] = parse_cell(row[1])
    return out
