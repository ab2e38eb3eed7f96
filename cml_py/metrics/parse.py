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
import math
import re
import sys
from typing import Any

from cml_py import limits as lim
from cml_py.bulk import paused_gc
from cml_py.errors import CmlError
from cml_py.model import HugeInt, Scalar
from cml_py.unicode import check_unicode

FORMATS = {
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".csv": "csv",
    ".tsv": "tsv",
}
LONG_HEADERS = ("name", "metric", "key", "param", "parameter")
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


def parse_file(data: bytes, path: str, limits: lim.Limits | None = None) -> dict[str, Scalar]:
    """Parse by file extension; errors name the file and, where known, line and column.

    Every limit in `limits` (default: the environment's) is checked before the work it
    bounds is done, so a hostile file is refused quickly and in bounded memory.
    """
    limits = limits or lim.active()
    kind = file_format(path)
    lim.check_size(path, len(data), limits)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CmlError(f"{path}: expected UTF-8 text, found invalid byte at {exc.start}") from None
    if kind in ("csv", "tsv"):
        return parse_table(text, path, delimiter="\t" if kind == "tsv" else ",", limits=limits)
    if not text.strip():
        return {}
    if kind == "json":
        with paused_gc():
            tree = _load_json(text, path, limits)
    elif kind == "yaml":
        from cml_py.yamlio import load_yaml

        tree = load_yaml(text, path, limits=limits)
    else:
        tree = _load_toml(text, path, limits)
    if kind == "json":  # YAML: load_yaml checks; TOML's parser refuses lone surrogates
        check_unicode(tree, text, path, json=True)
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise CmlError(
            f"{path}: expected a mapping of names to values at the top level, "
            f"got {type(tree).__name__}"
        )
    with paused_gc():
        return flatten(tree, path, limits)


def number_from_digits(text: str) -> int | float:
    """A decimal integer literal (`[-+]?[0-9]+`) of any length, without ever calling
    `int()` on thousands of digits (Python refuses above 4,300 and is quadratic below).

    Integers that fit in 64 bits stay exact; larger ones become the nearest float, as in
    every JSON parser outside Python; beyond the float range they are a `HugeInt`, which
    computes as ±inf (a gate calls it not a finite number) and prints as `1.234e+4999`.
    """
    if len(text) <= 20:
        value = int(text)
        if -(2**63) <= value < 2**63:
            return value
    number = float(text)
    if math.isinf(number):
        digits = text.lstrip("+-").lstrip("0")
        return HugeInt(digits[:4], len(digits) - 1, text.startswith("-"))
    return number


class _DuplicateKey(Exception):
    pass


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON objects with a repeated key are refused: silently keeping the last value
    (`{"acc": 0.5, "acc": 0.99}`) would let a file show one number and be judged on
    another."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _load_json(text: str, path: str, limits: lim.Limits) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_object, parse_int=number_from_digits)
    except json.JSONDecodeError as exc:
        raise CmlError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except _DuplicateKey as exc:
        raise CmlError(
            f"{path}: invalid JSON: the key {exc.args[0]!r} appears twice in one object"
        ) from None
    except RecursionError:
        raise CmlError(_too_deep(path, limits, parser=True)) from None


def _too_deep(path: str, limits: lim.Limits, *, parser: bool = False) -> str:
    """`parser`: the parser itself ran out of stack (Python's recursion limit, several
    hundred levels), which only means "deeper than the limit" when the limit is lower."""
    if parser and limits.depth >= 200:
        return f"{path}: nested too deeply for the parser (hundreds of levels)"
    return f"{path}: nested more than {limits.depth:,} levels deep ({lim.hint('depth', limits)})"


# An integer value longer than Python converts: rewritten as an overflowing float
# literal, which the recovery parse turns into a HugeInt (see _load_toml).
_TOML_HUGE_INT = re.compile(r"([=\[,{]\s*)([-+]?)([0-9][0-9_]{4000,})(?![\w.])")


def _load_toml(text: str, path: str, limits: lim.Limits) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CmlError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise CmlError(_too_deep(path, limits, parser=True)) from None
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise CmlError(f"{path}: invalid TOML: {exc}") from None

    # tomllib calls int() on integers of any length, which Python refuses above 4,300
    # digits; parse again with those integers written as (overflowing) floats.
    def huge(match: re.Match[str]) -> str:
        digits = match.group(3).replace("_", "").lstrip("0") or "0"
        return f"{match.group(1)}{match.group(2)}{digits[0]}.{digits[1:]}e{len(digits) - 1}"

    def parse_float(literal: str) -> float:
        value = float(literal)
        if math.isinf(value) and literal.lstrip("+-")[:1].isdigit():
            from decimal import Decimal

            exact = Decimal(literal.replace("_", ""))
            lead = "".join(map(str, exact.as_tuple().digits)).lstrip("0")[:4] or "0"
            return HugeInt(lead, exact.adjusted(), exact.is_signed())
        return value

    try:
        return tomllib.loads(_TOML_HUGE_INT.sub(huge, text), parse_float=parse_float)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise CmlError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise CmlError(_too_deep(path, limits, parser=True)) from None


_SCALARS = (str, float, int, bool, type(None))


def flatten(
    tree: dict[str, Any], path: str, limits: lim.Limits | None = None, *, fast: bool = True
) -> dict[str, Scalar]:
    """Nested mappings and lists → `a.b.c` and `name.0`; a name produced twice is an error.

    An explicit stack, not recursion: metrics files come from user code and may be deep.
    Depth and the number of values are checked as the tree is walked, before a huge list
    is expanded into names.
    """
    limits = limits or lim.active()
    max_values, max_depth = limits.values, limits.depth
    out: dict[str, Scalar] = {}
    count = 0
    stack: list[tuple[str, Any, int]] = [("", tree, 0)]
    while stack:
        prefix, node, depth = stack.pop()
        if depth > max_depth:
            raise CmlError(_too_deep(path, limits))
        if count + len(node) > max_values:
            raise CmlError(
                f"{path}: more than {max_values:,} values ({lim.hint('values', limits)})"
            )
        if fast and type(node) is dict and _plain_leaf(node):
            # The common node — string keys, scalar values — in C: one update.
            out.update(zip(map(prefix.__add__, node), node.values(), strict=True))
            count += len(node)
            if len(out) != count:  # a name made twice: find it the slow way to say which
                return flatten(tree, path, limits, fast=False)
            continue
        items: Any = node.items() if isinstance(node, dict) else enumerate(node)
        nested: list[tuple[str, Any, int]] = []
        for key, value in items:
            name = f"{prefix}{key}"
            if isinstance(value, (dict, list, tuple)):
                if value:
                    nested.append((name + ".", value, depth + 1))
                continue
            out[name] = value if isinstance(value, _SCALARS) else _scalar(value)
            count += 1
            if len(out) != count:
                raise CmlError(f"{path}: the name {name!r} appears twice after flattening")
        stack.extend(reversed(nested))
    return out


_LEAF_TYPES = frozenset({str, float, int, bool, type(None)})


def _plain_leaf(node: dict[Any, Any]) -> bool:
    """Only string keys and scalar values (floats, ints, strings, booleans, nulls)."""
    return _LEAF_TYPES.issuperset(map(type, node.values())) and all(
        type(key) is str for key in node
    )


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
        return number_from_digits(text)
    if _FLOAT.match(text):
        return float(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def _is_numeric_cell(cell: str) -> bool:
    text = cell.strip()
    return bool(_INT.match(text) or _FLOAT.match(text))


def _read_rows(text: str, path: str, delimiter: str, limits: lim.Limits) -> list[list[str]]:
    csv.field_size_limit(limits.csv_field_bytes)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        return [row for row in reader if any(row)]
    except csv.Error as exc:
        message = str(exc)
        if "field limit" in message:
            message = (
                f"a field is longer than {limits.csv_field_bytes:,} characters "
                f"({lim.hint('csv_field_bytes', limits)})"
            )
        raise CmlError(f"{path}:{reader.line_num}: invalid CSV: {message}") from None


def parse_table(
    text: str, path: str, *, delimiter: str, limits: lim.Limits | None = None
) -> dict[str, Scalar]:
    """CSV/TSV in either shape, told apart by the header, never guessed from the data.

    *long*: two columns under a header `name,value` (or `metric`, `key`, `param`,
    `parameter` for `name`), one row per value. *wide*: anything else — a header row of
    names and one row of values. A two-column file without that header could be either
    (`model,rf` / `solver,adam`), so unless its second row is clearly values (a number
    under each name) it is an error that says which header to add.
    """
    limits = limits or lim.active()
    rows = _read_rows(text, path, delimiter, limits)
    if not rows:
        return {}
    first = [cell.strip().lower() for cell in rows[0]]
    if len(first) > limits.values:
        raise CmlError(
            f"{path}: {len(first):,} columns, more than {limits.values:,} values "
            f"({lim.hint('values', limits)})"
        )
    if len(first) == 2 and first[0] in LONG_HEADERS and first[1] == "value":
        if len(rows) - 1 > limits.values:
            raise CmlError(
                f"{path}: more than {limits.values:,} values ({lim.hint('values', limits)})"
            )
        return _long(rows[1:], path, line_offset=2)
    long_hint = (
        "for one name and value per row, make the first line `name,value`"
        if delimiter == ","
        else "for one name and value per row, make the first line `name<TAB>value`"
    )
    if len(rows) != 2:
        raise CmlError(
            f"{path}: expected a header row and one row of values (wide), found {len(rows)} "
            f"rows of up to {max(map(len, rows))} columns; {long_hint}"
        )
    if len(first) == len(rows[1]) == 2 and (
        any(_is_numeric_cell(c) for c in rows[0]) or not any(_is_numeric_cell(c) for c in rows[1])
    ):
        raise CmlError(
            f"{path}: two columns and two rows without a `name,value` header: ambiguous; "
            f"{long_hint}, or keep a header row of names over one row of values"
        )
    return _wide(rows[0], rows[1], path)


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
