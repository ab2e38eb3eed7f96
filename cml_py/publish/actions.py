"""GitHub Actions' own surfaces: the job summary, step outputs and annotations."""

from __future__ import annotations

import secrets
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from cml_py.errors import CmlError
from cml_py.model import GateCheck, Status
from cml_py.publish import shrink
from cml_py.redact import redact
from cml_py.report.format import MISSING
from cml_py.report.view import gate_numbers

MAX_ANNOTATIONS = 10  # GitHub shows 10 of each kind per step


def append_step_summary(path: Path, markdown: str, *, link: str | None) -> None:
    """Append the report, shrunk to the 1 MiB a step summary may hold."""
    fitted = shrink.fit(
        markdown,
        shrink.STEP_SUMMARY_BYTES - 1024,
        link=link,
        measure=lambda s: len(s.encode("utf-8")),
    )
    _append("GITHUB_STEP_SUMMARY", path, fitted.rstrip("\n") + "\n\n")


def set_outputs(path: Path, values: Mapping[str, str]) -> None:
    """`name<<delimiter` blocks, safe for any value (multi-line included)."""
    blocks = []
    for name, value in values.items():
        delimiter = f"cml_py_{secrets.token_hex(8)}"
        blocks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    _append("GITHUB_OUTPUT", path, "".join(blocks))


def _append(variable: str, path: Path, text: str) -> None:
    """Append to a file the runner gave us. A path that cannot be written (a directory, a
    missing directory, no permission) is the runner's configuration, named as such, not a
    crash; callers show it as a warning and go on."""
    try:
        if _is_pipe_or_socket(path):  # opening a pipe waits for a reader, maybe forever
            raise CmlError(f"{variable}: {path} is a pipe or socket, expected a file")
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        if path.is_dir():
            reason = "is a directory, expected a file"
        elif not path.parent.is_dir():
            reason = "is in a directory that does not exist"
        else:
            reason = f"cannot be written: {exc.strerror or exc}"
        raise CmlError(f"{variable}: {path} {reason}") from None


def _is_pipe_or_socket(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # absent (created by the append) or unreadable (the append says)
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _shown(value: str | None) -> str:
    return MISSING if value is None else value


def gate_annotations(checks: Sequence[GateCheck]) -> list[str]:
    """`::error`/`::warning` lines for failed and warned gate checks, at most 10 each."""
    lines = []
    for status, level in ((Status.FAIL, "error"), (Status.WARN, "warning")):
        chosen = [c for c in checks if c.status is status]
        for check in chosen[:MAX_ANNOTATIONS]:
            # Names and values are the PR's: masked like every other output (a token its
            # training wrote as a metric would otherwise reach the job log and check).
            numbers = gate_numbers(check)
            text = redact(
                f"{check.target} {numbers.rule}: this PR {_shown(numbers.value)}, "
                f"main {_shown(numbers.base)}" + (f" ({check.note})" if check.note else "")
            )
            title = _escape_property(redact(f"cml-py gate: {check.target}"))
            lines.append(f"::{level} title={title}::{_escape_data(text)}")
        if len(chosen) > MAX_ANNOTATIONS:
            lines.append(
                f"::{level} title=cml-py gate::{len(chosen) - MAX_ANNOTATIONS} more "
                f"{'failed' if status is Status.FAIL else 'warned'} checks in the report"
            )
    return lines
