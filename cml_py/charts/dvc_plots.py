"""DVC plots drawn as main-vs-PR PNGs with matplotlib — instead of `dvc plots diff`,
Vega-Lite and vl2svg.

Each dvc.yaml template has a drawing here: `linear`, `simple` and `smooth` (lines; smooth
adds a moving average), `scatter`, `confusion` and `confusion_normalized` (one matrix per
side), `bar_horizontal` and `bar_horizontal_sorted`. Image plots (`importance.png`) are
shown side by side, main | this PR. Colours follow the other charts: main grey, this PR
blue; several files or fields of one plot differ by line style.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

from cml_py.charts import style
from cml_py.charts.data import Chart
from cml_py.dvc.plots import PlotData, label_for, series

LINE_STYLES = ("-", "--", ":", "-.")
MAX_CLASSES = 30
MAX_BARS = 30


def _name(plot_id: str, index: int) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", plot_id).strip("_").lower()[:48] or "plot"
    return f"dvc_{index:02d}_{slug}"


def _numeric(values: list[Any]) -> list[float]:
    out = []
    for v in values:
        try:
            out.append(float(v) if not isinstance(v, bool) else math.nan)
        except (TypeError, ValueError):
            out.append(math.nan)
    return out


def draw_plots(plots: tuple[PlotData, ...]) -> list[Chart]:
    charts = []
    for index, data in enumerate(plots):
        plot = data.plot
        name, title = _name(plot.id, index), plot.title or plot.id
        if not data.base and not data.head:
            charts.append(Chart(name, title, note="no data on either side"))
            continue
        if plot.image:
            chart = images(data, name, title)
        elif plot.template.startswith("confusion"):
            chart = confusion(data, name, title)
        elif plot.template.startswith("bar_horizontal"):
            chart = bars(data, name, title)
        else:
            chart = lines(data, name, title)
        charts.append(chart)
    return charts


def _sides(data: PlotData) -> tuple[tuple[str, str, Any], tuple[str, str, Any]]:
    return ((data.base_name, style.MAIN, data.base), ("this PR", style.HEAD, data.head))


@style.styled
def lines(data: PlotData, name: str, title: str) -> Chart:
    """linear / simple / smooth / scatter: every (file, field) on both sides."""
    plot = data.plot
    fig, axes = style.figure()
    ax = axes[0, 0]
    drawn = 0
    pairs = list(plot.y)
    left_out = []
    for side, colour, files in _sides(data):
        contents = dict(files)
        for number, (path, field) in enumerate(pairs):
            records = contents.get(path)
            if not records:
                continue
            xs, ys = series(records, plot, path, field)
            x, y = _numeric(xs), _numeric(ys)
            label = f"{side}: {style.shorten(label_for(plot, path, field), 40)}"
            if not style.plottable(x, y):  # the PR's data: left out, not a failed report
                left_out.append(label)
                continue
            label = style.text(label)
            keep = style.thin(len(x))
            x, y = x[keep], y[keep]
            line = LINE_STYLES[number % len(LINE_STYLES)]
            if plot.template == "scatter":
                ax.scatter(
                    x,
                    y,
                    s=10,
                    color=colour,
                    alpha=0.7,
                    label=label,
                    marker="o" if number % 2 == 0 else "x",
                )
            elif plot.template == "smooth":
                ax.plot(x, y, color=colour, alpha=0.25, linestyle=line)
                ax.plot(x, _moving_average(y), color=colour, linestyle=line, label=label)
            else:
                ax.plot(x, y, color=colour, linestyle=line, label=label)
            drawn += 1
    note = ""
    if left_out:
        note = (
            f"{style.listed(left_out)} left out: values beyond ±{style.PLOT_LIMIT:g} "
            "cannot be plotted"
        )
    if not drawn:
        return Chart(name, title, note=note or "no numeric data for the plot's fields")
    x_label = (
        plot.x_label
        or plot.x
        or (dict(plot.x_files) and next(iter(dict(plot.x_files).values())))
        or "step"
    )
    fields = sorted({f for _, f in pairs if f})
    ax.set(
        title=style.text(title),
        xlabel=style.text(str(x_label)),
        ylabel=style.text(plot.y_label or ", ".join(fields)[:60]),
    )
    style.legend_outside(ax)
    return Chart(name, title, fig, note)


def _moving_average(values: list[float]) -> list[float]:
    window = max(1, len(values) // 20)
    out, total, count = [], 0.0, 0
    queue: list[float] = []
    for v in values:
        queue.append(v)
        if not math.isnan(v):
            total, count = total + v, count + 1
        if len(queue) > window:
            old = queue.pop(0)
            if not math.isnan(old):
                total, count = total - old, count - 1
        out.append(total / count if count else math.nan)
    return out


@style.styled
def confusion(data: PlotData, name: str, title: str) -> Chart:
    """One matrix per side (columns) and file (rows): x is the actual class field, y the
    predicted one, as in DVC's confusion templates."""
    import numpy as np

    plot = data.plot
    normalized = plot.template == "confusion_normalized"
    pairs = list(dict.fromkeys(plot.y))[:4]
    cells: list[tuple[str, str, Any]] = []
    labels: set[str] = set()
    for side, _, files in _sides(data):
        contents = dict(files)
        for path, field in pairs:
            records = contents.get(path)
            if not records:
                continue
            actual_field = dict(plot.x_files).get(path, plot.x) or "actual"
            predicted_field = field or "predicted"
            pairs_ = [(str(r.get(actual_field)), str(r.get(predicted_field))) for r in records]
            labels.update(a for a, _ in pairs_)
            labels.update(p for _, p in pairs_)
            cells.append((side, label_for(plot, path, field), pairs_))
    if not cells:
        return Chart(name, title, note="no data for the confusion matrix")
    classes = sorted(labels, key=_natural)
    if len(classes) > MAX_CLASSES:
        return Chart(name, title, note=f"{len(classes)} classes: too many to draw")
    index = {c: i for i, c in enumerate(classes)}
    rows = sorted({label for _, label, _ in cells})
    sides = [s for s, _, _ in _sides(data) if any(c[0] == s for c in cells)]
    size = min(3.2 + 0.25 * len(classes), 6.0)
    fig, axes = style.figure(
        len(rows), len(sides), height=size * len(rows) * 0.8, width=size * len(sides)
    )
    for side, label, pairs_ in cells:
        matrix = np.zeros((len(classes), len(classes)))
        for actual, predicted in pairs_:
            matrix[index[actual], index[predicted]] += 1
        if normalized:
            sums = matrix.sum(axis=1, keepdims=True)
            matrix = np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)
        ax = axes[rows.index(label), sides.index(side)]
        ax.imshow(matrix, cmap="Blues" if side == "this PR" else "Greys")
        ax.grid(False)
        ticks = range(len(classes))
        ax.set_xticks(ticks, [style.text(c, 12) for c in classes], rotation=45, ha="right")
        ax.set_yticks(ticks, [style.text(c, 12) for c in classes])
        ax.set(
            title=style.text(f"{side}: {style.shorten(label, 30)}"),
            xlabel="predicted",
            ylabel="actual",
        )
        if len(classes) <= 8:
            top = matrix.max() or 1
            for i in ticks:
                for j in ticks:
                    text = f"{matrix[i, j]:.2f}" if normalized else f"{int(matrix[i, j])}"
                    ax.text(
                        j,
                        i,
                        text,
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if matrix[i, j] > top / 2 else "black",
                    )
    fig.suptitle(style.text(title))
    return Chart(name, title, fig)


def _natural(text: str) -> tuple[Any, ...]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


@style.styled
def bars(data: PlotData, name: str, title: str) -> Chart:
    """bar_horizontal(_sorted): y is the category, x the value, main beside this PR."""
    import numpy as np

    plot = data.plot
    values: dict[str, dict[str, float]] = {}
    left_out = []
    for side, _, files in _sides(data):
        for path, field in plot.y:
            records = dict(files).get(path)
            if not records:
                continue
            x_field = dict(plot.x_files).get(path, plot.x)
            for record in records:
                category = record.get(field) if field else None
                if category is None or x_field is None:
                    continue
                value = _numeric([record.get(x_field)])[0]
                if not (math.isnan(value) or style.drawable(value)):  # NaN: no bar, as before
                    left_out.append(f"{side}: {style.shorten(str(category), 36)}")
                    continue
                values.setdefault(side, {})[str(category)] = value
    note = ""
    if left_out:
        note = (
            f"{style.listed(left_out)} left out: a value that is infinite or beyond "
            f"±{style.PLOT_LIMIT:g} cannot be plotted"
        )
    if not values:
        return Chart(name, title, note=note or "no data for the bars (x: value, y: category)")
    ranking = values.get("this PR") or next(iter(values.values()))
    categories = list(dict.fromkeys(c for side in values.values() for c in side))
    if plot.template == "bar_horizontal_sorted":
        categories.sort(key=lambda c: ranking.get(c, -math.inf))
    categories = categories[-MAX_BARS:]
    fig, axes = style.figure(height=min(max(2.0, 0.3 * len(categories) + 1.0), 7.0))
    ax = axes[0, 0]
    positions = np.arange(len(categories))
    width = 0.4
    for offset, (side, colour, _) in zip((-width / 2, width / 2), _sides(data), strict=True):
        if side in values:
            ax.barh(
                positions + offset,
                [values[side].get(c, 0.0) for c in categories],
                height=width,
                color=colour,
                label=style.text(side),
            )
    ax.set_yticks(positions, [style.text(c, 36) for c in categories])
    ax.set(title=style.text(title), xlabel=style.text(plot.x_label or plot.x or "value"))
    ax.grid(axis="y", visible=False)
    style.legend_outside(ax)
    return Chart(name, title, fig, note)


@style.styled
def images(data: PlotData, name: str, title: str) -> Chart:
    """Image plots side by side: a row per file, main | this PR."""
    from matplotlib.image import imread

    files = list(dict.fromkeys([p for p, _ in data.base] + [p for p, _ in data.head]))[:4]
    sides = _sides(data)
    fig, axes = style.figure(len(files), 2, height=3.6 * len(files), width=9.0)
    drawn = 0
    for row, path in enumerate(files):
        for col, (side, _, contents) in enumerate(sides):
            ax = axes[row, col]
            ax.axis("off")
            blob = dict(contents).get(path)
            if blob is None:
                ax.set_title(style.text(f"{side}: (none)"))
                continue
            if path.lower().endswith(".svg"):
                ax.set_title(style.text(f"{side}: SVG is not drawn"))
                continue
            try:
                picture = imread(io.BytesIO(blob), format=path.rsplit(".", 1)[-1].lower())
            except Exception:  # a broken or hostile image is a missing one, not a failure
                ax.set_title(style.text(f"{side}: unreadable image"))
                continue
            ax.imshow(picture)
            ax.set_title(style.text(f"{side}: {style.shorten(path, 40)}"))
            drawn += 1
    if not drawn:
        return Chart(name, title, note="no readable image on either side")
    fig.suptitle(style.text(title))
    return Chart(name, title, fig)
