"""Compare two MetricSets row by row (pure).

Order is deterministic so that the same inputs always give the same comment: files in
configured order (files only at the base last), then natural key order within a file
(`m2` before `m10`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from cml_py.metrics.direction import direction_for
from cml_py.model import DiffRow, Direction, MetricSet, Scalar, Verdict, is_number

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """`m2` < `m10`: digit runs compare as numbers, the rest case-insensitively."""
    parts = _DIGITS.split(text)
    return (
        tuple(int(p) if i % 2 else p.casefold() for i, p in enumerate(parts)),
        text,
    )


def diff_sets(
    base: MetricSet | None,
    head: MetricSet,
    *,
    directions: Sequence[tuple[str, Direction]] = (),
    judge: bool = True,
) -> tuple[DiffRow, ...]:
    """Every name on either side, compared.

    `judge=False` is for params: a changed param is "changed", never better or worse.
    """
    base_files: dict[str, Mapping[str, Scalar]] = (
        {f.path: f.values for f in base.files} if base else {}
    )
    head_files: dict[str, Mapping[str, Scalar]] = {f.path: f.values for f in head.files}
    paths = list(head_files) + [p for p in base_files if p not in head_files]
    rows: list[DiffRow] = []
    empty: Mapping[str, Scalar] = {}
    for path in paths:
        old = base_files.get(path, empty)
        new = head_files.get(path, empty)
        names = sorted(set(old) | set(new), key=natural_key)
        for name in names:
            direction = direction_for(path, name, directions) if judge else None
            rows.append(compare_values(path, name, old, new, direction))
    return tuple(rows)


def compare_values(
    path: str,
    name: str,
    old: Mapping[str, Scalar],
    new: Mapping[str, Scalar],
    direction: Direction | None,
) -> DiffRow:
    has_base, has_head = name in old, name in new
    b, h = old.get(name), new.get(name)
    delta: float | None = None
    rel: float | None = None
    if not has_base:
        verdict = Verdict.ADDED
    elif not has_head:
        verdict = Verdict.REMOVED
    elif is_number(b) and is_number(h):
        verdict, delta, rel = _compare_numbers(b, h, direction)  # type: ignore[arg-type]
    elif type(b) is type(h) and b == h:
        verdict = Verdict.UNCHANGED
    else:
        verdict = Verdict.CHANGED
    return DiffRow(
        path=path,
        name=name,
        base=b,
        head=h,
        has_base=has_base,
        has_head=has_head,
        delta=delta,
        rel=rel,
        verdict=verdict,
        direction=direction,
    )


def _compare_numbers(
    b: float, h: float, direction: Direction | None
) -> tuple[Verdict, float | None, float | None]:
    if b == h or (math.isnan(b) and math.isnan(h)):
        return Verdict.UNCHANGED, (0 if b == h else None), (0.0 if b == h else None)
    if math.isnan(b) or math.isnan(h):
        return Verdict.CHANGED, None, None
    delta = h - b
    if delta != delta:  # inf - inf: two different numbers too large to subtract
        return Verdict.CHANGED, None, None
    rel = delta / abs(b) if b != 0 and math.isfinite(b) else None
    if direction is None:
        return Verdict.CHANGED, delta, rel
    improved = delta > 0 if direction is Direction.HIGHER else delta < 0
    return (Verdict.BETTER if improved else Verdict.WORSE), delta, rel
