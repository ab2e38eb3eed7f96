"""GitHub's official REST API description (npm @octokit/openapi): request/response
validation for the fake server, and minimal valid response bodies.

The 13 MB description is loaded once per test session, without the slow self-check of
the spec. `instance()` builds the smallest object a schema accepts (every required
property, nothing else), which the fake then overlays with meaningful values — so its
responses carry the fields PyGithub reads and still validate against GitHub's schema.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = Path(
    os.environ.get(
        "CML_PY_OCTOKIT_OPENAPI",
        ROOT / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.json",
    )
)
WEBHOOK_EXAMPLES = (
    ROOT / "node_modules" / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"
)
SPEC_SERVER = "https://api.github.com"


def _missing(path: Path) -> AssertionError:
    return AssertionError(f"{path} is missing: run `npm ci` in the repository (see README)")


@functools.lru_cache(maxsize=1)
def spec_dict() -> dict[str, Any]:
    if not SPEC_PATH.is_file():
        raise _missing(SPEC_PATH)
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def openapi() -> Any:
    from openapi_core import Config, OpenAPI

    return OpenAPI.from_dict(spec_dict(), config=Config(spec_validator_cls=None))


def webhook_examples(event: str) -> list[dict[str, Any]]:
    if not WEBHOOK_EXAMPLES.is_file():
        raise _missing(WEBHOOK_EXAMPLES)
    for entry in json.loads(WEBHOOK_EXAMPLES.read_text(encoding="utf-8")):
        if entry["name"] == event:
            return entry["examples"]
    return []


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec_dict()
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def instance(schema: dict[str, Any], depth: int = 0) -> Any:
    """The smallest value valid under `schema` (required properties only)."""
    schema = _resolve(schema)
    if depth > 12:
        return None
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = instance(part, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [_resolve(o) for o in schema[key]]
            typed = [o for o in options if o.get("type") != "null"] or options
            return instance(typed[0], depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {
            name: instance(props.get(name, {}), depth + 1) for name in schema.get("required", [])
        }
    if kind == "array":
        return []
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        return {
            "date-time": "2026-11-27T00:00:00Z",
            "uri": "https://example.invalid/x",
            "uri-template": "https://example.invalid/x{/y}",
            "email": "x@example.invalid",
        }.get(fmt, "x")
    if schema.get("nullable"):
        return None
    return None


def response_schema(template: str, method: str, status: int) -> dict[str, Any]:
    operation = spec_dict()["paths"][template][method.lower()]
    response = _resolve(operation["responses"][str(status)])
    return response["content"]["application/json"]["schema"]


def body_for(template: str, method: str, code: int, /, **overrides: Any) -> Any:
    """A valid response body for an operation, with `overrides` deep-merged on top."""
    return merge(instance(response_schema(template, method, code)), overrides)


def merge(base: Any, overrides: Any) -> Any:
    if isinstance(base, dict) and isinstance(overrides, dict):
        out = copy.deepcopy(base)
        for key, value in overrides.items():
            out[key] = merge(out.get(key), value) if key in out else copy.deepcopy(value)
        return out
    return copy.deepcopy(overrides)


@functools.lru_cache(maxsize=1)
def _templates() -> list[tuple[list[str], str]]:
    entries = [(template.strip("/").split("/"), template) for template in spec_dict()["paths"]]
    return sorted(entries, key=lambda e: sum(part.startswith("{") for part in e[0]))


def match_template(path: str) -> str | None:
    """The spec's path template for a concrete path (`/repos/o/r/issues/1/comments`);
    literal segments win over parameters."""
    parts = path.strip("/").split("/")
    for segments, template in _templates():
        candidate = parts
        if segments[-1] in ("{ref}", "{path}") and len(parts) > len(segments):
            # a git ref or file path parameter spans several segments (heads/main)
            candidate = [*parts[: len(segments) - 1], "/".join(parts[len(segments) - 1 :])]
        if len(segments) == len(candidate) and all(
            s.startswith("{") or s == p for s, p in zip(segments, candidate, strict=True)
        ):
            return template
    return None


def is_basic_error(body: Any) -> bool:
    """Whether `body` is valid under GitHub's `basic-error` schema."""
    import jsonschema

    schema = _resolve({"$ref": "#/components/schemas/basic-error"})
    try:
        jsonschema.validate(body, schema)
    except jsonschema.ValidationError:
        return False
    return isinstance(body, dict) and isinstance(body.get("message"), str)
