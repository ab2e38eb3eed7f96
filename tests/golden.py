"""Golden-file comparison: update only deliberately, with UPDATE_GOLDEN=1.

On a mismatch the actual output is saved beside the golden file as `<name>.actual`, so
the difference can be inspected (and, if right, copied over) without re-running.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"


def assert_golden(name: str, actual: str) -> None:
    golden = GOLDEN_DIR / name
    actual_path = GOLDEN_DIR / f"{name}.actual"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(actual, encoding="utf-8")
        actual_path.unlink(missing_ok=True)
        return
    expected = golden.read_text(encoding="utf-8") if golden.exists() else None
    if expected != actual:
        actual_path.write_text(actual, encoding="utf-8")
        raise AssertionError(
            f"{golden.name} differs from the rendered output; see {actual_path} "
            "(set UPDATE_GOLDEN=1 to accept it deliberately)"
        )
    actual_path.unlink(missing_ok=True)
