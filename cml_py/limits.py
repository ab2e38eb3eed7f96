"""Bounds on everything cml-py reads, so no input can hang or exhaust a CI job.

Metrics, params, configs, reports and event payloads are untrusted (they come from the
pull request or from an artifact); a 330-byte YAML alias bomb or a JSON file nested a
million levels deep must be refused in milliseconds with a message, not discovered by
the runner's out-of-memory killer. Each limit has a default that is far above anything
a real project writes and an environment variable to raise it. Limits are read from the
environment, never from cml.yaml: a pull request must not be able to lift them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from cml_py.errors import CmlError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Every limit in its own unit; see `VARIABLES` for the environment variables."""

    file_bytes: int = 64 * MIB
    """Metrics, params, cml.yaml, report.json of a leg, the CI event payload."""
    data_bytes: int = 1024 * MIB
    """Predictions, training curves and feature importance (read as tables)."""
    values: int = 1_000_000
    """Values in one metrics/params file after flattening (and columns of a wide CSV)."""
    depth: int = 100
    """Nesting of mappings and lists in JSON, YAML and TOML."""
    yaml_nodes: int = 2_000_000
    """Nodes a YAML document builds, counting every node an alias expands to."""
    csv_field_bytes: int = MIB
    """Characters in one CSV/TSV field."""
    eval_bytes: int = 2048 * MIB
    """Memory the evaluation of predictions may plan to use (classes × rows)."""
    template_seconds: int = 30
    """Time a custom report template may take to render (loops can nest)."""


# field → (variable, unit in bytes or 1, what the unit is called)
VARIABLES: dict[str, tuple[str, int, str]] = {
    "file_bytes": ("CML_PY_MAX_FILE_MB", MIB, "MiB"),
    "data_bytes": ("CML_PY_MAX_DATA_MB", MIB, "MiB"),
    "values": ("CML_PY_MAX_VALUES", 1, ""),
    "depth": ("CML_PY_MAX_DEPTH", 1, ""),
    "yaml_nodes": ("CML_PY_MAX_YAML_NODES", 1, ""),
    "csv_field_bytes": ("CML_PY_MAX_CSV_FIELD_KB", 1024, "KiB"),
    "eval_bytes": ("CML_PY_MAX_EVAL_MB", MIB, "MiB"),
    "template_seconds": ("CML_PY_MAX_TEMPLATE_SECONDS", 1, "s"),
}

DEFAULT = Limits()


def unique_columns(names: list[str], source: str) -> None:
    """A header whose names repeat cannot say which column is which: bad input."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise CmlError(f"{source}: the column {name!r} appears twice in the header")
        seen.add(name)


def from_env(env: Mapping[str, str]) -> Limits:
    """The defaults, with any `CML_PY_MAX_*` variable that is set on top."""
    changes: dict[str, int] = {}
    for name, (variable, unit, _) in VARIABLES.items():
        raw = env.get(variable, "").strip()
        if not raw:
            continue
        if not (raw.isascii() and raw.isdigit()) or int(raw) <= 0 or len(raw) > 15:
            raise CmlError(f"{variable}: expected a positive whole number, got {raw!r}")
        changes[name] = int(raw) * unit
    return Limits(**changes) if changes else DEFAULT


def active() -> Limits:
    """The limits of this process (the environment is read each time: it is cheap, and
    tests can change it)."""
    return from_env(os.environ)


def hint(name: str, limits: Limits) -> str:
    """`limit 64 MiB; set CML_PY_MAX_FILE_MB to raise it` for a limit's message."""
    variable, unit, unit_name = VARIABLES[name]
    value = getattr(limits, name) // unit
    shown = f"{value:,} {unit_name}".rstrip()
    return f"limit {shown}; set {variable} to raise it"


@contextlib.contextmanager
def time_budget(seconds: float, expired: Callable[[], CmlError]) -> Iterator[None]:
    """Raise `expired()` in this thread if the block runs longer than `seconds`.

    For code that could otherwise run for hours without a sign of life, such as a
    template's nested loops: a CI job would hang until the runner's own timeout. It uses
    an interval timer (SIGALRM), so it applies in the main thread on POSIX systems; in
    other threads or on other systems the block runs without a budget."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise expired()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def size_text(n: int) -> str:
    if n >= MIB:
        return f"{n / MIB:,.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:,.1f} KiB"
    return f"{n:,} bytes"


def check_size(display: str, size: int, limits: Limits, *, field: str = "file_bytes") -> None:
    """Refuse a file before reading it when it is larger than its limit."""
    if size > getattr(limits, field):
        raise CmlError(
            f"{display}: the file is {size_text(size)}, too large ({hint(field, limits)})"
        )


def check_file(path: os.PathLike[str] | str, display: str, limits: Limits, **kw: str) -> None:
    """`check_size` from the file's metadata; a missing file is left to the reader."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return
    check_size(display, size, limits, **kw)
