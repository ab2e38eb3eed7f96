"""The training output directory: what is in it, and replacing it all at once.

Both trainers write the same layout, so evaluation, baselines and charts never care which
one ran. The directory is staged beside its final place and swapped in only when every
file is written: a failed or interrupted run leaves the previous outputs untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cml_py.train.layout import (
    CURVES,
    FEATURE_IMPORTANCE,
    METRICS,
    MODEL,
    PARAMS,
    PREDICTIONS,
    REPLICATES,
)

LAYOUT = frozenset({METRICS, PARAMS, PREDICTIONS, FEATURE_IMPORTANCE, MODEL, CURVES, REPLICATES})
__all__ = [  # the layout's names are re-exported for the trainers
    "CURVES",
    "FEATURE_IMPORTANCE",
    "LAYOUT",
    "METRICS",
    "MODEL",
    "PARAMS",
    "PREDICTIONS",
    "REPLICATES",
    "json_safe",
    "staged_directory",
    "write_json",
]


@contextlib.contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Yield an empty directory; on success it replaces `target`, on failure it vanishes.

    `target` is replaced only when cml-py made it (see paths.may_replace): pointing
    train.output_dir at a directory of the user's must never delete that directory."""
    from cml_py.errors import CmlError
    from cml_py.paths import OWNER_MARK, may_replace

    if not may_replace(target, LAYOUT | {".complete"}):
        raise CmlError(
            f"{target}: this directory exists and was not created by cml-py; cml-py "
            "replaces its output directory on every run, so choose a new or empty one"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    parent = target.parent.resolve()
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    made = os.lstat(stage)
    (stage / OWNER_MARK).write_text("Written by cml-py; replaced on every run.\n")
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    # The training ran code of the pull request's while the stage was open: if it put a
    # symlink where a directory of the target's path was, the swap below would write
    # through it, outside the repository.
    if target.parent.resolve() != parent or not _same_directory(stage, made):
        raise CmlError(
            f"{target}: a directory on this path was replaced or moved while training ran "
            f"(it now leads to {target.parent.resolve()}); the outputs were not written"
        )
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(stage, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _same_directory(path: Path, made: os.stat_result) -> bool:
    try:
        now = os.lstat(path)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (made.st_dev, made.st_ino) and stat.S_ISDIR(now.st_mode)


def write_json(path: Path, data: Any) -> None:
    """JSON that stays valid: NaN/inf would make other tools choke, so they become null."""
    path.write_text(json.dumps(_finite(data), indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _finite(value: Any) -> Any:
    if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def json_safe(value: Any) -> Any:
    """Model parameters for params.json: plain values as they are, anything else by name."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        with contextlib.suppress(Exception):
            return json_safe(value.item())
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)
