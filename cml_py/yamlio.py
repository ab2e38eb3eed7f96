"""One strict, bounded YAML loader for cml.yaml and for metrics/params files.

PyYAML's defaults hide two mistakes that would quietly change a verdict: a duplicated
key keeps only its last value (a gate rule silently disappears), and `1e-3` without a
dot is read as a string (YAML 1.1). This loader rejects the first and reads the second
as a number, as YAML 1.2 and every other tool a user knows do.

It is also bounded: aliases let a few hundred bytes describe billions of nodes ("billion
laughs"), which PyYAML would happily build. The document is composed first (aliases are
shared nodes, so this is cheap), the nodes it would expand to are counted and its depth
measured, and only a document within the limits is constructed. Integers of any length
parse without Python's 4,300-digit error (see `number_from_digits`).
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from cml_py import limits as lim
from cml_py.errors import CmlError
from cml_py.model import HugeInt
from cml_py.unicode import check_unicode

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc]  # chosen at import time
    pass


def _construct_mapping(loader: Any, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
    if not isinstance(node, yaml.MappingNode):  # `!!map [1, 2]`
        found = "sequence" if isinstance(node, yaml.SequenceNode) else "scalar"
        raise yaml.constructor.ConstructorError(
            None, None, f"expected a mapping node, but found {found}", node.start_mark
        )
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    written: dict[Any, Any] = {}  # each key as first written: 1 and true are equal keys
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"unsupported key type {type(key).__name__}", key_node.start_mark
            )
        if key in seen:
            first, first_text = written[key]
            problem = (
                f"duplicate key {key!r}"
                if type(first) is type(key)
                else f"the keys {first_text!r} and {key_node.value!r} read as one key "
                "(a number and a boolean, or 1 and 1.0); quote them to keep both"
            )
            raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
        seen[key] = loader.construct_object(value_node, deep=deep)
        written[key] = (key, key_node.value)
    return seen


_LOG10_2 = math.log10(2)


def big_int(value: int) -> int | float:
    """An int as parsed from hex/octal/binary: exact within 64 bits, else a float, else
    a HugeInt (never `str()` on thousands of digits, which Python refuses)."""
    if -(2**63) <= value < 2**63:
        return value
    try:
        return float(value)
    except OverflowError:
        bits = abs(value).bit_length()
        top = abs(value) >> (bits - 60)
        log10 = (bits - 60) * _LOG10_2 + math.log10(top)
        exponent = math.floor(log10)
        lead = f"{10 ** (log10 - exponent):.3f}".replace(".", "")
        return HugeInt(lead, exponent, value < 0)


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int | float | str:
    from cml_py.metrics.parse import number_from_digits

    text = str(loader.construct_scalar(node)).replace("_", "")
    body = text.lstrip("+-")
    if body.isdigit() and (len(body) == 1 or body[0] != "0"):
        return number_from_digits(text)
    if ":" in body and body.count(":") > 8:
        return text  # a YAML 1.1 base-60 number this long is not a number anyone wrote
    return big_int(yaml.constructor.SafeConstructor.construct_yaml_int(loader, node))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


class _TooBig(Exception):
    pass


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_expansion(root: yaml.Node, source: str, limits: lim.Limits) -> None:
    """Refuse a composed document that would construct more than `limits.yaml_nodes`
    nodes (counting each alias as the whole subtree it repeats), nest deeper than
    `limits.depth`, or refer to itself (`&a [*a]`, which would never finish flattening).

    Each distinct node is visited once (sizes are memoised), so an alias bomb is
    measured in microseconds however large it claims to be.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            children = _children(node)
            size = 1 + sum(sizes[id(c)] for c in children)
            depth = (1 + max((depths[id(c)] for c in children), default=0)) if children else 0
            if size > limits.yaml_nodes:
                raise CmlError(
                    f"{source}: the document expands to more than {limits.yaml_nodes:,} "
                    f"nodes through its aliases ({lim.hint('yaml_nodes', limits)})"
                )
            if depth > limits.depth:
                raise CmlError(
                    f"{source}: nested more than {limits.depth:,} levels deep "
                    f"({lim.hint('depth', limits)})"
                )
            sizes[key], depths[key] = size, depth
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            mark = node.start_mark
            raise CmlError(
                f"{source}:{mark.line + 1}:{mark.column + 1}: invalid YAML: an alias refers "
                "to the node that contains it"
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _unconstructible(loader: Any, root: yaml.Node) -> tuple[yaml.ScalarNode, Exception] | None:
    """The first scalar of the document, in reading order, that its tag's constructor
    cannot turn into a value, with the constructor's exception."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            constructor = loader.yaml_constructors.get(node.tag)
            if constructor is None:
                continue
            try:
                constructor(loader, node)
            except Exception as exc:
                return node, exc
        stack.extend(reversed(_children(node)))
    return None


def _construct_failure(source: str, node: yaml.ScalarNode, exc: Exception) -> str:
    mark = node.start_mark
    kind = node.tag.rpartition(":")[2]
    shown = repr(node.value) if len(node.value) <= 60 else repr(node.value[:57] + "...")
    detail = ""
    if kind == "timestamp":  # a date that looks like one but is not: say what is wrong
        detail = f" ({exc}); quote it to keep it as text" if isinstance(exc, ValueError) else ""
    return (
        f"{source}:{mark.line + 1}:{mark.column + 1}: invalid YAML: {shown} is not a valid "
        f"{kind}{detail}"
    )


def load_yaml(text: str | bytes, source: str, *, limits: lim.Limits | None = None) -> Any:
    """Parse YAML within the limits, turning any parse error into a one-line CmlError
    with line and column."""
    limits = limits or lim.active()
    lim.check_size(source, len(text), limits)
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_expansion(node, source, limits)
        try:
            tree = loader.construct_document(node)
        except (yaml.YAMLError, RecursionError, MemoryError):
            raise
        except Exception:
            # PyYAML's scalar constructors fail with plain ValueError, KeyError,
            # AttributeError… (`2020-13-01`, `!!bool maybe`, `!!timestamp x`), which
            # carry no position. Only then are the scalars constructed one by one to
            # find the value to name: the common, valid document pays nothing for it.
            failed = _unconstructible(loader, node)
            if failed is None:
                raise  # not a value in the document: a bug in cml-py, reported as one
            raise CmlError(_construct_failure(source, *failed)) from None
        check_unicode(tree, text, source)  # libyaml refuses `"\ud800"`, PyYAML alone not
        return tree
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise CmlError(f"{where}: invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise CmlError(
            f"{source}: invalid YAML: character U+{character:04X} at position {exc.position} "
            "is not allowed (YAML allows only printable text)"
        ) from None
    except yaml.YAMLError as exc:
        raise CmlError(f"{source}: invalid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise CmlError(
            f"{source}: nested more than {limits.depth:,} levels deep ({lim.hint('depth', limits)})"
        ) from None
    finally:
        loader.dispose()
