"""The stages in order; the only module besides the CLI that wires stages together."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cml_py.config import Config, EvaluateConfig, GateRule
from cml_py.errors import CmlError
from cml_py.git import Git
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
    StatsSummary,
    Trend,
)
from cml_py.trust import Settings, Workspace

if TYPE_CHECKING:
    from cml_py.artifacts import Artifacts
    from cml_py.baseline.sources import BaseSource
    from cml_py.charts.data import ChartData

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


def choose_base_source(
    settings: Settings, metrics_spec: FileSpec, *, echo: Echo
) -> tuple[BaseSource, list[str]]:
    """Where main's numbers come from: main's MLflow run (strategy `mlflow`, and first
    with `auto` when cml.yaml has `mlflow:`), else main's files (see _files_source)."""
    from cml_py.baseline.sources import GitBase

    config = settings.config
    notes: list[str] = []
    if config.mlflow is not None and config.baseline.strategy in ("auto", "mlflow"):
        from cml_py.mlflow.source import base_source

        run_source, notes = base_source(settings, echo=echo)
        if run_source is not None:
            return run_source, notes
        if config.baseline.strategy == "mlflow":
            return GitBase(settings.ws.git, settings.ws.base.sha), [
                *notes,
                f"main's numbers are {settings.ws.base.name}'s committed files.",
            ]
    source, more = _files_source(settings, metrics_spec, echo=echo)
    return source, [*notes, *more]


def _files_source(
    settings: Settings, metrics_spec: FileSpec, *, echo: Echo
) -> tuple[BaseSource, list[str]]:
    """The strategy: `git` reads committed files; `rerun` re-trains main with main's own
    `train:`; `auto` picks git when every metrics file exists at the base, else rerun
    when main has a trainer."""
    from cml_py.baseline.sources import DirectoryBase, GitBase
    from cml_py.metrics import files as mf

    config, ws = settings.config, settings.ws
    git = ws.git
    base_train = settings.base_config.train if settings.base_config is not None else None
    strategy = config.baseline.strategy
    if settings.dvc is not None and strategy in ("auto", "git"):
        from cml_py.dvc.source import base_source

        return base_source(settings), []
    if settings.dvc is not None and strategy == "rerun" and (base_train is None or base_train.dvc):
        from cml_py.baseline.sources import DirectoryBase
        from cml_py.dvc.train import rerun_dvc

        directory, notes = rerun_dvc(settings, echo=echo)
        return DirectoryBase(directory), notes
    if strategy == "auto":
        strategy = "git"
        if config.train is not None and base_train is not None:
            head = mf.head_paths(replace(metrics_spec, required=False), ws.root)
            wanted = head or mf.literal_paths(metrics_spec, ws.root)
            if not wanted or git.existing(ws.base.sha, wanted) != set(wanted):
                strategy = "rerun"
    if strategy == "store":
        return _stored_source(config, ws, echo)
    if strategy == "git":
        return GitBase(git, ws.base.sha), []
    if settings.base_config is None or base_train is None or not settings.base_config_text:
        raise CmlError(
            f"baseline strategy rerun: {ws.base.name} has no cml.yaml with a `train:` "
            "section, so there is no way to re-train it (this PR's training is never used "
            f"for {ws.base.name}); use strategy git or store until the PR is merged"
        )
    from cml_py.baseline.rerun import rerun_baseline

    directory, notes = rerun_baseline(settings, echo=echo)
    return DirectoryBase(directory), notes


def _stored_source(config: Config, ws: Workspace, echo: Echo) -> tuple[BaseSource, list[str]]:
    """The record of the merge-base, or of its nearest recorded first-parent ancestor."""
    from cml_py.baseline import store
    from cml_py.baseline.sources import GitBase

    remote = config.baseline.remote
    if store.has_remote(ws.git, remote):
        try:
            store.fetch(ws.git, remote)
        except CmlError as exc:
            echo(f"warning: {exc}; using the records already here")
    records = store.find_records(ws.git, ws.base.sha, limit=1)
    if not records:
        return GitBase(ws.git, ws.base.sha), [
            f"No stored baseline for {ws.base.name}'s history (run `cml-py baseline save` on "
            "the default branch); main's numbers are its committed files."
        ]
    sha, distance = records[0]
    where = (
        "the merge-base"
        if distance == 0
        else f"the nearest recorded ancestor, {distance} commit{'s' if distance != 1 else ''} "
        f"before the merge-base {ws.base.sha[:7]}"
    )
    echo(f"main's numbers: the stored record of {sha[:7]} ({where})")
    return store.StoredBase(ws.git, sha), [
        f"main's numbers come from the stored record of {sha[:7]} ({where})."
    ]


def _trends(
    config: Config, ws: Workspace, rules: tuple[GateRule, ...], rows: tuple[DiffRow, ...]
) -> tuple[Trend, ...]:
    """Each gated metric over main's last recorded commits (strategy store)."""
    from cml_py.baseline import store
    from cml_py.metrics.direction import matches
    from cml_py.metrics.parse import parse_file

    gated = [r for r in rows if any(matches(rule.pattern, r.path, r.name) for rule in rules)]
    if not gated or config.baseline.trend == 0:
        return ()
    records = store.find_records(ws.git, ws.base.sha, limit=config.baseline.trend)
    series: dict[tuple[str, str], list[tuple[str, Any]]] = {(r.path, r.name): [] for r in gated}
    paths = sorted({r.path for r in gated})
    for sha, _ in reversed(records):
        blobs = store.StoredBase(ws.git, sha).read_files(paths)
        for path in paths:
            data = blobs.get(path)
            if data is None:
                continue
            try:
                values = parse_file(data, path)
            except CmlError:
                continue
            for (row_path, name), points in series.items():
                if row_path == path and name in values:
                    points.append((sha[:7], values[name]))
    return tuple(
        Trend(path, name, tuple(points))
        for (path, name), points in series.items()
        if len(points) >= 2
    )


def record_files(
    config: Config, selection: Selection, *, cwd: Path
) -> tuple[Git, str, dict[str, bytes]]:
    """What `cml-py baseline save` records for HEAD: the metrics and params files, and
    the training outputs the charts and statistics need (not the model itself)."""
    from cml_py.artifacts import curve_patterns
    from cml_py.metrics import files as mf

    git = Git(cwd)
    repo_root = git.toplevel()
    if repo_root is None:
        raise CmlError(f"{cwd}: not inside a git repository")
    head = git.commit_sha("HEAD")
    if head is None:
        raise CmlError("HEAD has no commit yet: nothing to record")
    metrics_spec, params_spec = file_specs(config, selection, cwd)
    paths = [*mf.head_paths(metrics_spec, repo_root), *mf.head_paths(params_spec, repo_root)]
    if config.train is not None:
        out_dir = config.root / config.train.output_dir
        paths += [
            _relative(p, repo_root)
            for p in sorted(out_dir.rglob("*"))
            if p.is_file() and p.suffix != ".joblib" and not p.name.startswith(".")
        ]
    for pattern in curve_patterns(config, repo_root):
        paths += [_relative(p, repo_root) for p in sorted(repo_root.glob(pattern)) if p.is_file()]
    files = {path: (repo_root / path).read_bytes() for path in dict.fromkeys(paths)}
    return git, head, files


def _read_side(
    kind: str,
    spec: FileSpec,
    ws: Workspace,
    source: BaseSource,
    base_tree: list[str],
    notes: list[str],
) -> tuple[MetricSet, MetricSet]:
    from cml_py.metrics import files as mf
    from cml_py.paths import check_readable

    head_paths = mf.head_paths(spec, ws.root)
    for path in head_paths:
        check_readable(ws.root / path, ws.root, f"the {kind} file", path)
    head = mf.read_head(head_paths, ws.root)
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
            base_files.append(MetricFile(path=path, values=parse_file(data, path)))
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
        metrics, statistics = _with_statistics(config, ws, artifacts, metrics, notes)
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
        head_sha=ws.git.commit_sha("HEAD"),
        notes=tuple(notes),
        statistics=statistics,
        links=tracked.links if tracked is not None else (),
    )
    rules = config.gate
    if config.baseline.strategy == "store":
        comparison = replace(comparison, trends=_trends(config, ws, rules, metrics))
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
    from cml_py.train import layout as out

    if evaluated is None:
        if config.train is None or not config.train.outputs.predictions:
            return rows
        evaluated = f"{_relative(config.root / config.train.output_dir, ws.root)}/{out.METRICS}"
    names = {row.name for row in rows if row.path == evaluated}
    dropped = sorted({row.path for row in rows if row.path != evaluated and row.name in names})
    if not dropped:
        return rows
    notes.append(
        f"Metrics that {', '.join(dropped)} and the evaluated predictions both report are "
        "shown once, as evaluated from the predictions."
    )
    return tuple(row for row in rows if row.path == evaluated or row.name not in names)


def _with_statistics(
    config: Config, ws: Workspace, artifacts: Artifacts, rows: tuple[DiffRow, ...], notes: list[str]
) -> tuple[tuple[DiffRow, ...], StatsSummary | None]:
    """Intervals, p-values and tests for the metrics cml-py computed from predictions —
    or, for each of them, why there are none (a `significant: true` rule says so)."""
    head, base = artifacts.head_predictions, artifacts.base_predictions
    if head is None or artifacts.metrics_path is None:
        return rows, None
    settings = config.evaluate
    metrics_path = artifacts.metrics_path
    repeats = (1 + len(artifacts.base_seeds), 1 + len(artifacts.head_seeds))

    def untestable(reason: str) -> tuple[tuple[DiffRow, ...], StatsSummary]:
        marked = tuple(
            replace(row, untestable=reason) if row.path == metrics_path else row for row in rows
        )
        summary = StatsSummary(
            repeats=repeats,
            confidence=settings.confidence,
            resamples=settings.resamples,
            unpaired=reason,
        )
        return marked, summary

    if base is None:
        notes.append(
            f"{ws.base.name} has no {artifacts.predictions_path}, so changes are "
            "shown without confidence intervals."
        )
        return untestable(f"{ws.base.name} has no predictions to compare with")
    from cml_py.train.predictions import NotPaired
    from cml_py.train.stats import paired_statistics

    try:
        result = paired_statistics(
            [base, *artifacts.base_seeds],
            [head, *artifacts.head_seeds],
            resamples=settings.resamples,
            confidence=settings.confidence,
            seed=settings.seed,
        )
    except NotPaired as exc:
        notes.append(
            f"No confidence intervals: {exc}; paired statistics need both sides' "
            "predictions on the same test rows."
        )
        return untestable(str(exc))
    notes.append(_statistics_note(result.n, result.repeats, settings))
    attached = tuple(
        replace(row, stat=result.stats[row.name])
        if row.path == metrics_path and row.name in result.stats
        else row
        for row in rows
    )
    summary = StatsSummary(
        rows=result.n,
        repeats=result.repeats,
        confidence=settings.confidence,
        resamples=settings.resamples,
    )
    return attached, summary


def _statistics_note(n: int, repeats: tuple[int, int], settings: EvaluateConfig) -> str:
    pct = f"{settings.confidence * 100:g}%"
    text = (
        f"Intervals: {pct}, over the {n:,} test rows both sides predicted; each metric's "
        "interval, p-value and verdict come from one procedure, so they agree"
    )
    if repeats == (1, 1):
        return text + (
            " (accuracy: McNemar's score test; binary ROC AUC: DeLong's; the rest: the "
            f"standard error of a {settings.resamples:,}-resample paired bootstrap). One "
            "seed per side: both models are taken as they are, so on a large test set a "
            "change of seed alone can look significant (train.repeats adds the seeds' spread)."
        )
    return text + (
        f" (a t-test whose variance adds the spread between seeds — main {repeats[0]}, "
        f"this PR {repeats[1]} — to the test rows', from a {settings.resamples:,}-resample "
        "paired bootstrap)."
    )


def chart_data(compared: Compared) -> ChartData:
    """Plain arrays for the charts (classification labels encoded over both sides)."""
    from cml_py.artifacts import Artifacts
    from cml_py.charts.data import ChartData, Side

    artifacts = compared.artifacts or Artifacts()
    sides = [p for p in (artifacts.base_predictions, artifacts.head_predictions) if p is not None]
    fields: dict[str, Any] = {}
    if sides:
        task = sides[-1].task
        fields["task"] = task
        if task == "classification":
            from cml_py.train.predictions import encode

            encoded = encode(*sides)
            fields["labels"] = encoded[0].labels
            made = [Side(e.y, e.pred, e.scores) for e in encoded]
        else:
            made = [Side(p.y_true, p.y_pred) for p in sides]
        if artifacts.head_predictions is not None:
            fields["head"] = made[-1]
        if artifacts.base_predictions is not None:
            fields["base"] = made[0]
    rows = compared.comparison.metrics
    if compared.data is not None:  # the data stage's rows have their own chart
        from cml_py.data.run import is_data_row

        rows = tuple(r for r in rows if not is_data_row(r.path, r.name))
    return ChartData(
        rows=rows,
        base_importance=artifacts.base_importance,
        head_importance=artifacts.head_importance,
        base_curves=artifacts.base_curves,
        head_curves=artifacts.head_curves,
        **fields,
    )


def draw_charts(compared: Compared, directory: Path, *, relative_to: Path) -> tuple[ChartRef, ...]:
    """Draw every chart into `directory`; the refs' paths are relative to the report."""
    from cml_py.charts import draw_all
    from cml_py.charts.save import save_charts

    charts = draw_all(chart_data(compared))
    if compared.plots:
        from cml_py.charts.dvc_plots import draw_plots

        charts += draw_plots(compared.plots)
    if compared.data is not None and compared.data.drift:
        from cml_py.charts.data_drift import data_drift

        charts.append(data_drift(compared.data.drift, compared.data.thresholds))
    refs = save_charts(charts, directory)
    return tuple(
        replace(ref, path=Path(_relative(ref.path, relative_to))) if ref.path else ref
        for ref in refs
    )


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
