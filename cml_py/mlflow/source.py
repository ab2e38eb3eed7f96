"""MLflow in the pipeline: main's run as a baseline source, this PR's run as head data.

Policy and data, as everywhere in cml-py (see docs/security.md and docs/mlflow.md):

- Where runs are read from — the tracking URI, the experiments, the predictions artifact,
  whether cml-py writes tags back — is `mlflow:` in the base commit's cml.yaml (or the
  workflow's MLFLOW_TRACKING_URI / MLFLOW_EXPERIMENT_NAME). A PR cannot point cml-py at
  another server or experiment to pick main's numbers.
- Main's run is the newest FINISHED run in `experiment` tagged with the merge-base, else
  with its nearest first-parent ancestor that has one, like stored baselines.
- This PR's run is named by MLFLOW_RUN_ID or by `run_id_file` (written by the training
  command: PR data), else found as the newest FINISHED run tagged with HEAD. Either way
  it must be in `pr_experiment` (default `experiment`), FINISHED and tagged with HEAD's
  commit, or the run fails (exit 2): a PR cannot claim another run as its own.
- Artifacts are downloaded into memory, never into the checkout, at most
  `max_artifact_mb` each; the artifact path is main's setting, checked to stay inside
  the run's artifacts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from cml_py.config import Config, MlflowConfig
from cml_py.config_sections import check_server_url
from cml_py.errors import CmlError
from cml_py.mlflow import runs as r
from cml_py.model import MetricFile

if TYPE_CHECKING:
    from cml_py.artifacts import Artifacts
    from cml_py.git import Git
    from cml_py.mlflow.rest import Client
    from cml_py.trust import Settings

Echo = Callable[[str], None]
PATH = "mlflow"  # the "file" of a run's metrics and params in reports and gate patterns
SEARCH_DEPTH = 100  # first-parent ancestors of the merge-base searched for main's run
MAX_CURVES = 6  # the training-curves chart draws six panels: fetch no more histories
RUN_ID_FILE_LIMIT = 4096
VERDICT_TAG, REPORT_TAG = "cml-py.verdict", "cml-py.report"


@dataclass(frozen=True)
class Tracking:
    """The resolved `mlflow:` settings: a client and the experiments' ids."""

    client: Client
    experiment: str  # main's experiment id
    experiment_name: str
    head_experiments: Mapping[str, str]  # id → name of where this PR's run may be
    ui: str | None  # the UI's root URL for links, without credentials


def connect(config: Config, env: Mapping[str, str] | None = None) -> Tracking:
    """Resolve the server and experiments: the URI from MLFLOW_TRACKING_URI (the
    workflow's) else `mlflow.tracking_uri`; experiments from main's cml.yaml, else
    MLFLOW_EXPERIMENT_NAME (which a PR job may point at its own experiment for training,
    so it never overrides the file)."""
    from cml_py.mlflow.rest import Client

    env = os.environ if env is None else env
    settings = config.mlflow
    assert settings is not None
    key = f"{config.source}: mlflow"
    uri = env.get("MLFLOW_TRACKING_URI") or settings.tracking_uri
    if not uri:
        raise CmlError(f"{key}.tracking_uri: missing; set it, or MLFLOW_TRACKING_URI")
    where = "MLFLOW_TRACKING_URI" if env.get("MLFLOW_TRACKING_URI") else f"{key}.tracking_uri"
    client = Client(check_server_url(uri, where), env)
    name = settings.experiment or env.get("MLFLOW_EXPERIMENT_NAME")
    if not name:
        raise CmlError(f"{key}.experiment: missing; name the experiment main's runs are in")
    experiment = r.experiment_id(client, name, f"{key}.experiment")
    head = {experiment: name}
    if settings.pr_experiment and settings.pr_experiment != name:
        pr_id = r.experiment_id(client, settings.pr_experiment, f"{key}.pr_experiment")
        head = {pr_id: settings.pr_experiment}
    ui = (settings.ui_url or client.url).rstrip("/")
    if settings.ui_url:
        from cml_py.tokens import protect_url

        ui = protect_url(settings.ui_url).rstrip("/")
    return Tracking(client, experiment, name, head, ui)


class MlflowBase:
    """Main's numbers from an MLflow run; main's committed files (if any are configured)
    from git at that run's commit. Answers the BaseSource questions of sources.py."""

    def __init__(self, git: Git, tracking: Tracking, run: r.Run, distance: int) -> None:
        from cml_py.baseline.sources import GitBase

        assert run.commit is not None
        self.tracking, self.run, self.distance = tracking, run, distance
        self._files = GitBase(git, run.commit)

    def list_files(self) -> list[str]:
        return self._files.list_files()

    def read_files(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        return self._files.read_files(paths)


def base_source(settings: Settings, *, echo: Echo) -> tuple[MlflowBase | None, list[str]]:
    """Main's run for this PR's base, or None with a note saying what was searched."""
    ws = settings.ws
    tracking = connect(settings.config)
    commits = (
        ws.git.run("rev-list", "--first-parent", f"--max-count={SEARCH_DEPTH}", ws.base.sha)
        .stdout.decode()
        .split()
    )
    found = r.nearest_run(tracking.client, tracking.experiment, commits)
    if found is None:
        return None, [
            f"No finished MLflow run in experiment {tracking.experiment_name} for "
            f"{ws.base.name}'s history (the merge-base {ws.base.sha[:7]} and its "
            f"{len(commits) - 1} nearest first-parent ancestors)."
        ]
    run, distance = found
    where = (
        "the merge-base"
        if distance == 0
        else f"the nearest ancestor with a run, {distance} commit{'s' if distance != 1 else ''} "
        f"before the merge-base {ws.base.sha[:7]}"
    )
    assert run.commit is not None
    echo(f"main's numbers: MLflow run {run.label} of {run.commit[:7]} ({where})")
    return MlflowBase(ws.git, tracking, run, distance), [
        f"main's numbers come from MLflow run {run.label} in experiment "
        f"{tracking.experiment_name}, logged at {run.commit[:7]} ({where})."
    ]


@dataclass(frozen=True)
class Tracked:
    """What the runs add to a comparison: plain data, no client."""

    head: r.Run
    base: r.Run | None
    head_metrics: tuple[MetricFile, ...]
    base_metrics: tuple[MetricFile, ...]
    head_params: tuple[MetricFile, ...]
    base_params: tuple[MetricFile, ...]
    head_curves: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    base_curves: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    head_predictions: Any = None
    base_predictions: Any = None
    evaluated_path: str | None = None  # the rows evaluated from the predictions
    predictions_name: str | None = None
    links: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def artifacts(self, local: Artifacts | None) -> Artifacts | None:
        """The local artifacts (if any) with the runs' curves and predictions added."""
        from cml_py.artifacts import Artifacts

        if not (self.head_curves or self.base_curves or self.head_predictions is not None):
            return local
        local = local or Artifacts()
        changes: dict[str, Any] = {
            "head_curves": {**local.head_curves, **self.head_curves},
            "base_curves": {**local.base_curves, **self.base_curves},
        }
        if self.head_predictions is not None:
            changes |= {
                "head_predictions": self.head_predictions,
                "base_predictions": self.base_predictions,
                "predictions_path": self.predictions_name,
                "metrics_path": self.evaluated_path,
            }
        return replace(local, **changes)


def run_metric_files(run: r.Run) -> tuple[MetricFile, ...]:
    return (MetricFile(PATH, dict(sorted(run.metrics.items()))),) if run.metrics else ()


def run_param_files(run: r.Run) -> tuple[MetricFile, ...]:
    """Params, and the tags people set (`tags.<key>`); MLflow's own `mlflow.*` tags and
    cml-py's write-back tags differ on every run and would only be noise."""
    values: dict[str, Any] = {k: _param_value(v) for k, v in sorted(run.params.items())}
    for key, value in sorted(run.tags.items()):
        if not key.startswith(("mlflow.", "cml-py.")):
            values[f"tags.{key}"] = value
    return (MetricFile(PATH, values),) if values else ()


def _param_value(text: str) -> Any:
    """MLflow keeps params as strings; numbers read as numbers, as in params files."""
    from cml_py.metrics.parse import parse_cell

    value = parse_cell(text)
    return text if value is None else value


def read_runs(
    settings: Settings,
    source: Any,
    *,
    echo: Echo,
    curves: bool = True,
    env: Mapping[str, str] | None = None,
) -> Tracked:
    """This PR's verified run, main's run when `source` is one, and what both bring
    (the step histories only when a chart will draw them: `diff` and `gate` skip them)."""
    env = os.environ if env is None else env
    config = settings.config
    assert config.mlflow is not None
    tracking = source.tracking if isinstance(source, MlflowBase) else connect(config, env)
    base = source.run if isinstance(source, MlflowBase) else None
    head, how = head_run(tracking, config, settings, env)
    echo(f"this PR's numbers: MLflow run {head.label}, {how}")
    notes = [f"This PR's numbers come from MLflow run {head.label}, {how}."]
    if base is None and config.baseline.strategy not in ("auto", "mlflow"):
        notes.append(
            f"Baseline strategy {config.baseline.strategy}: main's numbers do not come from "
            "MLflow, so the run's metrics have no value on main."
        )
    fields: dict[str, Any] = {}
    if curves and config.mlflow.curves:
        fields["base_curves"], fields["head_curves"] = histories(
            tracking.client, config.mlflow.curves, head, base
        )
    head_metrics, base_metrics = run_metric_files(head), run_metric_files(base) if base else ()
    if config.mlflow.predictions:
        head_file, base_file, more = _predictions(
            tracking, config.mlflow, head, base, settings.ws.base.name, notes
        )
        head_metrics += (head_file,)
        base_metrics += (base_file,) if base_file is not None else ()
        fields |= more
    return Tracked(
        head=head,
        base=base,
        head_metrics=head_metrics,
        base_metrics=base_metrics,
        head_params=run_param_files(head),
        base_params=run_param_files(base) if base else (),
        links=links(tracking.ui, head, base),
        notes=tuple(notes),
        **fields,
    )


def head_run(
    tracking: Tracking, config: Config, settings: Settings, env: Mapping[str, str]
) -> tuple[r.Run, str]:
    """This PR's run, verified; and how it was found (for the report)."""
    ws = settings.ws
    head_sha = ws.head_sha
    experiments = tracking.head_experiments
    named = _named_run_id(config, ws.root, env)
    if named is not None:
        run_id, origin = named
        named_run = r.get_run(tracking.client, run_id, origin)
        r.check_head_run(named_run, experiments=experiments, head_sha=head_sha, origin=origin)
        return named_run, f"named by {origin}"
    run = r.newest_run(tracking.client, list(experiments), head_sha)
    names = " or ".join(experiments.values())
    if run is None:
        other = r.newest_run(tracking.client, list(experiments), head_sha, finished=False)
        if other is not None:
            r.check_head_run(
                other, experiments=experiments, head_sha=head_sha, origin=f"experiment {names}"
            )
        raise CmlError(
            f"no MLflow run in experiment {names} is tagged with HEAD's commit "
            f"{head_sha[:12]} ({r.COMMIT_TAG}): train from this checkout first, or name "
            "the run with MLFLOW_RUN_ID or the file in mlflow.run_id_file"
        )
    r.check_head_run(run, experiments=experiments, head_sha=head_sha, origin="search")
    return run, "the newest finished run of HEAD's commit"


def _named_run_id(config: Config, root: Any, env: Mapping[str, str]) -> tuple[str, str] | None:
    """MLFLOW_RUN_ID (the workflow's), else the id the training command wrote to
    `mlflow.run_id_file` — a regular file inside the repository, read with a size limit."""
    from pathlib import Path

    from cml_py.paths import check_readable, lookup_error

    if env.get("MLFLOW_RUN_ID"):
        return r.check_run_id(env["MLFLOW_RUN_ID"], "MLFLOW_RUN_ID"), "MLFLOW_RUN_ID"
    assert config.mlflow is not None
    if not config.mlflow.run_id_file:
        return None
    path = config.root / config.mlflow.run_id_file
    display = Path(os.path.relpath(path, root)).as_posix()
    try:
        if not (path.is_file() or path.is_symlink()):
            return None
    except OSError as exc:
        raise lookup_error(display, "mlflow.run_id_file", exc) from None
    check_readable(path, Path(root), "mlflow.run_id_file", display)
    with path.open("rb") as handle:
        data = handle.read(RUN_ID_FILE_LIMIT + 1)
    if len(data) > RUN_ID_FILE_LIMIT:
        raise CmlError(f"{display}: expected an MLflow run id, got {len(data)}+ bytes")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CmlError(f"{display}: expected an MLflow run id in UTF-8 text") from None
    return r.check_run_id(text, display), display


def histories(
    client: Client, patterns: Iterable[str], head: r.Run, base: r.Run | None
) -> tuple[dict[str, tuple[Any, Any]], dict[str, tuple[Any, Any]]]:
    """(main's, this PR's) step histories of the metrics matching `patterns` that were
    logged at more than one step — at most MAX_CURVES, the panels the chart draws, so a
    run with a hundred metrics costs a dozen requests, not two hundred."""
    import numpy as np

    patterns = tuple(patterns)
    names = [
        name
        for name, step in sorted(head.steps.items())
        if step > 0 and any(fnmatchcase(name, p) for p in patterns)
    ]
    head_out: dict[str, tuple[Any, Any]] = {}
    base_out: dict[str, tuple[Any, Any]] = {}
    for name in names[:MAX_CURVES]:
        for run, out in ((head, head_out), (base, base_out)):
            if run is None or name not in run.metrics:
                continue
            steps, values = r.history(client, run.run_id, name)
            if len(steps) >= 2:
                out[name] = (np.asarray(steps, dtype=float), np.asarray(values, dtype=float))
    return base_out, head_out


def _predictions(
    tracking: Tracking,
    settings: MlflowConfig,
    head: r.Run,
    base: r.Run | None,
    base_name: str,
    notes: list[str],
) -> tuple[MetricFile, MetricFile | None, dict[str, Any]]:
    """Both runs' predictions artifact, evaluated as a local predictions file is: (this
    PR's evaluated metrics, main's, and the Tracked fields for the statistics)."""
    from cml_py.mlflow.rest import NotFound
    from cml_py.train.evaluate import evaluate
    from cml_py.train.predictions import read_predictions

    path = settings.predictions
    assert path is not None
    limit = settings.max_artifact_mb
    evaluated_path = f"{PATH}/{path}"
    try:
        data = tracking.client.download(head.run_id, path, max_mb=limit)
    except NotFound:
        raise CmlError(
            f"mlflow.predictions: this PR's MLflow run {head.label} has no artifact {path!r}; "
            "log it with mlflow.log_artifact, or remove mlflow.predictions"
        ) from None
    head_predictions = read_predictions("", display=f"MLflow run {head.label}: {path}", data=data)
    head_file = MetricFile(evaluated_path, evaluate(head_predictions))
    fields: dict[str, Any] = {
        "head_predictions": head_predictions,
        "evaluated_path": evaluated_path,
        "predictions_name": f"MLflow artifact {path}",
    }
    if base is None:
        return head_file, None, fields
    try:
        data = tracking.client.download(base.run_id, path, max_mb=limit)
        base_predictions = read_predictions(
            "", display=f"MLflow run {base.label}: {path}", data=data, task=head_predictions.task
        )
    except NotFound:
        return head_file, None, fields  # the pipeline notes that main has no predictions
    except CmlError as exc:
        notes.append(f"{base_name}'s predictions could not be read ({exc}).")
        return head_file, None, fields
    fields["base_predictions"] = base_predictions
    return head_file, MetricFile(evaluated_path, evaluate(base_predictions)), fields


def links(ui: str | None, head: r.Run, base: r.Run | None) -> tuple[tuple[str, str], ...]:
    """Links to both runs and to MLflow's compare view (the ids checked, see runs.py)."""
    if not ui:
        return ()
    out = []
    for label, run in (("main's MLflow run", base), ("this PR's MLflow run", head)):
        url = r.run_url(ui, run) if run is not None else None
        if url:
            out.append((label, url))
    if base is not None:
        url = r.compare_url(ui, [base, head])
        if url:
            out.append(("compare in MLflow", url))
    return tuple(out)


def write_back(
    config: Config,
    run_id: str,
    *,
    verdict: str,
    report_url: str | None,
    echo: Echo,
    env: Mapping[str, str] | None = None,
) -> bool:
    """Tag this PR's (verified) run with the verdict and the report's URL, so the MLflow
    UI shows which runs passed the gate. A failure warns: the verdict stands anyway."""
    from cml_py.errors import ServiceError
    from cml_py.mlflow.rest import Client, NotFound

    env = os.environ if env is None else env
    assert config.mlflow is not None
    uri = env.get("MLFLOW_TRACKING_URI") or config.mlflow.tracking_uri or ""
    tags = {VERDICT_TAG: verdict}
    if report_url:
        tags[REPORT_TAG] = report_url
    try:
        r.set_tags(Client(uri, env), run_id, tags)
    except (CmlError, ServiceError, NotFound) as exc:
        echo(f"warning: could not tag MLflow run {run_id[:7]} with the verdict: {exc}")
        return False
    echo(f"tagged MLflow run {run_id[:7]}: {', '.join(f'{k}={v}' for k, v in tags.items())}")
    return True
