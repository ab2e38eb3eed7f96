"""Per-model work spread over the machine's cores.

numpy releases the GIL while it sorts, counts and does arithmetic on arrays, so the
models of a paired evaluation (main's and this PR's predictions, or several seeds each)
can be worked on at once in threads: at a million rows the sort of each side's scores
is most of its time, and two of them take the time of one on two cores. The results
are the same objects a loop would build, in the same order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_ROWS = 100_000
"""Rows below which threads cost more than they save."""


def usable_cores() -> int:
    """Cores this process may run on (a CI container is often given fewer than the host has)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def each_model(fn: Callable[[T], R], models: Sequence[T], *, parallel: bool) -> list[R]:
    """`[fn(m) for m in models]`, in threads when `parallel` and there is more than one
    model and core. An exception in any call is raised here, as the loop would."""
    workers = min(len(models), usable_cores())
    if not parallel or workers < 2:
        return [fn(m) for m in models]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, models))
