"""Type checks for YAML settings whose errors name the file, the key path and the
expected type — the building blocks of cml.yaml's schema."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cml_py.errors import CmlError


def key_path(*parts: str) -> str:
    """`gate."eval.acc".min`: quote parts that contain dots so the path is unambiguous."""
    return ".".join(f'"{p}"' if ("." in p or " " in p or not p) else p for p in parts)


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type(value).__name__})" if value is not None else "null"


class Checker:
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

    def known_keys(
        self, value: Mapping[str, Any], allowed: tuple[str, ...], path: tuple[str, ...]
    ) -> None:
        for key in value:
            if key not in allowed:
                import difflib  # only for the message: most configs never get here

                close = difflib.get_close_matches(key, allowed, n=1)
                guess = f"did you mean {close[0]!r}? " if close else ""
                raise self.fail(
                    (*path, key), f"unknown key; {guess}expected one of: {', '.join(allowed)}"
                )

    def string(self, value: Any, path: tuple[str, ...]) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {_describe(value)}")
        return self._no_nul(value, path)

    def _no_nul(self, value: str, path: tuple[str, ...]) -> str:
        """Settings strings become paths, git arguments and commands, none of which can
        hold a NUL character: refused here, by key, rather than as a ValueError from
        the file system or subprocess later."""
        if "\0" in value:
            raise self.fail(path, f"expected text without NUL characters (\\0), got {value!r}")
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
        if not isinstance(value, str) or value not in choices:
            raise self.fail(path, f"expected one of {', '.join(choices)}, got {_describe(value)}")
        return value

    def integer(self, value: Any, path: tuple[str, ...], *, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected an integer, got {_describe(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(path, f"expected an integer >= {minimum}, got {value}")
        return value

    def fraction(self, value: Any, path: tuple[str, ...]) -> float:
        number = self.number(value, path)
        if not 0 < number < 1:
            raise self.fail(path, f"expected a number between 0 and 1 (exclusive), got {value}")
        return number

    def command(self, value: Any, path: tuple[str, ...]) -> str | tuple[str, ...]:
        if isinstance(value, str) and value.strip():
            return self._no_nul(value, path)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return tuple(self._no_nul(v, (*path, str(i))) for i, v in enumerate(value))
        raise self.fail(
            path, f"expected a command string or a list of arguments, got {_describe(value)}"
        )
