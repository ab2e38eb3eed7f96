"""The notes a dataset comparison adds to the report: schema changes in words, columns that
look renamed, examples of new or vanished categories, and the PSI that sampling noise
alone produces for small samples."""

from __future__ import annotations

import math

import numpy as np

from cml_py.data import measures as m
from cml_py.data.columns import (  # noqa: F401 - moved there; imported here for users of this module
    _category_counts,
    _histogram,
    _top_categories,
    _type_name,
    compare_categories,
    compare_numbers,
)
from cml_py.data.compare import (
    MAX_DISTINCT,
    Side,
    _names,
)
from cml_py.data.config import DatasetSpec


def _schema_notes(
    spec: DatasetSpec,
    base: Side,
    head: Side,
    added: list[str],
    removed: list[str],
    retyped: list[str],
    skipped: list[str],
) -> list[str]:
    notes = []
    prefix = f"data.{spec.name}:"
    if added:
        notes.append(f"{prefix} columns added: {_names(added)}.")
    if removed:
        notes.append(f"{prefix} columns removed: {_names(removed)}.")
    for old, new in _renamed(base, head, added, removed):
        notes.append(f"{prefix} {new!r} looks like {old!r} renamed (same type and values).")
    if retyped:
        changes = [f"{c!r} {base.columns[c].kind} → {head.columns[c].kind}" for c in retyped[:5]]
        more = f" and {len(retyped) - 5} more" if len(retyped) > 5 else ""
        notes.append(f"{prefix} type changed: {', '.join(changes)}{more} (no drift measures).")
    if skipped:
        notes.append(
            f"{prefix} {_names(skipped)} look like identifiers or free text (over "
            f"{MAX_DISTINCT:,} distinct values, most of them unique): no drift measures."
        )
    new_categories = _category_examples(base, head)
    notes += [f"{prefix} {text}" for text in new_categories]
    return notes


def _renamed(base: Side, head: Side, added: list[str], removed: list[str]) -> list[tuple[str, str]]:
    """(old, new) pairs whose values are the same row for row: a rename, most likely."""
    pairs: list[tuple[str, str]] = []
    if len(base.frame) != len(head.frame):
        return pairs
    for new in added[:20]:
        for old in removed[:20]:
            if base.columns[old].kind != head.columns[new].kind:
                continue
            if np.array_equal(base.columns[old].hashes(), head.columns[new].hashes()):
                pairs.append((old, new))
                break
    return pairs


def _category_examples(base: Side, head: Side) -> list[str]:
    """Which categories are new or gone, a few per column (names are data: escaped by
    the report like any other text)."""
    out = []
    for name, column in head.columns.items():
        other = base.columns.get(name)
        if (
            other is None
            or column.counts is None
            or other.counts is None
            or column.identifier_like()
            or other.identifier_like()
        ):
            continue
        new = sorted(c for c in column.counts if c not in other.counts)
        gone = sorted(c for c in other.counts if c not in column.counts)
        parts = []
        if new:
            parts.append(f"new categories {_names(new, 3)}")
        if gone:
            parts.append(f"vanished {_names(gone, 3)}")
        if parts:
            out.append(f"{name!r}: {'; '.join(parts)}.")
    return out[:10]


def _rows(n: int) -> str:
    return f"{n:,} row{'s' if n != 1 else ''}"


def _noise_note(spec: DatasetSpec, base: Side, head: Side) -> list[str]:
    """Below ~1,000 rows a side PSI is noisy: say how much drift sampling alone shows."""
    n = min(len(base.frame), spec.sample_rows)
    k = min(len(head.frame), spec.sample_rows)
    noise = m.psi_noise(m.BINS, n, k)
    if not math.isfinite(noise) or noise < 0.02:
        return []
    return [
        f"data.{spec.name}: with {_rows(len(base.frame))} on main and {_rows(len(head.frame))} in "
        f"this PR, two samples of one distribution show a PSI of about {noise:.2g} over "
        f"{m.BINS} bins; read smaller values as noise (p_value helps)."
    ]
