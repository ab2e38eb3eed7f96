"""The exceptions that cross stage boundaries, each tied to one process exit code.

The CLI has a single handler that turns these into a one-line message and an exit code,
so every stage can fail the same honest way. Anything that is not one of these is a bug
in cml-py and exits 4 — never 1, which CI would read as a failed gate.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_SERVICE = 3
EXIT_INTERNAL = 4


class CmlError(Exception):
    """Bad input or usage: a malformed file, an unknown key, a missing base branch.

    The message is shown to the user as is, on one line, so it must name the file or
    key and say what was expected.
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.details = details
        """Extra lines shown after the message, e.g. the last lines a failed command printed."""


class ServiceError(CmlError):
    """A forge or other service failed after the retries that were safe to make."""

    exit_code = EXIT_SERVICE


def first_line(exc: BaseException) -> str:
    """A library's exception for a one-line message: its first non-blank line (a
    parser's message can quote pages of the input), or its type when it says nothing
    (`ValueError()`)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
