"""MLflow runs: the model, its parsing and the checks that decide which run may stand for
this PR or for main (pure), and the few lookups that fetch them (through rest.Client).

A run's id, experiment, status and tags come from a server that the PR's training
command can write to, and the id may come from a file the PR controls: they are data.
Ids are checked against MLflow's own pattern before they go into a URL, commits are
hex before they go into a search filter, and this PR's run must be FINISHED, in the
configured experiment and tagged with HEAD's commit — so a PR cannot claim another run
(main's best, say) as its own.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cml_py.errors import CmlError, ServiceError

if TYPE_CHECKING:
    from cml_py.mlflow.rest import Client

COMMIT_TAG = "mlflow.source.git.commit"
RUN_ID = re.compile(r"^[A-Za-z0-9][\w-]{0,255}$")  # MLflow's own rule for run ids
_SHA = re.compile(r"^[0-9a-f]{7,64}$")
_EXPERIMENT_ID = re.compile(r"^[0-9]{1,32}$")
HISTORY_PAGE = 25000
MAX_HISTORY_POINTS = 200_000
# The SQL stores clamp ±inf to ±float max when logging; reading them back as infinite
# lets the gate's non-finite rule catch a diverged metric.
_CLAMPED = sys.float_info.max


@dataclass(frozen=True)
class Run:
    """One run as cml-py uses it: identity, state, and its latest metric values."""

    run_id: str
    experiment_id: str
    name: str
    status: str
    lifecycle: str
    start_time: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    steps: Mapping[str, int] = field(default_factory=dict)  # the step of each latest value

    @property
    def commit(self) -> str | None:
        return self.tags.get(COMMIT_TAG)

    @property
    def label(self) -> str:
        """`brave-owl-42 (3f2a9c1)`: how messages and notes name a run."""
        return f"{self.name} ({self.run_id[:7]})" if self.name else self.run_id[:7]


def metric_value(value: Any) -> float:
    """MLflow's JSON writes NaN and infinities as strings ("NaN", "Infinity")."""
    if isinstance(value, str):
        value = float(value)  # "NaN", "Infinity", "-Infinity"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    number = float(value)
    if abs(number) == _CLAMPED:
        return math.copysign(math.inf, number)
    return number


def _key(entry: Mapping[str, Any]) -> str:
    """A metric's, param's or tag's key: MLflow's keys are strings (an int key would
    later fail to sort beside them)."""
    key = entry["key"]
    if not isinstance(key, str):
        raise TypeError(f"a key that is not a string: {key!r:.40}")
    return key


def parse_run(data: Any, where: str) -> Run:
    """`{"run": {"info": …, "data": …}}` (or the run itself, as in search results)."""
    run = data.get("run", data) if isinstance(data, dict) else None
    if not isinstance(run, dict):
        raise ServiceError(f"{where}: not an MLflow run (no run object)")
    try:
        info = run["info"]
        body = run.get("data") or {}
        run_id = info.get("run_id") or info["run_uuid"]
        metrics = {_key(m): metric_value(m["value"]) for m in body.get("metrics", [])}
        steps = {_key(m): int(m.get("step") or 0) for m in body.get("metrics", [])}
        params = {_key(p): str(p["value"]) for p in body.get("params", [])}
        tags = {_key(t): str(t["value"]) for t in body.get("tags", [])}
        parsed = Run(
            run_id=str(run_id),
            experiment_id=str(info["experiment_id"]),
            name=str(info.get("run_name") or tags.get("mlflow.runName") or ""),
            status=str(info.get("status", "")),
            lifecycle=str(info.get("lifecycle_stage", "active")),
            start_time=int(info.get("start_time") or 0),
            metrics=metrics,
            params=params,
            tags=tags,
            steps=steps,
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        # OverflowError: a step or start time of Infinity, a value of 10**400
        raise ServiceError(f"{where}: not an MLflow run ({type(exc).__name__}: {exc})") from None
    if not RUN_ID.match(parsed.run_id):
        raise ServiceError(f"{where}: the server named a run {parsed.run_id[:80]!r}")
    return parsed


def check_run_id(value: str, origin: str) -> str:
    value = value.strip()
    if not RUN_ID.match(value):
        raise CmlError(f"{origin}: expected an MLflow run id, got {value[:80]!r}")
    return value


def check_head_run(run: Run, *, experiments: Mapping[str, str], head_sha: str, origin: str) -> None:
    """The run this PR claims (`origin` says who named it) is its own: in one of the
    configured `experiments` (id → name), alive, FINISHED and logged at HEAD's commit."""
    what = f"MLflow run {run.label} (from {origin})"
    if run.experiment_id not in experiments:
        names = " or ".join(f"{name!r}" for name in experiments.values())
        raise CmlError(
            f"{what} is in experiment {run.experiment_id}, not in {names}: cml-py reads this "
            "PR's run only from the configured experiment"
        )
    if run.lifecycle != "active":
        raise CmlError(f"{what} is deleted")
    if run.status != "FINISHED":
        advice = (
            "end the run (leave the `with mlflow.start_run():` block, or call "
            "mlflow.end_run()) before cml-py reads it"
            if run.status in ("RUNNING", "SCHEDULED")
            else "the training did not complete"
        )
        raise CmlError(f"{what} is {run.status or 'in no state'}, not FINISHED: {advice}")
    if run.commit is None:
        raise CmlError(
            f"{what} has no {COMMIT_TAG} tag, so nothing shows it was trained at this "
            "commit: start the run from a script in the git checkout (MLflow tags it when "
            "GitPython is installed)"
        )
    if run.commit != head_sha:
        raise CmlError(
            f"{what} was logged at commit {run.commit[:12]}, not at HEAD {head_sha[:12]}: "
            "a PR's run must be trained from the commit being judged"
        )


def search_filter(commit: str, *, finished: bool = True) -> str:
    if not _SHA.match(commit):
        raise CmlError(f"not a commit id: {commit[:80]!r}")
    status = " and attributes.status = 'FINISHED'" if finished else ""
    return f"tags.`{COMMIT_TAG}` = '{commit}'{status}"


def run_url(ui: str, run: Run) -> str | None:
    """The run's page in the MLflow UI (None when the ids do not look like MLflow's)."""
    if not _EXPERIMENT_ID.match(run.experiment_id) or not RUN_ID.match(run.run_id):
        return None
    return f"{ui}/#/experiments/{run.experiment_id}/runs/{run.run_id}"


def compare_url(ui: str, runs: Sequence[Run]) -> str | None:
    """MLflow's compare view of `runs` (its route: runs and experiments as JSON lists)."""
    import json
    from urllib.parse import quote

    if any(run_url(ui, run) is None for run in runs):
        return None
    ids = json.dumps([run.run_id for run in runs])
    experiments = json.dumps(sorted({run.experiment_id for run in runs}))
    return f"{ui}/#/compare-runs?runs={quote(ids)}&experiments={quote(experiments)}"


def series(points: Iterable[Mapping[str, Any]]) -> tuple[list[float], list[float]]:
    """History points → (steps, values) by step; of several values at one step, the
    last logged (as MLflow's own latest value)."""
    by_step: dict[int, tuple[int, float]] = {}
    for point in points:
        step, stamp = int(point.get("step") or 0), int(point.get("timestamp") or 0)
        value = metric_value(point["value"])
        if step not in by_step or stamp >= by_step[step][0]:
            by_step[step] = (stamp, value)
    steps = sorted(by_step)
    return [float(s) for s in steps], [by_step[s][1] for s in steps]


# Lookups ----------------------------------------------------------------------------


def experiment_id(client: Client, name: str, key: str) -> str:
    from cml_py.mlflow.rest import NotFound

    try:
        data = client.get("experiments/get-by-name", {"experiment_name": name})
    except NotFound:
        raise CmlError(f"{key}: no experiment named {name!r} on {client.url}") from None
    try:
        found = data["experiment"]
        if found.get("lifecycle_stage", "active") != "active":
            raise CmlError(f"{key}: experiment {name!r} on {client.url} is deleted")
        return str(found["experiment_id"])
    except (KeyError, TypeError, AttributeError):
        raise ServiceError(f"MLflow server {client.url}: experiments/get-by-name: no id") from None


def get_run(client: Client, run_id: str, origin: str) -> Run:
    from cml_py.mlflow.rest import NotFound

    try:
        data = client.get("runs/get", {"run_id": run_id})
    except NotFound:
        raise CmlError(f"{origin}: MLflow run {run_id} does not exist on {client.url}") from None
    return parse_run(data, f"MLflow server {client.url}: runs/get")


def newest_run(
    client: Client, experiment_ids: Sequence[str], commit: str, *, finished: bool = True
) -> Run | None:
    """The newest active run of `commit` in the experiments (FINISHED ones only, unless
    `finished` is False — used to say why there is none)."""
    from cml_py.mlflow.rest import NotFound

    search = {
        "experiment_ids": list(experiment_ids),
        "filter": search_filter(commit, finished=finished),
        "run_view_type": "ACTIVE_ONLY",
        "max_results": 1,
        "order_by": ["attributes.start_time DESC"],
    }
    try:
        data = client.post("runs/search", search)
    except NotFound as exc:  # the experiment exists (it was looked up): the server is odd
        where = f"MLflow server {client.url}: runs/search"
        raise ServiceError(f"{where} answered 404 ({exc})") from None
    runs = data.get("runs") or []
    if not isinstance(runs, list):
        raise ServiceError(f"MLflow server {client.url}: runs/search: runs is not a list")
    return parse_run(runs[0], f"MLflow server {client.url}: runs/search") if runs else None


def nearest_run(client: Client, experiment: str, commits: Sequence[str]) -> tuple[Run, int] | None:
    """(newest finished run, distance) of the first of `commits` — the merge-base and its
    first-parent ancestors, nearest first — that has one. One search per commit: MLflow's
    filter has no OR and no IN for tags, and the merge-base usually has a run."""
    for distance, commit in enumerate(commits):
        run = newest_run(client, [experiment], commit)
        if run is not None:
            return run, distance
    return None


def history(client: Client, run_id: str, key: str) -> tuple[list[float], list[float]]:
    """A metric's full step history (paged), at most MAX_HISTORY_POINTS points."""
    from cml_py.mlflow.rest import NotFound

    points: list[Any] = []
    token = ""
    seen: set[str] = set()
    while True:
        params = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
        if token:
            params["page_token"] = token
        try:
            data = client.get("metrics/get-history", params)
        except NotFound as exc:
            raise ServiceError(
                f"MLflow server {client.url}: metrics/get-history answered 404 ({exc})"
            ) from None
        page = data.get("metrics") or []
        if not isinstance(page, list):
            raise ServiceError(f"MLflow server {client.url}: metrics/get-history: not a list")
        points += page
        token = data.get("next_page_token") or ""
        if not token or len(points) >= MAX_HISTORY_POINTS:
            break
        # A next page that brings nothing, or a token given before, would never end.
        if not page or not isinstance(token, str) or token in seen:
            raise ServiceError(
                f"MLflow server {client.url}: metrics/get-history of {key!r} pages without end"
            )
        seen.add(token)
    try:
        return series(points[:MAX_HISTORY_POINTS])
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ServiceError(
            f"MLflow server {client.url}: the history of {key!r} is malformed ({exc})"
        ) from None


def set_tags(client: Client, run_id: str, tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        client.post("runs/set-tag", {"run_id": run_id, "key": key, "value": value})
