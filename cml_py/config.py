"""cml.yaml → validated, frozen settings.

Every value is checked against the schema below; an unknown key or a wrong type is an
error that names the file, the key and the expected type. Silently ignoring a typo such
as `max_dorp` would let a gate pass that the user believes is guarding them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cml_py.errors import CmlError
from cml_py.model import Direction

CONFIG_NAMES = ("cml.yaml", "cml.yml")
ON_MISSING = ("fail", "warn", "ignore")
_REPORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class GateRule:
    """The rules for every metric whose name matches `pattern` (a name or a glob)."""

    pattern: str
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    max_drop_pct: float | None = None
    informational: bool = False
    on_missing: str | None = None


@dataclass(frozen=True)
class Config:
    """Settings for one run. `root` is the directory that relative paths start from."""

    source: str
    root: Path
    metrics: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    base: str | None = None
    directions: tuple[tuple[str, Direction], ...] = ()
    gate: tuple[GateRule, ...] = ()
    report_id: str = "default"
    template: str | None = None
    show_all: bool = False

    def with_overrides(self, **changes: Any) -> Config:
        """Flags win over the file; `None` means "not given on the command line"."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def key_path(*parts: str) -> str:
    """`gate."eval.acc".min`: quote parts that contain dots so the path is unambiguous."""
    return ".".join(f'"{p}"' if ("." in p or " " in p or not p) else p for p in parts)


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type(value).__name__})" if value is not None else "null"


class _Checker:
    """Type checks that all report `<file>: <key>: expected …, got …`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: tuple[str, ...], message: str) -> CmlError:
        where = f"{self.source}: {key_path(*path)}" if path else self.source
        return CmlError(f"{where}: {message}")

    def mapping(self, value: Any, path: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_describe(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"expected string keys, got {_describe(key)}")
        return value

    def known_keys(self, value: Mapping[str, Any], allowed: tuple[str, ...], path: tuple[str, ...]):
        for key in value:
            if key not in allowed:
                raise self.fail((*path, key), f"unknown key; expected one of: {', '.join(allowed)}")

    def string(self, value: Any, path: tuple[str, ...]) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {_describe(value)}")
        return value

    def string_list(self, value: Any, path: tuple[str, ...]) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list of file paths, got {_describe(value)}")
        return tuple(self.string(item, (*path, str(i))) for i, item in enumerate(value))

    def number(self, value: Any, path: tuple[str, ...], *, non_negative: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise self.fail(path, f"expected a finite number, got {value}")
        if non_negative and value < 0:
            raise self.fail(path, f"expected a number >= 0, got {value}")
        return float(value)

    def boolean(self, value: Any, path: tuple[str, ...]) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {_describe(value)}")
        return value

    def choice(self, value: Any, choices: tuple[str, ...], path: tuple[str, ...]) -> str:
        if value not in choices:
            raise self.fail(path, f"expected one of {', '.join(choices)}, got {_describe(value)}")
        return value


def _parse_gate(c: _Checker, value: Any) -> tuple[GateRule, ...]:
    if value is None:
        return ()
    rules = []
    numeric: dict[str, Callable[[Any, tuple[str, ...]], float]] = {
        "min": c.number,
        "max": c.number,
        "max_drop": lambda v, p: c.number(v, p, non_negative=True),
        "max_drop_pct": lambda v, p: c.number(v, p, non_negative=True),
    }
    allowed = (*numeric, "informational", "on_missing")
    for pattern, spec in c.mapping(value, ("gate",)).items():
        path = ("gate", pattern)
        spec = c.mapping(spec, path)
        c.known_keys(spec, allowed, path)
        if not spec:
            raise c.fail(path, f"expected at least one rule ({', '.join(numeric)})")
        fields: dict[str, Any] = {
            key: check(spec[key], (*path, key)) for key, check in numeric.items() if key in spec
        }
        if "informational" in spec:
            fields["informational"] = c.boolean(spec["informational"], (*path, "informational"))
        if "on_missing" in spec:
            fields["on_missing"] = c.choice(spec["on_missing"], ON_MISSING, (*path, "on_missing"))
        if not any(key in fields for key in numeric):
            raise c.fail(path, f"expected at least one rule ({', '.join(numeric)})")
        if "min" in fields and "max" in fields and fields["min"] > fields["max"]:
            raise c.fail(path, f"min ({fields['min']:g}) is greater than max ({fields['max']:g})")
        rules.append(GateRule(pattern=pattern, **fields))
    return tuple(rules)


def _parse_directions(c: _Checker, value: Any) -> tuple[tuple[str, Direction], ...]:
    if value is None:
        return ()
    choices = tuple(d.value for d in Direction)
    return tuple(
        (pattern, Direction(c.choice(d, choices, ("direction", pattern))))
        for pattern, d in c.mapping(value, ("direction",)).items()
    )


def parse_config(data: Any, *, source: str, root: Path) -> Config:
    """Validate the parsed YAML of a cml.yaml (pure: no file access)."""
    c = _Checker(source)
    if data is None:
        return Config(source=source, root=root)
    data = c.mapping(data, ())
    c.known_keys(data, ("metrics", "params", "base", "direction", "gate", "report"), ())
    fields: dict[str, Any] = {}
    if data.get("metrics") is not None:
        fields["metrics"] = c.string_list(data["metrics"], ("metrics",))
    if data.get("params") is not None:
        fields["params"] = c.string_list(data["params"], ("params",))
    if data.get("base") is not None:
        fields["base"] = c.string(data["base"], ("base",))
    fields["directions"] = _parse_directions(c, data.get("direction"))
    fields["gate"] = _parse_gate(c, data.get("gate"))
    report = data.get("report")
    if report is not None:
        report = c.mapping(report, ("report",))
        c.known_keys(report, ("id", "template", "show_unchanged"), ("report",))
        if "id" in report:
            fields["report_id"] = check_report_id(
                c.string(report["id"], ("report", "id")), f"{source}: report.id"
            )
        if "template" in report:
            fields["template"] = c.string(report["template"], ("report", "template"))
        if "show_unchanged" in report:
            fields["show_all"] = c.boolean(report["show_unchanged"], ("report", "show_unchanged"))
    return Config(source=source, root=root, **fields)


def check_report_id(value: str, where: str = "--id") -> str:
    """Report ids end up inside an HTML comment and in check names: keep them plain."""
    if not _REPORT_ID.match(value):
        raise CmlError(
            f"{where}: expected letters, digits, '.', '_' or '-' (at most 64), got {value!r}"
        )
    return value


def find_repo_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` that holds `.git` (a dir, or a file for
    worktrees and submodules). Found without running git, to keep start-up fast."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def find_config(start: Path) -> Path | None:
    """The nearest cml.yaml from `start` up to the repository root."""
    root = find_repo_root(start)
    for directory in (start, *start.parents):
        for name in CONFIG_NAMES:
            if (directory / name).is_file():
                return directory / name
        if directory == root:
            break
    return None


def load_config(path: Path | None, *, cwd: Path) -> Config:
    """Read cml.yaml (the given one, or the nearest one); defaults when there is none."""
    explicit = path is not None
    if path is None:
        path = find_config(cwd)
    if path is None:
        return Config(source="(no cml.yaml)", root=find_repo_root(cwd) or cwd)
    display = path.name if not explicit else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CmlError(f"{display}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CmlError(f"{display}: cannot read config file: {exc}") from None
    from cml_py.yamlio import load_yaml

    data = load_yaml(text, display)
    return parse_config(data, source=display, root=path.resolve().parent)
