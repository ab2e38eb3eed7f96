"""Compare two MetricSets row by row (pure).

Order is deterministic so that the same inputs always give the same comment: files in
configured order (files only at the base last), then natural key order within a file
(`m2` before `m10`).

This runs once per metric, up to millions of times, so the loop is written for speed:
one sort key string per name, directions resolved through precompiled patterns, and
the common float-against-float case compared inline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from cml_py.bulk import paused_gc
from cml_py.metrics.direction import infer_direction, matches, may_name_a_cost
from cml_py.model import DiffRow, Direction, MetricSet, Scalar, Verdict, is_number

_DIGITS = re.compile(r"[0-9]+")
_RUN_PREFIX = [f"\x01{chr(0x30 + n)}" for n in range(64)]


def _digit_run(match: re.Match[str]) -> str:
    digits = match[0]
    if digits[0] == "0":
        digits = digits.lstrip("0") or "0"
    n = len(digits)
    return (_RUN_PREFIX[n] if n < 64 else f"\x01{chr(0x30 + n)}") + digits


def natural_key(text: str) -> str:
    """`m2` < `m10`: digit runs compare as numbers, the rest case-insensitively, ties by
    the text itself.

    One string, not a tuple of parts: a digit run is written as its length then its
    digits (so longer numbers sort later), behind a \\x01 that sorts before any text, as
    the number would in a tuple. String keys compare in C, several times faster than
    tuples, which matters when sorting half a million names.
    """
    return _DIGITS.sub(_digit_run, text.casefold()) + "\x00" + text


def natural_sorted(names: Iterable[str]) -> list[str]:
    """`sorted(names, key=natural_key)`, faster for dotted names: the key of everything
    before the last dot is computed once per distinct prefix (`stage0.group12.` is shared
    by a hundred metrics), since a digit run never spans a dot."""
    cache: dict[str, str] = {}
    sub = _DIGITS.sub

    def key(name: str) -> str:
        head, dot, leaf = name.casefold().rpartition(".")
        prefix = cache.get(head)
        if prefix is None:
            prefix = cache[head] = sub(_digit_run, head)
        return prefix + dot + sub(_digit_run, leaf) + "\x00" + name

    return sorted(names, key=key)


def _BY_NAME(_path: str, name: str) -> Direction:
    return infer_direction(name)


def direction_resolver(
    directions: Sequence[tuple[str, Direction]],
) -> Callable[[str, str], Direction]:
    """`(path, name) → Direction`: the first matching `direction:` entry, else the name."""
    if not directions:
        return _BY_NAME

    def resolve(path: str, name: str) -> Direction:
        for pattern, direction in directions:
            if matches(pattern, path, name):
                return direction
        return infer_direction(name)

    return resolve


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
    resolve = direction_resolver(directions) if judge else None
    rows: list[DiffRow] = []
    empty: Mapping[str, Scalar] = {}
    with paused_gc():
        for path in paths:
            old = base_files.get(path, empty)
            new = head_files.get(path, empty)
            # The names in file order (not a set's hash order): files are usually
            # written in natural order already, which Timsort then checks in one pass.
            # The result does not depend on it — the key is a total order.
            names = natural_sorted([*new, *(old.keys() - new.keys())])
            rows.extend(_compare_file(path, names, old, new, resolve))
    return tuple(rows)


def _compare_file(
    path: str,
    names: list[str],
    old: Mapping[str, Scalar],
    new: Mapping[str, Scalar],
    resolve: Callable[[str, str], Direction] | None,
) -> list[DiffRow]:
    out: list[DiffRow] = []
    append = out.append
    missing = object()
    old_get, new_get = old.get, new.get
    infer = infer_direction if resolve is _BY_NAME else None
    higher, lower = Direction.HIGHER, Direction.LOWER
    better, worse, unchanged = Verdict.BETTER, Verdict.WORSE, Verdict.UNCHANGED
    finite = math.isfinite
    # Could the name's direction be other than "higher"? Decided by its part before the
    # last dot (shared by many names, so checked once) or by its leaf.
    prefix_cost: dict[str, object] = {}
    for name in names:
        b = old_get(name, missing)
        h = new_get(name, missing)
        if infer is not None:
            # A cost word is a whole segment, so it lies before or after the last dot;
            # under `data.` a leaf such as `psi` or `missing` is a cost too (see
            # infer_direction), which no cost word would reveal.
            head, _, leaf = name.rpartition(".")
            cost = prefix_cost.get(head)
            if cost is None:
                cost = prefix_cost[head] = (
                    head == "data" or head.startswith("data.") or may_name_a_cost(head.lower())
                ) or False
            direction: Direction | None = (
                infer(name) if cost or may_name_a_cost(leaf.lower()) else higher
            )
        else:
            direction = resolve(path, name) if resolve is not None else None
        if type(b) is float and type(h) is float and b == b and h == h:  # the common case
            if b == h:
                append(DiffRow(path, name, b, h, True, True, 0, 0.0, unchanged, direction))
                continue
            delta = h - b
            if delta == delta and direction is not None:
                rel = delta / abs(b) if b != 0 and finite(b) else None
                if delta > 0:
                    verdict = better if direction is higher else worse
                else:
                    verdict = better if direction is lower else worse
                append(DiffRow(path, name, b, h, True, True, delta, rel, verdict, direction))
                continue
        append(compare_values(path, name, old, new, direction))
    return out


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
        verdict, delta, rel = _compare_numbers(b, h, direction)
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
    if delta == 0:  # an int against a float past 2**53: the float subtraction rounds
        from fractions import Fraction  # the difference away; the exact one is not 0

        delta = float(Fraction(h) - Fraction(b))
    rel = delta / abs(b) if b != 0 and math.isfinite(b) else None
    if direction is None:
        return Verdict.CHANGED, delta, rel
    improved = delta > 0 if direction is Direction.HIGHER else delta < 0
    return (Verdict.BETTER if improved else Verdict.WORSE), delta, rel
