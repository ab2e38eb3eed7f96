"""One strict YAML loader for cml.yaml and for metrics/params files.

PyYAML's defaults hide two mistakes that would quietly change a verdict: a duplicated
key keeps only its last value (a gate rule silently disappears), and `1e-3` without a
dot is read as a string (YAML 1.1). This loader rejects the first and reads the second
as a number, as YAML 1.2 and every other tool a user knows do.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from cml_py.errors import CmlError

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    pass


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"unsupported key type {type(key).__name__}", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen[key] = loader.construct_object(value_node, deep=deep)
    return seen


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str | bytes, source: str) -> Any:
    """Parse YAML, turning any parse error into a one-line CmlError with line and column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise CmlError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise CmlError(f"{source}: invalid YAML: {exc}") from None
