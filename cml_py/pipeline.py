"""The compare stage: this PR's files and main's, diffed, with paired statistics, DVC
plots and data rows attached — the comparison job.py hands to the gate, the charts and
the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cml_py.baseline.choose import choose_base_source, trends
from cml_py.config import Config, GateRule
from cml_py.errors import CmlError
from cml_py.metrics.files import FileSpec
from cml_py.metrics.parse import parse_file
from cml_py.model import (
    ChartRef,
    Comparison,
    DiffRow,
    GateResult,
    MetricFile,
    MetricSet,
    PolicyChange,
    Report,
)
from cml_py.train.paired import with_statistics
from cml_py.trust import Settings, Workspace

if TYPE_CHECKING:
    from cml_py.artifacts import Artifacts
    from cml_py.baseline.sources import BaseSource

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Selection:
    """What the command line asked for on top of cml.yaml (None/empty = not given)."""

    base: str | None = None
    metrics: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    trust_pr_config: bool = False


def load_settings(
    config_path: Path | None,
    selection: Selection,
    *,
    cwd: Path,
    env: Mapping[str, str],
    require_base: bool = True,
) -> Settings:
    """The run's settings: main's policy with this PR's data (see trust.py)."""
    from cml_py.trust import load_settings as load

    settings = load(
        config_path,
        cwd=cwd,
        env=env,
        base_flag=selection.base,
        trust_pr_config=selection.trust_pr_config,
        require_base=require_base,
    )
    if _maybe_dvc(settings):
        from cml_py.dvc.settings import apply_dvc

        settings = apply_dvc(settings, trust_pr_config=selection.trust_pr_config)
    return settings


def _maybe_dvc(settings: Settings) -> bool:
    """Cheap: a dvc.yaml at the base (already read with main's cml.yaml) or here."""
    dvc = settings.config.dvc
    if dvc.enabled is not None:
        return dvc.enabled
    ws = settings.workspace
    if ws is not None and any(blob is not None for blob in ws.base_dvc_files.values()):
        return True
    return (settings.config.root / dvc.file).exists()


def _relative(path: Path, root: Path) -> str:
    import os

    return Path(os.path.relpath(path, root)).as_posix()


def file_specs(config: Config, selection: Selection, cwd: Path) -> tuple[FileSpec, FileSpec]:
    """Metrics and params files: the flags, else cml.yaml, else the trainer's outputs plus
    what the train command declares, else the usual names that exist."""
    from cml_py.metrics import files as mf
    from cml_py.train import layout as out

    specs = []
    for kind, flags, configured, autodetect in (
        ("metrics", selection.metrics, config.metrics, mf.AUTODETECT_METRICS),
        ("params", selection.params, config.params, mf.AUTODETECT_PARAMS),
    ):
        if flags:
            specs.append(FileSpec(tuple(flags), f"--{kind}", cwd))
        elif configured:
            specs.append(FileSpec(tuple(configured), f"{config.source}: {kind}", config.root))
        elif config.train is not None:
            train = config.train
            produced = []
            if kind == "metrics" and (train.sklearn is not None or train.outputs.predictions):
                produced.append(f"{train.output_dir}/{out.METRICS}")
            if kind == "params" and train.sklearn is not None:
                produced.append(f"{train.output_dir}/{out.PARAMS}")
            declared = train.outputs.metrics if kind == "metrics" else train.outputs.params
            specs.append(
                FileSpec((*produced, *declared), f"{config.source}: train outputs", config.root)
            )
        else:
            present = tuple(name for name in autodetect if (config.root / name).is_file())
            specs.append(FileSpec(present, f"autodetected {kind}", config.root, required=False))
    metrics_spec, params_spec = specs
    if not metrics_spec.patterns and config.mlflow is None:
        raise CmlError(
            f"no metrics file found in {config.root}: looked for "
            + ", ".join(mf.AUTODETECT_METRICS)
            + "; list your files under `metrics:` in cml.yaml or pass --metrics PATH"
        )
    return metrics_spec, params_spec


def _read_side(
    kind: str,
    spec: FileSpec,
    ws: Workspace,
    source: BaseSource,
    base_tree: list[str],
    notes: list[str],
) -> tuple[MetricSet, MetricSet]:
    from cml_py.limits import active
    from cml_py.metrics import files as mf
    from cml_py.paths import check_readable_files

    limits = active()
    head_paths = mf.head_paths(spec, ws.root)
    check_readable_files(head_paths, ws.root, f"the {kind} file")
    head = mf.read_head(head_paths, ws.root, limits)
    candidates = list(
        dict.fromkeys(
            [
                *head_paths,
                *mf.literal_paths(spec, ws.root),
                *mf.base_paths(spec, ws.root, base_tree),
            ]
        )
    )
    blobs = source.read_files(candidates)
    base_files = []
    name = ws.base.name
    for path in candidates:
        data = blobs.get(path)
        if data is None:
            if path in head_paths:
                notes.append(f"{path} does not exist on {name}: all its values are new.")
            continue
        try:
            base_files.append(MetricFile(path=path, values=parse_file(data, path, limits)))
        except CmlError as exc:
            notes.append(f"{name}'s {path} could not be read ({exc}); treated as absent.")
    return MetricSet(tuple(base_files)), head


@dataclass(frozen=True)
class Compared:
    """The comparison, and the artifacts it was computed from (for charts)."""

    comparison: Comparison
    artifacts: Artifacts | None
    rules: tuple[GateRule, ...] = ()
    policy_change: PolicyChange | None = None
    plots: tuple[Any, ...] = ()  # DVC plots, both sides' data (cml_py.dvc.plots.PlotData)
    mlflow_run: str | None = None  # this PR's verified MLflow run (for write-back)
    data: Any = None  # cml_py.data.run.DataComparison: its rows are in the metrics already


def compare_all(
    settings: Settings,
    selection: Selection,
    *,
    cwd: Path,
    echo: Echo = _quiet,
    plots: bool = False,
) -> Compared:
    """Read head (working tree) and base, diff metrics and params, and attach paired
    statistics where both sides have predictions on the same rows. `plots`: charts will
    be drawn, so fetch what only they need (DVC plots, MLflow step histories)."""
    from cml_py.metrics import files as mf
    from cml_py.metrics.diff import diff_sets

    config, ws = settings.config, settings.ws
    metrics_spec, params_spec = file_specs(config, selection, cwd)
    if settings.dvc is not None:  # the files dvc.yaml declares are named as its own
        metrics_spec, params_spec = settings.dvc.name_specs(metrics_spec, params_spec)
    source, base_notes = choose_base_source(settings, metrics_spec, echo=echo)
    notes = [*settings.notes, *base_notes]
    needs_tree = any(mf.is_glob(p) for p in (*metrics_spec.patterns, *params_spec.patterns))
    base_tree = source.list_files() if needs_tree else []
    try:
        base_metrics, head_metrics = _read_side(
            "metrics", metrics_spec, ws, source, base_tree, notes
        )
    except CmlError as exc:
        if settings.dvc is not None:
            raise settings.dvc.explain_missing(exc) from None
        if isinstance(exc, mf.MissingFile) and metrics_spec.origin.endswith(": train outputs"):
            raise CmlError(  # `cml-py diff` on a fresh checkout: nothing trained yet
                f"{exc} (training writes it: run `cml-py train` or your training first; "
                "`cml-py run` trains unless --skip-train)",
                details=exc.details,
            ) from None
        raise
    base_params, head_params = _read_side("params", params_spec, ws, source, base_tree, notes)
    if settings.dvc is not None:
        base_params = settings.dvc.filter_params(base_params)
        head_params = settings.dvc.filter_params(head_params)
    notes += source.read_notes() if hasattr(source, "read_notes") else []
    tracked = None
    if config.mlflow is not None:  # the runs' metrics and params beside the files'
        from cml_py.mlflow.source import read_runs

        tracked = read_runs(settings, source, echo=echo, curves=plots)
        notes += tracked.notes
        base_metrics = MetricSet((*base_metrics.files, *tracked.base_metrics))
        head_metrics = MetricSet((*head_metrics.files, *tracked.head_metrics))
        base_params = MetricSet((*base_params.files, *tracked.base_params))
        head_params = MetricSet((*head_params.files, *tracked.head_params))
    metrics = diff_sets(base_metrics, head_metrics, directions=config.directions)
    evaluated = tracked.evaluated_path if tracked is not None else None
    metrics = _one_row_per_metric(config, ws, metrics, notes, evaluated)
    artifacts = None
    statistics = None
    if config.train is not None or config.curves:
        from cml_py.artifacts import load_artifacts

        artifacts = load_artifacts(config, ws.root, source, ws.base.name, notes)
    if tracked is not None:
        artifacts = tracked.artifacts(artifacts)
    if artifacts is not None:
        metrics, statistics = with_statistics(config, ws, artifacts, metrics, notes)
    data = None
    if _compares_data(config):
        from cml_py.data.run import compare_data

        data = compare_data(settings, artifacts, echo=echo)
        metrics = (*metrics, *data.rows)
        notes += data.notes
    comparison = Comparison(
        metrics=metrics,
        params=diff_sets(base_params, head_params, judge=False),
        base=ws.base,
        head_sha=ws.head_sha,
        notes=tuple(notes),
        statistics=statistics,
        links=tracked.links if tracked is not None else (),
    )
    rules = config.gate
    if config.baseline.strategy == "store":
        comparison = replace(comparison, trends=trends(config, ws, rules, metrics))
    plot_data: tuple[Any, ...] = ()
    if plots and settings.dvc is not None and settings.dvc.plots:
        from cml_py.dvc.plots import load_plots

        plot_data = load_plots(settings.dvc, ws, source, notes)
        comparison = replace(comparison, notes=tuple(notes))
    mlflow_run = tracked.head.run_id if tracked is not None else None
    return Compared(
        comparison, artifacts, rules, settings.policy_change, plot_data, mlflow_run, data
    )


def _compares_data(config: Config) -> bool:
    """`data:` in cml.yaml, or the built-in trainer's dataset file (cml_py/data/run.py
    says which); nothing is imported for a project that has neither."""
    sklearn = config.train.sklearn if config.train is not None else None
    if config.data is None and sklearn is None:
        return False
    from cml_py.data.run import wanted

    return wanted(config)


def _one_row_per_metric(
    config: Config,
    ws: Workspace,
    rows: tuple[DiffRow, ...],
    notes: list[str],
    evaluated: str | None = None,
) -> tuple[DiffRow, ...]:
    """A metric cml-py evaluated from the predictions, and the same name in a metrics
    file the training command wrote (or an MLflow run logged), would be two rows — and
    two gate verdicts — for one number. The evaluated one wins: it is the one with
    confidence intervals. `evaluated` names the evaluated rows' file when they come from
    elsewhere than the training outputs (MLflow's predictions artifact)."""
    from cml_py.metrics import files as mf
    from cml_py.train import layout as out

    if evaluated is None:
        if config.train is None or not config.train.outputs.predictions:
            return rows
        outputs = _relative(config.root / config.train.output_dir, ws.root)
        evaluated = f"{outputs}/{out.METRICS}"
        # What the training command wrote: its outputs directory and its metrics files.
        written = [_relative(config.root / w, ws.root) for w in config.train.outputs.metrics]
        tests = [mf.glob_regex(w).match if mf.is_glob(w) else w.__eq__ for w in written]

        def same_source(path: str) -> bool:
            return path.startswith(f"{outputs}/") or any(test(path) for test in tests)
    else:
        run = evaluated.split("/", 1)[0]  # the run the predictions came from: "mlflow"

        def same_source(path: str) -> bool:
            return path == run

    names = {row.name for row in rows if row.path == evaluated}

    def shadowed(row: DiffRow) -> bool:
        """The same number from the same source: the training's outputs or the run.
        Another metrics file that happens to use the name (another model, another
        dataset) keeps its row, and a gate rule on it its verdict."""
        return row.path != evaluated and row.name in names and same_source(row.path)

    dropped = sorted({row.path for row in rows if shadowed(row)})
    if not dropped:
        return rows
    notes.append(
        f"Metrics that {', '.join(dropped)} and the evaluated predictions both report are "
        "shown once, as evaluated from the predictions."
    )
    return tuple(row for row in rows if not shadowed(row))


def gate(compared: Compared) -> GateResult:
    """The gate with the rules that apply (main's unless --trust-pr-config)."""
    from cml_py.gate import evaluate_gate

    result = evaluate_gate(compared.rules, compared.comparison.metrics)
    return replace(result, policy_change=compared.policy_change)


def build_report(
    config: Config,
    comparison: Comparison,
    gate_result: GateResult,
    *,
    report_id: str,
    show_all: bool,
    charts: tuple[ChartRef, ...] = (),
) -> Report:
    from cml_py import __version__

    return Report(
        id=report_id,
        comparison=comparison,
        gate=gate_result,
        show_all=show_all or config.show_all,
        version=__version__,
        charts=charts,
    )
