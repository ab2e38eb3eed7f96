"""One look for every chart: sizes that read well in a PR comment, fixed colours."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

F = TypeVar("F", bound=Callable[..., Any])

MAIN = "#8c959f"  # grey: what the PR is compared with
HEAD = "#0969da"  # blue: this PR
BETTER = "#1a7f37"
WORSE = "#cf222e"
NEUTRAL = "#6e7781"
SIDES = (("main", MAIN), ("this PR", HEAD))
WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 100
MAX_POINTS = 4000
PLOT_LIMIT = 1e300
"""The largest magnitude a chart draws. matplotlib's margins, ticks and layout compute
spans and multiples of the data's range, which overflow near float64's 1.8e308 (±1e308
raises "arange: cannot compute length"); no real metric, step or prediction comes near,
so a value beyond this is hostile or broken data, left out of its chart with a note."""

_RC: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#d0d7de",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}


def styled(draw: F) -> F:
    """Draw the chart under the shared style (fonts, grid, spines)."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(_RC):
            return draw(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def figure(
    rows: int = 1, cols: int = 1, *, height: float = HEIGHT_IN, width: float = WIDTH_IN
) -> tuple[Any, Any]:
    """A Figure on the Agg canvas (no pyplot, so no global state) and its axes grid."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axisbelow(True)
    return fig, axes


def plottable(*arrays: Any) -> bool:
    """No finite value beyond ±PLOT_LIMIT. NaN and ±inf are not checked: matplotlib leaves
    them out of lines and limits itself (a gap in a curve)."""
    import numpy as np

    for values in arrays:
        a = np.asarray(values, dtype=np.float64)
        if np.any(np.isfinite(a) & (np.abs(a) > PLOT_LIMIT)):
            return False
    return True


def drawable(value: float) -> bool:
    """One number a bar can show: finite and within ±PLOT_LIMIT."""
    return math.isfinite(value) and abs(value) <= PLOT_LIMIT


def legend_outside(ax: Any) -> None:
    """The legend to the right of the plot, never over the data it explains (the
    constrained layout makes room for it)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def listed(names: list[str], limit: int = 3) -> str:
    """`a, b, c and 4 more`: a note names a few, however many there are."""
    shown = ", ".join(shorten(n, 40) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def shorten(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def text(value: str, limit: int | None = None) -> str:
    """Untrusted text (a metric, column, class, series or file name) as a chart draws it:
    on one line, shortened to `limit`, and literally. matplotlib reads text between two
    `$` as mathtext, which renders `$\\sqrt{2}$` as a root and raises on `$\\frac{$`;
    each `$` is escaped, so matplotlib prints it as it is. A control character (an escape
    sequence, a bidi override) would not draw, and matplotlib's warning that no font has
    its glyph would print it raw into the CI log: it becomes U+FFFD."""
    if not value.isprintable():
        value = "".join(c if c.isprintable() else " " if c.isspace() else "\ufffd" for c in value)
    if limit is not None:
        value = shorten(value, limit)
    return value.replace("$", r"\$")


def thin(n: int, limit: int = MAX_POINTS) -> slice:
    """Every k-th point so a line or scatter has at most `limit` points."""
    return slice(None, None, max(1, -(-n // limit)))
