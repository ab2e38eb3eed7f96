"""DVC plots drawn for every template, and `cml-py init` on three kinds of repository."""

from __future__ import annotations

import io
import json
import time

import pytest

from cml_py.charts.dvc_plots import draw_plots
from cml_py.dvc.plots import PlotData, parse_records
from cml_py.dvc.project import TEMPLATES, PlotDef
from cml_py.errors import CmlError
from tests.conftest import Repo
from tests.helpers import run_cli


def records(shift: float) -> list[dict]:
    return [
        {
            "step": i,
            "fpr": i / 10,
            "tpr": min(1.0, i / 8 + shift),
            "actual": i % 3,
            "predicted": (i + (i % 2)) % 3,
            "feature": f"f{i}",
            "importance": i * shift,
        }
        for i in range(10)
    ]


def png(colour: str) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.patch.set_facecolor(colour)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def plot_for(template: str) -> PlotDef:
    if template.startswith("confusion"):
        return PlotDef("cm", template, x="actual", y=(("cm.json", "predicted"),))
    if template.startswith("bar_horizontal"):
        return PlotDef("imp", template, x="importance", y=(("imp.json", "feature"),))
    return PlotDef("roc", template, x="fpr", y=(("train.json", "tpr"), ("test.json", "tpr")))


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_draws_main_and_the_pr(template: str) -> None:
    plot = plot_for(template)
    files = [path for path, _ in plot.y]
    data = PlotData(
        plot,
        base=tuple((f, records(0.0)) for f in files),
        head=tuple((f, records(0.1)) for f in files),
    )
    (chart,) = draw_plots((data,))
    assert chart.figure is not None, chart.note
    assert chart.name.startswith("dvc_00_")


def test_image_plots_side_by_side_and_missing_sides() -> None:
    plot = PlotDef("importance.png", y=(("importance.png", None),), image=True)
    both = PlotData(
        plot, base=(("importance.png", png("red")),), head=(("importance.png", png("blue")),)
    )
    only_pr = PlotData(plot, head=(("importance.png", b"not a png"),))
    none = PlotData(plot)
    drawn, unreadable, empty = draw_plots((both, only_pr, none))
    assert drawn.figure is not None
    assert unreadable.figure is None and "no readable image" in unreadable.note
    assert empty.figure is None and "no data" in empty.note


def test_plot_data_shapes() -> None:
    assert parse_records(b"step,loss\n0,1.5\n1,0.5\n", "l.csv") == [
        {"step": 0, "loss": 1.5},
        {"step": 1, "loss": 0.5},
    ]
    dvclive = json.dumps({"roc": [{"fpr": 0, "tpr": 0}]}).encode()
    assert parse_records(dvclive, "roc.json") == [{"fpr": 0, "tpr": 0}]


def test_plot_data_with_a_lone_surrogate_is_refused() -> None:
    """`\\ud800` decodes to a string no UTF-8 writer accepts; a pair is one character."""
    with pytest.raises(CmlError, match=r"roc\.json: the value of 'roc\.0\.label' is not valid"):
        parse_records(b'{"roc": [{"fpr": 0, "label": "\\ud800"}]}', "roc.json")
    emoji = parse_records(b'{"roc": [{"fpr": 0, "label": "\\ud83d\\ude00"}]}', "roc.json")
    assert emoji == [{"fpr": 0, "label": "\U0001f600"}]


def test_broken_csv_plot_data_is_bad_input_not_a_crash() -> None:
    """A row shorter than the header leaves its last fields empty, as DVC draws it; a
    field beyond csv's limit is a message (load_plots makes it a note), not exit 4."""
    assert parse_records(b"step,loss\n0,1.5\n1\n", "l.csv") == [
        {"step": 0, "loss": 1.5},
        {"step": 1, "loss": None},
    ]
    with pytest.raises(CmlError, match=r"^l\.csv: invalid CSV: field larger than.*KB to"):
        parse_records(b"step,loss\n0," + b"9" * (1024 * 1024 + 1) + b"\n", "l.csv")


def test_a_mapping_of_many_mappings_is_searched_in_linear_time() -> None:
    """The breadth-first search for records took quadratic time (list.pop(0)): a 7 MB
    file of 600,000 empty mappings held a job for minutes."""
    data = ("{" + ",".join(f'"{i}":{{}}' for i in range(600_000)) + "}").encode()
    started = time.monotonic()
    with pytest.raises(CmlError, match="expected a list of records"):
        parse_records(data, "p.json")
    assert time.monotonic() - started < 15


# --- init looks first ----------------------------------------------------------------


def test_init_in_a_dvc_project_suggests_gates_for_declared_metrics(in_repo: Repo, capsys) -> None:
    in_repo.write(
        "dvc.yaml", "stages:\n  train: {cmd: python t.py, outs: [eval]}\nmetrics: [eval/m.json]\n"
    )
    in_repo.write("eval/m.json", {"accuracy": 0.9, "val_loss": 0.3, "name": "x"})
    result = run_cli(capsys, "init", "--github")
    assert result.code == 0, result.err
    assert "detected: dvc" in result.err and "eval/m.json" in result.err
    config = (in_repo.path / "cml.yaml").read_text()
    assert "dvc: repro" in config
    assert "accuracy: {max_drop: 0.01}" in config and "val_loss: {max_drop_pct: 10}" in config
    workflow = (in_repo.path / ".github/workflows/cml-py.yml").read_text()
    assert "cml-py[dvc]==" in workflow
    from cml_py.config import load_config

    load_config(in_repo.path / "cml.yaml", cwd=in_repo.path)  # valid


def test_init_with_a_script_and_metrics_never_invents_a_model(in_repo: Repo, capsys) -> None:
    in_repo.write("train.py", "print('training')\n")
    in_repo.write("metrics.json", {"acc": 0.8})
    in_repo.write("params.yaml", "lr: 0.1\n")
    result = run_cli(capsys, "init", "--github", "--train-command", "python train.py --fast")
    assert result.code == 0, result.err
    assert "detected: script" in result.err and "training script: train.py" in result.err
    config = (in_repo.path / "cml.yaml").read_text()
    assert 'command: "python train.py --fast"' in config
    assert 'metrics: ["metrics.json"]' in config and 'params: ["params.yaml"]' in config
    assert "sklearn" not in config and "acc: {max_drop: 0.01}" in config


def test_init_with_metrics_but_no_script_compares_the_files_and_their_data(
    in_repo: Repo, capsys
) -> None:
    """Metrics a notebook or an earlier CI step writes: compared as they are, with the
    data/ files beside them — not the built-in example, which said no metrics were found."""
    in_repo.write("metrics.json", {"acc": 0.8})
    in_repo.write("data/train.csv", "x,label\n1,0\n2,1\n")
    result = run_cli(capsys, "init", "--github")
    assert result.code == 0, result.err
    assert "detected: metrics" in result.err and "no training script found" in result.err
    assert "set the repository variable CML_PY_PACKAGE" in result.err
    config = (in_repo.path / "cml.yaml").read_text()
    assert 'metrics: ["metrics.json"]' in config
    assert "acc: {max_drop: 0.01}" in config and "data/train.csv" in config
    from cml_py.config import load_config

    loaded = load_config(in_repo.path / "cml.yaml", cwd=in_repo.path)
    assert loaded.train is None and loaded.metrics == ("metrics.json",)


def test_init_in_an_empty_repository_writes_the_labelled_example(in_repo: Repo, capsys) -> None:
    result = run_cli(capsys, "init", "--github")
    assert result.code == 0, result.err
    assert "detected: example" in result.err
    config = (in_repo.path / "cml.yaml").read_text()
    assert config.startswith("# EXAMPLE CONFIGURATION") and "sklearn:" in config


@pytest.mark.parametrize("template", ["linear", "scatter", "smooth", "bar_horizontal"])
def test_values_beyond_what_can_be_plotted_are_left_out_with_a_note(template: str) -> None:
    import warnings

    plot = plot_for(template)
    huge = [{**r, "tpr": 1e308 * (-1) ** i, "importance": -1e308} for i, r in enumerate(records(0))]
    files = [path for path, _ in plot.y]
    data = PlotData(
        plot,
        base=tuple((f, huge) for f in files),
        head=tuple((f, records(0.1)) for f in files),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning on stderr either
        (chart,) = draw_plots((data,))
        assert chart.figure is not None, chart.note
        chart.figure.savefig(io.BytesIO(), format="png")
    assert chart.note.startswith("main: ") and "cannot be plotted" in chart.note
