"""Numbers as a reviewer should read them (pure).

Significant digits, not decimals: a change from 1.2345e-05 to 1.2399e-05 must never print
as `0.0`. When two different values would print the same, precision grows until they
differ, so the table never shows "0.91 → 0.91" for a real change.
"""

from __future__ import annotations

from cml_py.model import HugeInt, Scalar, is_number

MISSING = "—"


_SPEC = {sig: f".{sig}g" for sig in range(1, 18)}


def fmt_float(x: float, sig: int = 4) -> str:
    """`sig` significant digits; plain notation from 1e-4 up to 1e15, exponent beyond.

    Called several times per row of a report with up to millions of rows, so the common
    case (a plain number) is one C-level format and one membership test.
    """
    text = format(x, _SPEC[sig])  # strips trailing zeros; exponent below 1e-4 and at 10**sig
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
    return str(value)


def fmt_pair(base: Scalar, head: Scalar, sig: int = 4) -> tuple[str, str]:
    """Both values with enough digits that different numbers never look equal."""
    if not (is_number(base) and is_number(head)) or base == head:
        return fmt_scalar(base, sig), fmt_scalar(head, sig)
    for digits in range(sig, 18):
        a, b = fmt_number(base, digits), fmt_number(head, digits)
        if a != b:
            return a, b
    return fmt_number(base, 17), fmt_number(head, 17)


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
