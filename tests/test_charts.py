"""Charts: drawn from plain data, checked as real images; skipped with a note when empty."""

from __future__ import annotations

import io

import numpy as np
import pytest

from cml_py.artifacts import parse_curves, parse_importance
from cml_py.charts import classification, curves, draw_all, importance, metric_changes, regression
from cml_py.charts.data import ChartData, Side
from cml_py.charts.save import save_charts
from cml_py.errors import CmlError
from cml_py.metrics.diff import diff_sets
from cml_py.model import MetricFile, MetricSet, PairedStat


def png_pixels(figure) -> np.ndarray:
    from matplotlib.image import imread

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    buffer.seek(0)
    return imread(buffer, format="png")


def assert_real_image(chart, min_width: int = 500) -> None:
    assert chart.figure is not None, chart.note
    pixels = png_pixels(chart.figure)
    height, width = pixels.shape[:2]
    assert width >= min_width and height >= 150
    ink = np.mean(np.any(pixels[..., :3] < 0.9, axis=-1))
    assert ink > 0.01, f"{chart.name} is blank"
    colours = {tuple(np.round(p[:3], 1)) for p in pixels.reshape(-1, pixels.shape[-1])[::97]}
    assert len(colours) > 3, f"{chart.name} has no colour"


def classification_data(k: int = 2, n: int = 600, with_scores: bool = True) -> ChartData:
    rng = np.random.default_rng(0)
    y = rng.integers(0, k, n)
    sides = []
    for noise in (0.5, 0.3):
        scores = rng.dirichlet(np.ones(k), n)
        scores[np.arange(n), y] += noise
        scores /= scores.sum(axis=1, keepdims=True)
        sides.append(Side(y, scores.argmax(axis=1), scores if with_scores else None))
    rows = diff_sets(
        MetricSet((MetricFile("m.json", {"accuracy": 0.8, "log_loss": 0.5, "f1": 0.7}),)),
        MetricSet((MetricFile("m.json", {"accuracy": 0.85, "log_loss": 0.55, "f1": 0.7}),)),
    )
    return ChartData(
        rows=rows,
        task="classification",
        labels=tuple(str(i) for i in range(k)),
        base=sides[0],
        head=sides[1],
    )


def test_metric_changes_colours_and_intervals() -> None:
    from dataclasses import replace

    data = classification_data()
    rows = tuple(
        r._replace(
            stat=PairedStat(
                r.delta or 0, (r.delta or 0) - 0.01, (r.delta or 0) + 0.01, 0.95, True, 1000
            ),
        )
        if r.name == "accuracy"
        else r
        for r in data.rows
    )
    chart = metric_changes.metric_changes(replace(data, rows=rows))
    assert_real_image(chart)
    pixels = png_pixels(chart.figure)[..., :3]
    red = np.sum((pixels[..., 0] > 0.7) & (pixels[..., 1] < 0.3) & (pixels[..., 2] < 0.3))
    green = np.sum((pixels[..., 1] > 0.4) & (pixels[..., 0] < 0.2) & (pixels[..., 2] < 0.3))
    assert red > 100 and green > 100  # log_loss got worse, accuracy better


def test_metric_changes_skipped_without_changes() -> None:
    chart = metric_changes.metric_changes(ChartData())
    assert chart.figure is None and "no numeric metric changed" in chart.note


@pytest.mark.parametrize("k", [2, 5])
def test_classification_charts(k: int) -> None:
    data = classification_data(k)
    assert_real_image(classification.roc_pr(data))
    assert_real_image(classification.confusion(data))


def test_roc_needs_scores_and_confusion_too_many_classes() -> None:
    assert (
        "no predicted probabilities"
        in classification.roc_pr(classification_data(with_scores=False)).note
    )
    many = classification_data(k=25, n=2000)
    assert "25 classes are too many" in classification.confusion(many).note


def test_curve_points_match_sklearn() -> None:
    from sklearn.metrics import precision_recall_curve, roc_curve

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300) == 1
    score = np.round(rng.random(300) + 0.3 * y, 2)
    fpr, tpr, recall, precision = classification._curve_points(y, score)
    sk_fpr, sk_tpr, _ = roc_curve(y, score, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)
    sk_p, sk_r, _ = precision_recall_curve(y, score, drop_intermediate=False)
    assert np.allclose(precision[1:], sk_p[::-1][1:]) and np.allclose(recall[1:], sk_r[::-1][1:])


def test_regression_charts() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(0, 1, 20000)
    data = ChartData(
        task="regression",
        base=Side(y, y + rng.normal(0, 0.5, len(y))),
        head=Side(y, y + rng.normal(0, 0.3, len(y))),
    )
    assert_real_image(regression.predicted_vs_actual(data))
    assert_real_image(regression.residuals(data))
    assert regression.residuals(ChartData()).figure is None


def test_training_curves_from_dvclive_tsv() -> None:
    tsv = b"timestamp\tstep\tloss\n1700000000\t0\t0.9\n1700000001\t1\t0.6\n1700000002\t2\t0.4\n"
    parsed = parse_curves(tsv, "dvclive/plots/metrics/train/loss.tsv")
    assert list(parsed) == ["loss"] and parsed["loss"] == ([0.0, 1.0, 2.0], [0.9, 0.6, 0.4])
    many = parse_curves(b"epoch,acc,val_acc\n1,0.5,0.4\n2,0.7,0.6\n", "log.csv")
    assert set(many) == {"acc", "val_acc"}
    steps = np.arange(50.0)
    data = ChartData(
        base_curves={"train/loss": (steps, np.exp(-steps / 10))},
        head_curves={
            "train/loss": (steps, np.exp(-steps / 7)),
            "eval/loss": (steps, np.exp(-steps / 9)),
        },
    )
    assert_real_image(curves.training_curves(data))
    assert "no training curves" in curves.training_curves(ChartData()).note


def test_feature_importance_chart_and_parser() -> None:
    parsed = parse_importance(b"feature,importance\na,0.5\nb,0.25\n", "fi.csv")
    assert parsed == {"a": 0.5, "b": 0.25}
    with pytest.raises(CmlError, match="expected columns feature, importance"):
        parse_importance(b"x,y\n", "fi.csv")
    head = {f"feature {i}": 1 / (i + 1) for i in range(30)}
    base = {f"feature {i}": 1 / (i + 2) for i in range(30)}
    assert_real_image(
        importance.feature_importance(ChartData(base_importance=base, head_importance=head))
    )
    assert importance.feature_importance(ChartData()).figure is None


def test_draw_all_and_save(tmp_path) -> None:
    charts = draw_all(classification_data())
    assert [c.name for c in charts] == [
        "metric_changes",
        "roc_pr",
        "confusion",
        "training_curves",
        "feature_importance",
    ]
    refs = save_charts(charts, tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["confusion.png", "metric_changes.png", "roc_pr.png"]
    assert [r.path is None for r in refs] == [False, False, False, True, True]
    assert all((tmp_path / n).read_bytes().startswith(b"\x89PNG") for n in written)


def _extents(figure):
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return renderer


def test_an_outlier_does_not_shrink_the_other_bars() -> None:
    from cml_py.metrics.diff import diff_sets

    base = {f"m{i}": 1.0 for i in range(6)}
    head = {"m0": 5.0, "m1": 1.02, "m2": 0.97, "m3": 1.04, "m4": 0.99, "m5": 1.03}  # +400 %
    rows = diff_sets(
        MetricSet((MetricFile("m.json", base),)), MetricSet((MetricFile("m.json", head),))
    )
    chart = metric_changes.metric_changes(ChartData(rows=rows))
    ax = chart.figure.axes[0]
    renderer = _extents(chart.figure)
    widths = [bar.get_window_extent(renderer).width for bar in ax.patches]
    axis_width = ax.get_window_extent(renderer).width
    assert min(widths) >= 0.04 * axis_width  # a 1 % change is still a visible bar
    assert max(widths) <= axis_width
    labels = [t.get_text() for t in ax.texts]
    assert "+400.0%" in labels and "-3.0%" in labels  # the clipped value, as the table prints it
    hatched = [bar for bar in ax.patches if bar.get_hatch()]
    assert len(hatched) == 1
    assert "clipped" in ax.get_xlabel()
    assert metric_changes.axis_limit([1.0, 2.0, 3.0]) is None  # nothing to clip


@pytest.mark.parametrize("k", [2, 3])
def test_legends_sit_outside_the_data(k: int) -> None:
    charts = draw_all(classification_data(k=k))
    with_legends = 0
    for chart in charts:
        if chart.figure is None:
            continue
        renderer = _extents(chart.figure)
        for ax in chart.figure.axes:
            legend = ax.get_legend()
            if legend is None:
                continue
            with_legends += 1
            box = legend.get_window_extent(renderer)
            area = ax.get_window_extent(renderer)
            assert not box.overlaps(area), f"{chart.name}: the legend covers the plot"
            assert box.x1 <= chart.figure.bbox.x1 + 1  # and it is not cut off
    assert with_legends >= 2


def test_roc_pr_legends_carry_the_reports_auc_and_ap() -> None:
    from cml_py.metrics.diff import diff_sets

    data = classification_data(k=2)
    rows = diff_sets(
        MetricSet((MetricFile("m.json", {"roc_auc": 0.8123, "average_precision": 0.7001}),)),
        MetricSet((MetricFile("m.json", {"roc_auc": 0.9345, "average_precision": 0.9012}),)),
    )
    chart = classification.roc_pr(ChartData(**{**data.__dict__, "rows": rows}))
    roc, pr = chart.figure.axes
    assert [t.get_text() for t in roc.get_legend().get_texts()] == [
        "main (AUC 0.812)",
        "this PR (AUC 0.934)",
    ]
    assert [t.get_text() for t in pr.get_legend().get_texts()] == [
        "main (AP 0.700)",
        "this PR (AP 0.901)",
    ]


def test_roc_area_of_the_drawn_curve_is_scikit_learns() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    score = np.round(rng.random(500) * 0.6 + y * 0.3, 2)  # ties included
    auc, ap = classification._areas(*classification._curve_points(y == 1, score))
    assert auc == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert ap == pytest.approx(average_precision_score(y, score), abs=1e-12)


def test_confusion_counts_are_printed_up_to_ten_classes_shares_up_to_six() -> None:
    chart = classification.confusion(classification_data(k=10, n=2000))
    counts, shares = chart.figure.axes[:2]
    assert len(counts.texts) == 100
    assert all(int(t.get_text()) >= 0 for t in counts.texts)
    assert not shares.texts  # colour only: the counts beside carry the numbers
    chart = classification.confusion(classification_data(k=6, n=2000))
    counts, shares = chart.figure.axes[:2]
    assert len(counts.texts) == len(shares.texts) == 36
    assert all(0 <= float(t.get_text()) <= 1 for t in shares.texts)


def draw_quietly(chart_function, data):
    """Draw and encode the chart with every warning an error: numpy's overflow warnings
    must not reach stderr, nor matplotlib's layout complaints."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chart = chart_function(data)
        if chart.figure is not None:
            png_pixels(chart.figure)
    return chart


HUGE = np.array([1e308, -1e308])


@pytest.mark.parametrize("where", ["values", "steps", "both"])
def test_curves_beyond_what_can_be_plotted_are_left_out_with_a_note(where: str) -> None:
    ordinary = (np.arange(2.0), np.array([0.9, 0.5]))
    steps, values = ordinary
    huge = (
        HUGE if where != "values" else steps,
        HUGE if where != "steps" else values,
    )
    alone = draw_quietly(curves.training_curves, ChartData(head_curves={"loss": huge}))
    assert alone.figure is None and "loss (this PR) left out" in alone.note
    mixed = draw_quietly(
        curves.training_curves,
        ChartData(base_curves={"loss": ordinary}, head_curves={"loss": huge, "acc": ordinary}),
    )
    assert_real_image(mixed)
    assert "loss (this PR) left out" in mixed.note and "cannot be plotted" in mixed.note
    assert len(mixed.figure.axes[0].lines) == 1  # main's loss, drawn as before


def test_regression_charts_leave_out_predictions_beyond_what_can_be_plotted() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    pred = y + rng.normal(size=200)
    data = ChartData(task="regression", base=Side(HUGE, HUGE[::-1]), head=Side(y, pred))
    for draw in (regression.predicted_vs_actual, regression.residuals):
        chart = draw_quietly(draw, data)
        assert_real_image(chart)
        assert chart.note.startswith("main left out") and "cannot be plotted" in chart.note
    only = ChartData(task="regression", head=Side(HUGE, HUGE[::-1]))
    assert draw_quietly(regression.residuals, only).figure is None


def test_importance_that_cannot_be_plotted_leaves_its_feature_out() -> None:
    head = {"a": 1e308, "b": -1e308, "c": float("inf"), "d": 0.5}
    chart = draw_quietly(
        importance.feature_importance, ChartData(head_importance=head, base_importance=head)
    )
    assert_real_image(chart)
    assert chart.note.startswith("a, b, c left out")
    assert [t.get_text() for t in chart.figure.axes[0].get_yticklabels()] == ["d"]


def test_metric_changes_leave_out_a_change_too_large_to_plot() -> None:
    base = {"a": 1.0, "b": 1.0, "c": 1.0}
    head = {"a": 1e308, "b": 1e200, "c": 1.5}
    rows = diff_sets(
        MetricSet((MetricFile("m.json", base),)), MetricSet((MetricFile("m.json", head),))
    )
    chart = draw_quietly(metric_changes.metric_changes, ChartData(rows=rows))
    assert_real_image(chart)
    assert chart.note.startswith("a left out") and "cannot be plotted" in chart.note
    labels = [t.get_text() for t in chart.figure.axes[0].texts]
    assert "+1e+202%" in labels and "+50.0%" in labels  # as the table prints them


@pytest.mark.parametrize("offset", [0.1, 1e200])
def test_residuals_a_few_ulps_apart_are_drawn(offset: float) -> None:
    """y_pred = y_true + 0.1 gives residuals that differ in their last bits only, whose
    range numpy cannot split into 50 bins."""
    y = np.random.default_rng(0).normal(size=200)
    chart = draw_quietly(
        regression.residuals, ChartData(task="regression", head=Side(y, y + offset))
    )
    assert_real_image(chart)


HOSTILE = ("a$\\frac{$b", "$\\sqrt{2}$", "esc\x1b[31mred\u202eevil\nline\x9b")


def drawn_texts(figure) -> list:
    """Every text of a drawn figure, tick labels included (they exist once drawn)."""
    from matplotlib.text import Text

    png_pixels(figure)
    return [t for t in figure.findobj(Text) if t.get_text() and t.get_visible()]


def assert_drawn_literally(figure, names) -> None:
    """No text is read as mathtext, and each name is drawn as written, on one line,
    controls shown as U+FFFD."""
    texts = drawn_texts(figure)
    shown = set()
    for t in texts:
        literal, math = t._preprocess_math(t.get_text())
        assert math is False, t.get_text()
        assert literal.isprintable(), repr(literal)
        shown.add(literal)
    for name in names:
        expected = "".join(c if c.isprintable() else " " if c.isspace() else "\ufffd" for c in name)
        assert any(expected[-8:] in s for s in shown), (name, shown)


def test_names_from_the_pr_are_drawn_literally_never_as_mathtext() -> None:
    # `$\frac{$` raised in matplotlib's mathtext parser (exit 4), `$\sqrt{2}$` drew a
    # root, and an escape sequence reached the CI log in a missing-glyph warning.
    from types import SimpleNamespace

    from cml_py.charts.data_drift import data_drift
    from cml_py.charts.dvc_plots import draw_plots
    from cml_py.dvc.plots import PlotData
    from cml_py.dvc.project import PlotDef

    rows = diff_sets(
        MetricSet((MetricFile("m.json", {n: 1.0 for n in HOSTILE}),)),
        MetricSet((MetricFile("m.json", {n: 2.0 + i for i, n in enumerate(HOSTILE)}),)),
    )
    y = np.array([0, 1, 2, 0, 1, 2])
    data = ChartData(
        rows=rows,
        task="classification",
        labels=HOSTILE,
        head=Side(y, y[::-1].copy(), None),
        head_importance={n: 1.0 + i for i, n in enumerate(HOSTILE)},
        head_curves={n: (np.arange(3.0), np.arange(3.0)) for n in HOSTILE},
    )
    charts = [
        draw_quietly(metric_changes.metric_changes, data),
        draw_quietly(classification.confusion, data),
        draw_quietly(curves.training_curves, data),
        draw_quietly(importance.feature_importance, data),
    ]
    drift = [
        SimpleNamespace(
            dataset="d",
            column=n,
            kind="category",
            labels=HOSTILE,
            psi=0.3,
            base=(0.2, 0.3, 0.5),
            head=(0.5, 0.3, 0.2),
            edges=(),
        )
        for n in HOSTILE
    ]
    charts.append(draw_quietly(lambda s: data_drift(s, {"d": 0.2}), drift))
    name = HOSTILE[0]
    records = [
        {"step": i, name: i * 0.5, "actual": HOSTILE[i % 3], "predicted": HOSTILE[0]}
        for i in range(6)
    ]
    plots = (
        PlotData(
            PlotDef(name, x="step", y=((f"{name}.json", name),), title=name),
            head=((f"{name}.json", records),),
        ),
        PlotData(
            PlotDef("cm", "confusion", x="actual", y=(("cm.json", "predicted"),), title=name),
            head=(("cm.json", records),),
        ),
        PlotData(
            PlotDef("bars", "bar_horizontal", x=name, y=(("b.json", "actual"),), title=name),
            head=(("b.json", records),),
        ),
    )
    charts += [draw_quietly(lambda p: draw_plots((p,))[0], p) for p in plots]
    for chart in charts:
        assert chart.figure is not None, (chart.name, chart.note)
        assert_drawn_literally(chart.figure, HOSTILE if chart.name != "dvc_00_a_frac_b" else [name])


def test_a_name_in_a_script_the_font_lacks_draws_without_a_warning_per_glyph(
    in_repo, capsys
) -> None:
    """matplotlib warns once per missing glyph and chart; in a CI log that is noise about
    a name the PR chose (which draws as boxes)."""
    import warnings

    from tests.helpers import run_cli

    in_repo.write("m.json", {"精度": 0.8, "acc": 0.7})
    in_repo.write("cml.yaml", "metrics: [m.json]\n")
    in_repo.commit("main")
    in_repo.branch("feature")
    in_repo.write("m.json", {"精度": 0.9, "acc": 0.6})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = run_cli(capsys, "report", "-o", "out/report.md", "--charts", "out/charts")
    assert result.code == 0, result.err
    assert (in_repo.path / "out/charts/metric_changes.png").is_file()
    assert not [w for w in seen if "Glyph" in str(w.message)], [str(w.message) for w in seen]
