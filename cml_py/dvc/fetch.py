"""`python -m cml_py.dvc.fetch`: download objects from a DVC remote into a cache directory.

Run by cml_py.dvc.objects in a child process without token variables. Reads one JSON
request on stdin ({remote, config, objects, cache_dir}) and prints one JSON answer:
{} when every object was stored, else {"missing": [...]} or {"error": "..."} (or
{"too_large": [...]} for objects over the request's max_bytes, which are not stored;
{"needs_dvc": true} when the dvc package is not installed, {"refused": "..."} for a
symlink where an object would be stored). The caller verifies every
object's hash before using it, so this helper is trusted with nothing but transport.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _download(request: dict[str, Any]) -> dict[str, Any]:
    try:
        from dvc.fs import get_cloud_fs
    except ImportError:
        return {"needs_dvc": True}
    from pathlib import Path

    from cml_py.dvc.objects import store_object
    from cml_py.errors import CmlError

    try:
        cls, options, root = get_cloud_fs({"remote": request["config"]}, name=request["remote"])
        fs = cls(**options)
    except Exception as exc:  # DVC's own config errors, a missing plugin
        return {"config_error": f"{type(exc).__name__}: {exc}"}
    missing, too_large = [], []
    cache_dir = Path(request["cache_dir"])
    limit = request.get("max_bytes")
    for parts in request["objects"]:
        path = fs.join(root, *parts)
        try:
            with fs.open(path, "rb") as handle:  # never more than the reader would take
                data = handle.read() if limit is None else handle.read(limit + 1)
            if limit is not None and len(data) > limit:
                too_large.append("/".join(parts))
                continue
        except FileNotFoundError:
            missing.append("/".join(parts))
            continue
        except Exception as exc:  # network, credentials, permissions: the remote's answer
            return {"error": f"{type(exc).__name__}: {exc}"}
        try:
            store_object(cache_dir, parts, data)
        except CmlError as exc:  # a symlink where the object would go
            return {"refused": str(exc)}
    if missing:
        return {"missing": missing}
    return {"too_large": too_large} if too_large else {}


def main() -> None:
    request = json.loads(sys.stdin.read())
    json.dump(_download(request), sys.stdout)


if __name__ == "__main__":
    main()
