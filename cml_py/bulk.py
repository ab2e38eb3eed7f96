"""Helpers for code that runs once per metric, up to millions of times."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while building many small objects.

    Rows, cells and parsed values form no reference cycles, yet every few thousand
    allocations the collector walks all of them again; across half a million metrics
    that is a large share of the run. Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
