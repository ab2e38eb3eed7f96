"""Row and value hashes for duplicates and train/test leakage: 64-bit hashes computed from
the values (not their file types), mixed with MurmurHash3's finaliser."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cml_py.data.compare import Column


_M1 = np.uint64(0xFF51AFD7ED558CCD)


_M2 = np.uint64(0xC4CEB9FE1A85EC53)


_PRIME = np.uint64(0x100000001B3)


_S33 = np.uint64(33)


def _mix(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, in place: every input bit moves every output bit."""
    scratch = np.empty_like(x)
    for factor in (_M1, _M2):
        np.right_shift(x, _S33, out=scratch)
        np.bitwise_xor(x, scratch, out=x)
        np.multiply(x, factor, out=x)
    np.right_shift(x, _S33, out=scratch)
    np.bitwise_xor(x, scratch, out=x)
    return x


def _value_hashes(values: np.ndarray) -> np.ndarray:
    """Numbers hash by their float64 value: an int and a float of one value alike,
    -0.0 as 0.0, every missing value alike."""
    values = values + 0.0
    values[np.isnan(values)] = np.nan  # one NaN bit pattern
    return _mix(values.view(np.uint64))


def row_hashes(columns: list[Column], rows: int | None = None) -> np.ndarray:
    """One 64-bit hash per row over `columns` (in the given order); one column's
    hashes at a time, so memory stays at two arrays whatever the width."""
    h = np.zeros(columns[0].rows if columns else (rows or 0), dtype=np.uint64)
    for column in columns:
        np.bitwise_xor(h, column.hashes(), out=h)
        np.multiply(h, _PRIME, out=h)
    return _mix(h)


def duplicate_share(hashes: np.ndarray) -> float:
    """Share of rows that repeat an earlier row."""
    import pandas as pd

    if hashes.size == 0:
        return 0.0
    return float(pd.Series(hashes).duplicated().sum()) / hashes.size


def leaked_share(rows: np.ndarray, other: np.ndarray) -> float:
    """Share of `rows` (ids or row hashes) that also occur in `other`."""
    import pandas as pd

    if rows.size == 0:
        return 0.0
    return float(pd.Series(rows).isin(other).sum()) / rows.size
