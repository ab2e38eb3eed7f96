"""Where the bundled templates live, in a wheel and in a source checkout alike."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """`cml_py/templates` in an installed wheel; the repository's `templates/` otherwise
    (editable installs and source checkouts, where the wheel's copy does not exist)."""
    for candidate in (_PACKAGE / "templates", _PACKAGE.parent / "templates"):
        if (candidate / "report.md.j2").is_file():
            return candidate
    raise FileNotFoundError("cml-py's templates are missing from this installation")
