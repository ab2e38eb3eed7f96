"""Numbers as a reviewer should read them (pure).

Significant digits, not decimals: a change from 1.2345e-05 to 1.2399e-05 must never print
as `0.0`. When two different values would print the same, precision grows until they
differ, so the table never shows "0.91 → 0.91" for a real change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from cml_py.model import HugeInt, Scalar, is_number

MISSING = "—"

_LOOKS_TYPED = re.compile(
    r"|—|[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|(?i:nan|[-+]?inf(?:inity)?|true|false|null|none)"
)
"""Text that would read as a number, a boolean, null or a missing value: such a string
metric is shown in quotes, or `"0.9"` beside 0.9 would look unchanged."""


_SPEC = {sig: f".{sig}g" for sig in range(1, 18)}


def fmt_float(x: float, sig: int = 4) -> str:
    """`sig` significant digits; plain notation from 1e-4 up to 1e15, exponent beyond.

    Called several times per row of a report with up to millions of rows, so the common
    case (a plain number) is one C-level format and one membership test.
    """
    text = format(x, _SPEC[sig])  # strips trailing zeros; exponent below 1e-4 and at 10**sig
    if text == "-0":  # -0.0 beside 0.0 would read as a change
        return "0"
    if "e" in text:
        exponent = int(text[text.index("e") + 1 :])
        if 0 < exponent < 15:
            return f"{x:.0f}"
        return text
    if text[-1] in "nf":  # nan, inf, -inf
        if type(x) is HugeInt:
            return x.text
        return "NaN" if text == "nan" else text
    return text


def fmt_number(x: float | int, sig: int = 4) -> str:
    if type(x) is float:
        return fmt_float(x, sig)
    if isinstance(x, int):
        return str(x)
    return fmt_float(x, sig)


def fmt_scalar(value: Scalar, sig: int = 4) -> str:
    """Any value for display; non-numeric values keep their text (escaping is the renderer's)."""
    if type(value) is float:
        return fmt_float(value, sig)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return fmt_number(value, sig)
    text = str(value)
    return f'"{text}"' if _LOOKS_TYPED.fullmatch(text) else text


def fmt_pair(base: Scalar, head: Scalar, sig: int = 4) -> tuple[str, str]:
    """Both values with enough digits that different numbers never look equal."""
    if not (is_number(base) and is_number(head)) or base == head:
        return fmt_scalar(base, sig), fmt_scalar(head, sig)
    a, b = fmt_distinct((base, head), sig)
    return a, b


def fmt_distinct(values: Sequence[Scalar], sig: int | Sequence[int] = 4) -> list[str]:
    """Values shown side by side (main, this PR, a gate's limit): `sig` significant
    digits (or one count per value), more where two different numbers would otherwise
    print alike — but never more than a number's shortest exact form, so 0.3 beside
    0.30000000000000004 stays `0.3` rather than growing into `0.29999999999999999`."""
    sigs = [sig] * len(values) if isinstance(sig, int) else list(sig)
    numbers = [(i, v) for i, v in enumerate(values) if is_number(v)]
    texts = [fmt_scalar(v, sigs[i]) for i, v in enumerate(values)]
    for digits in range(min(sigs, default=4), 18):
        for i, v in numbers:
            texts[i] = fmt_number(v, min(max(digits, sigs[i]), _exact_digits(v)))
        if all(
            texts[i] != texts[j] or a == b
            for n, (i, a) in enumerate(numbers)
            for j, b in numbers[n + 1 :]
        ):
            break
    return texts


def _exact_digits(value: float | int) -> int:
    """Significant digits of a float's shortest exact form (`repr`): 1 for 0.3, 17 for
    0.30000000000000004. Past them, more digits only show binary rounding."""
    if type(value) is not float or not math.isfinite(value):
        return 17
    mantissa = repr(value).lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    return max(len(mantissa.rstrip("0")), 1)


def fmt_delta(delta: float | int | None, sig: int = 3) -> str:
    if delta is None:
        return ""
    if type(delta) is int:
        return f"{delta:+d}"
    if delta == 0:
        return "0"
    if delta > 0:
        return "+" + fmt_float(delta, sig)
    if delta < 0:
        return "-" + fmt_float(-delta, sig)
    return fmt_float(delta, sig)


def fmt_pct(rel: float | None, sig: int = 3) -> str:
    if rel is None or rel == 0:
        return ""
    return fmt_delta(rel * 100.0, sig) + "%"
