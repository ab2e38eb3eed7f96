"""cml.yaml → validated, frozen settings.

Every value is checked against the schema below; an unknown key or a wrong type is an
error that names the file, the key and the expected type. Silently ignoring a typo such
as `max_dorp` would let a gate pass that the user believes is guarding them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cml_py.errors import CmlError
from cml_py.model import Direction
from cml_py.schema import Checker

CONFIG_NAMES = ("cml.yaml", "cml.yml")
ON_MISSING = ("fail", "warn", "ignore")
ON_UNTESTABLE = ("fail", "warn")
MAX_REPEATS = 100
_REPORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class GateRule:
    """The rules for every metric whose name matches `pattern` (a name or a glob)."""

    pattern: str
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    max_drop_pct: float | None = None
    informational: bool = False
    on_missing: str | None = None
    significant: bool = False
    on_nonfinite: str = "fail"
    on_untestable: str | None = None  # significant: when there are no paired statistics


@dataclass(frozen=True)
class SklearnTrain:
    """The built-in trainer: a dataset, a target, a model class and how to split."""

    dataset: str
    target: str = "target"
    features: tuple[str, ...] | None = None
    model: str | None = None  # None: a random forest suited to the task
    params: Mapping[str, Any] = field(default_factory=dict)
    test_size: float = 0.25
    test: str | None = None
    stratify: bool = True
    seed: int = 0  # the model's random_state (and the first of `train.repeats` seeds)
    split_seed: int = 0  # the train/test split's: changing `seed` keeps the test rows
    task: str = "auto"
    save_model: bool = False


@dataclass(frozen=True)
class TrainOutputs:
    """Files a user command writes, relative to cml.yaml's directory."""

    metrics: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    predictions: str | None = None
    feature_importance: str | None = None
    curves: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainConfig:
    """Exactly one of `sklearn`, `command` and `dvc` is set."""

    sklearn: SklearnTrain | None = None
    command: str | tuple[str, ...] | None = None
    dvc: str | None = None  # "repro" or "exp run": the DVC pipeline is the trainer
    set_params: tuple[str, ...] = ()  # dvc exp run --set-param, one per item
    shell: bool = False
    timeout: float | None = None
    outputs: TrainOutputs = field(default_factory=TrainOutputs)
    output_dir: str = ".cml-py/out"
    repeats: int = 1  # seeds trained per side; the statistics add their spread


@dataclass(frozen=True)
class MlflowConfig:
    """An MLflow tracking server as a source of runs (see docs/mlflow.md). Every field is
    policy: where cml-py reads main's numbers from, and which run may stand for this PR."""

    tracking_uri: str | None = None  # else MLFLOW_TRACKING_URI (which wins, as env does)
    experiment: str | None = None  # main's runs; else MLFLOW_EXPERIMENT_NAME
    pr_experiment: str | None = None  # where PR runs are logged (default: `experiment`)
    run_id_file: str | None = None  # written by the training command, relative to cml.yaml
    predictions: str | None = None  # artifact path of a predictions CSV in each run
    curves: tuple[str, ...] = ("*",)  # metric names whose step histories are charted
    write_back: bool = False  # tag this PR's run with the verdict and the report's URL
    ui_url: str | None = None  # the MLflow UI for report links (default: tracking_uri)
    max_artifact_mb: float = 100.0


@dataclass(frozen=True)
class BaselineConfig:
    strategy: str = "auto"  # auto | git | rerun | store | mlflow
    cache: bool = True
    remote: str = "origin"  # store: where records are pushed and fetched
    trend: int = 8  # store: how many of main's records the trend shows


@dataclass(frozen=True)
class DvcConfig:
    """`dvc:` in cml.yaml. `enabled` None means "when the base has the dvc.yaml"."""

    enabled: bool | None = None
    file: str = "dvc.yaml"  # relative to cml.yaml's directory (a sub-project's dvc.yaml)
    remote: str | None = None  # main's DVC remote; default: core.remote of main's .dvc/config


@dataclass(frozen=True)
class EvaluateConfig:
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class PublishConfig:
    """How the report is published (flags of `cml-py comment` override these). Where it
    is published is not here: the target comes only from the CI event or --target."""

    mode: str = "update"
    images: str = "auto"
    assets_branch: str = "cml-py-assets"
    strict: bool = False
    local_dir: str = "cml-py-report"


@dataclass(frozen=True)
class Config:
    """Settings for one run. `root` is the directory that relative paths start from."""

    source: str
    root: Path
    path: Path | None = None  # the cml.yaml read, if any
    metrics: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    base: str | None = None
    directions: tuple[tuple[str, Direction], ...] = ()
    gate: tuple[GateRule, ...] = ()
    report_id: str = "default"
    template: str | None = None
    show_all: bool = False
    train: TrainConfig | None = None
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    curves: tuple[str, ...] = ()
    publish: PublishConfig = field(default_factory=PublishConfig)
    dvc: DvcConfig = field(default_factory=DvcConfig)
    mlflow: MlflowConfig | None = None
    data: Any = None  # cml_py.data.config.DataConfig when cml.yaml has `data:` (docs/data.md)

    def with_overrides(self, **changes: Any) -> Config:
        """Flags win over the file; `None` means "not given on the command line"."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _parse_gate(c: Checker, value: Any) -> tuple[GateRule, ...]:
    if value is None:
        return ()
    rules = []
    numeric: dict[str, Callable[[Any, tuple[str, ...]], float]] = {
        "min": c.number,
        "max": c.number,
        # A negative drop is a required gain (MLflow's min_absolute_change and
        # min_relative_change, see docs/mlflow.md).
        "max_drop": c.number,
        "max_drop_pct": c.number,
    }
    allowed = (
        *numeric,
        "informational",
        "on_missing",
        "on_nonfinite",
        "significant",
        "on_untestable",
    )
    for pattern, spec in c.mapping(value, ("gate",)).items():
        path = ("gate", pattern)
        spec = c.mapping(spec, path)
        c.known_keys(spec, allowed, path)
        if not spec:
            raise c.fail(path, f"expected at least one rule ({', '.join(numeric)})")
        fields: dict[str, Any] = {
            key: check(spec[key], (*path, key)) for key, check in numeric.items() if key in spec
        }
        if "informational" in spec:
            fields["informational"] = c.boolean(spec["informational"], (*path, "informational"))
        if "significant" in spec:
            fields["significant"] = c.boolean(spec["significant"], (*path, "significant"))
        for key in ("on_missing", "on_nonfinite"):
            if key in spec:
                fields[key] = c.choice(spec[key], ON_MISSING, (*path, key))
        if fields.get("significant") and "max_drop" not in fields and "max_drop_pct" not in fields:
            raise c.fail((*path, "significant"), "only applies with max_drop or max_drop_pct")
        if "on_untestable" in spec:
            where = (*path, "on_untestable")
            fields["on_untestable"] = c.choice(spec["on_untestable"], ON_UNTESTABLE, where)
            if not fields.get("significant"):
                raise c.fail(where, "only applies with significant: true")
        if (
            fields.get("significant")
            and min(fields.get("max_drop", 0), fields.get("max_drop_pct", 0)) < 0
        ):
            raise c.fail(
                (*path, "significant"),
                "only applies to a tolerated drop (>= 0), not to a required gain (< 0)",
            )
        if not any(key in fields for key in numeric):
            raise c.fail(path, f"expected at least one rule ({', '.join(numeric)})")
        if "min" in fields and "max" in fields and fields["min"] > fields["max"]:
            raise c.fail(path, f"min ({fields['min']:g}) is greater than max ({fields['max']:g})")
        rules.append(GateRule(pattern=pattern, **fields))
    return tuple(rules)


def _parse_directions(c: Checker, value: Any) -> tuple[tuple[str, Direction], ...]:
    if value is None:
        return ()
    choices = tuple(d.value for d in Direction)
    return tuple(
        (pattern, Direction(c.choice(d, choices, ("direction", pattern))))
        for pattern, d in c.mapping(value, ("direction",)).items()
    )


STRATEGIES = ("auto", "git", "rerun", "store", "mlflow")
TASKS = ("auto", "classification", "regression")


def _parse_sklearn(c: Checker, value: Any) -> SklearnTrain:
    path = ("train", "sklearn")
    spec = c.mapping(value, path)
    allowed = (
        "dataset",
        "target",
        "features",
        "model",
        "params",
        "test_size",
        "test",
        "stratify",
        "seed",
        "split_seed",
        "task",
        "save_model",
    )
    c.known_keys(spec, allowed, path)
    if "dataset" not in spec:
        raise c.fail(path, "missing key dataset (a CSV/Parquet path or sklearn:NAME)")
    if "test" in spec and "test_size" in spec:
        raise c.fail(path, "give either test (a fixed test file) or test_size, not both")
    fields: dict[str, Any] = {"dataset": c.string(spec["dataset"], (*path, "dataset"))}
    for key in ("target", "model", "test"):
        if key in spec:
            fields[key] = c.string(spec[key], (*path, key))
    if "features" in spec:
        fields["features"] = c.string_list(spec["features"], (*path, "features"))
    if "params" in spec:
        fields["params"] = dict(c.mapping(spec["params"], (*path, "params")))
    if "test_size" in spec:
        fields["test_size"] = c.fraction(spec["test_size"], (*path, "test_size"))
    for key in ("stratify", "save_model"):
        if key in spec:
            fields[key] = c.boolean(spec[key], (*path, key))
    for key in ("seed", "split_seed"):
        if key in spec:
            fields[key] = c.integer(spec[key], (*path, key), minimum=0)
    if "task" in spec:
        fields["task"] = c.choice(spec["task"], TASKS, (*path, "task"))
    return SklearnTrain(**fields)


def _parse_outputs(c: Checker, value: Any) -> TrainOutputs:
    path = ("train", "outputs")
    spec = c.mapping(value, path)
    c.known_keys(spec, ("metrics", "params", "predictions", "feature_importance", "curves"), path)
    fields: dict[str, Any] = {}
    for key in ("metrics", "params", "curves"):
        if key in spec:
            fields[key] = c.string_list(spec[key], (*path, key))
    for key in ("predictions", "feature_importance"):
        if key in spec:
            fields[key] = c.string(spec[key], (*path, key))
    return TrainOutputs(**fields)


def _parse_train(c: Checker, value: Any) -> TrainConfig:
    path = ("train",)
    spec = c.mapping(value, path)
    allowed = ("sklearn", "command", "dvc", "set_params", "shell", "timeout", "outputs")
    c.known_keys(spec, (*allowed, "output_dir", "repeats"), path)
    if sum(key in spec for key in ("sklearn", "command", "dvc")) != 1:
        raise c.fail(
            path, "expected exactly one of sklearn (built-in trainer) or command (or dvc: repro)"
        )
    fields: dict[str, Any] = {}
    if "set_params" in spec and spec.get("dvc") != "exp run":
        raise c.fail((*path, "set_params"), "only applies with dvc: exp run")
    if "dvc" in spec:
        fields["dvc"] = c.choice(spec["dvc"], DVC_TRAIN, (*path, "dvc"))
        if "set_params" in spec:
            fields["set_params"] = c.string_list(spec["set_params"], (*path, "set_params"))
        for key in ("shell", "outputs"):
            if key in spec:
                raise c.fail((*path, key), "only applies to a train command, not to dvc")
        if "timeout" in spec:
            fields["timeout"] = _timeout(c, spec["timeout"])
    elif "sklearn" in spec:
        fields["sklearn"] = _parse_sklearn(c, spec["sklearn"])
        for key in ("shell", "timeout", "outputs"):
            if key in spec:
                raise c.fail((*path, key), "only applies to a train command, not to sklearn")
    else:
        fields["command"] = c.command(spec["command"], (*path, "command"))
        if "shell" in spec:
            fields["shell"] = c.boolean(spec["shell"], (*path, "shell"))
        if "timeout" in spec:
            fields["timeout"] = _timeout(c, spec["timeout"])
        if "outputs" in spec:
            fields["outputs"] = _parse_outputs(c, spec["outputs"])
    if "output_dir" in spec:
        fields["output_dir"] = c.string(spec["output_dir"], (*path, "output_dir"))
    if "repeats" in spec:
        repeats = c.integer(spec["repeats"], (*path, "repeats"), minimum=1)
        if repeats > MAX_REPEATS:
            raise c.fail((*path, "repeats"), f"expected an integer from 1 to {MAX_REPEATS}")
        fields["repeats"] = repeats
        outputs = fields.get("outputs")
        if repeats > 1 and "command" in fields and (outputs is None or not outputs.predictions):
            raise c.fail(
                (*path, "repeats"),
                "needs train.outputs.predictions: the seeds are compared by their predictions",
            )
    return TrainConfig(**fields)


DVC_TRAIN = ("repro", "exp run")


def _timeout(c: Checker, value: Any) -> float:
    timeout = c.number(value, ("train", "timeout"), non_negative=True)
    if timeout == 0:
        raise c.fail(("train", "timeout"), "expected a number of seconds > 0")
    return timeout


def _parse_dvc(c: Checker, value: Any) -> DvcConfig:
    """`dvc: true|false|PATH` or `dvc: {file: PATH, remote: NAME}`."""
    if isinstance(value, bool):
        return DvcConfig(enabled=value)
    if isinstance(value, str):
        return DvcConfig(enabled=True, file=_dvc_file(c, value, ("dvc",)))
    if not isinstance(value, Mapping):
        raise c.fail(("dvc",), "expected true, false, a path to dvc.yaml, or a mapping")
    c.known_keys(value, ("enabled", "file", "remote"), ("dvc",))
    fields: dict[str, Any] = {"enabled": True}
    if "enabled" in value:
        fields["enabled"] = c.boolean(value["enabled"], ("dvc", "enabled"))
    if "file" in value:
        fields["file"] = _dvc_file(c, c.string(value["file"], ("dvc", "file")), ("dvc", "file"))
    if "remote" in value:
        fields["remote"] = c.string(value["remote"], ("dvc", "remote"))
    return DvcConfig(**fields)


def _dvc_file(c: Checker, value: str, path: tuple[str, ...]) -> str:
    """A dvc.yaml path, or the directory of one (a sub-project)."""
    value = value.strip().rstrip("/")
    if not value:
        raise c.fail(path, "expected a path to a dvc.yaml")
    return value if value.endswith((".yaml", ".yml")) else f"{value}/dvc.yaml"


def _parse_baseline(c: Checker, value: Any) -> BaselineConfig:
    spec = c.mapping(value, ("baseline",))
    c.known_keys(spec, ("strategy", "cache", "remote", "trend"), ("baseline",))
    fields: dict[str, Any] = {}
    if "strategy" in spec:
        fields["strategy"] = c.choice(spec["strategy"], STRATEGIES, ("baseline", "strategy"))
    if "cache" in spec:
        fields["cache"] = c.boolean(spec["cache"], ("baseline", "cache"))
    if "remote" in spec:
        fields["remote"] = c.string(spec["remote"], ("baseline", "remote"))
    if "trend" in spec:
        fields["trend"] = c.integer(spec["trend"], ("baseline", "trend"), minimum=0)
    return BaselineConfig(**fields)


def _parse_evaluate(c: Checker, value: Any) -> EvaluateConfig:
    spec = c.mapping(value, ("evaluate",))
    c.known_keys(spec, ("resamples", "confidence", "seed"), ("evaluate",))
    fields: dict[str, Any] = {}
    if "resamples" in spec:
        fields["resamples"] = c.integer(spec["resamples"], ("evaluate", "resamples"), minimum=100)
    if "confidence" in spec:
        fields["confidence"] = c.fraction(spec["confidence"], ("evaluate", "confidence"))
    if "seed" in spec:
        fields["seed"] = c.integer(spec["seed"], ("evaluate", "seed"), minimum=0)
    return EvaluateConfig(**fields)


def _parse_publish(c: Checker, value: Any) -> PublishConfig:
    path = ("publish",)
    spec = c.mapping(value, path)
    if "target" in spec:
        raise c.fail(
            (*path, "target"),
            "the comment's target comes from the CI event, or from --target in the workflow; "
            "a file in the repository cannot choose where cml-py writes",
        )
    c.known_keys(spec, ("mode", "images", "assets_branch", "strict", "local_dir"), path)
    fields: dict[str, Any] = {}
    if "mode" in spec:
        fields["mode"] = c.choice(spec["mode"], ("update", "new", "recreate"), (*path, "mode"))
    if "images" in spec:
        fields["images"] = c.choice(spec["images"], ("auto", "none"), (*path, "images"))
    if "assets_branch" in spec:
        fields["assets_branch"] = check_assets_branch(
            c.string(spec["assets_branch"], (*path, "assets_branch")),
            f"{c.source}: publish.assets_branch",
        )
    if "local_dir" in spec:
        fields["local_dir"] = c.string(spec["local_dir"], (*path, "local_dir"))
    if "strict" in spec:
        fields["strict"] = c.boolean(spec["strict"], (*path, "strict"))
    return PublishConfig(**fields)


MLFLOW_KEYS = (
    "tracking_uri",
    "experiment",
    "pr_experiment",
    "run_id_file",
    "predictions",
    "curves",
    "write_back",
    "ui_url",
    "max_artifact_mb",
)


def _parse_mlflow(c: Checker, value: Any) -> MlflowConfig:
    path = ("mlflow",)
    spec = c.mapping(value, path)
    c.known_keys(spec, MLFLOW_KEYS, path)
    fields: dict[str, Any] = {}
    for key in ("tracking_uri", "ui_url"):
        if key in spec:
            fields[key] = check_server_url(
                c.string(spec[key], (*path, key)), f"{c.source}: mlflow.{key}"
            )
    for key in ("experiment", "pr_experiment", "run_id_file"):
        if key in spec:
            fields[key] = c.string(spec[key], (*path, key))
    if "predictions" in spec:
        fields["predictions"] = check_artifact_path(
            c.string(spec["predictions"], (*path, "predictions")), f"{c.source}: mlflow.predictions"
        )
    if "curves" in spec:
        fields["curves"] = (
            () if spec["curves"] == [] else c.string_list(spec["curves"], (*path, "curves"))
        )
    if "write_back" in spec:
        fields["write_back"] = c.boolean(spec["write_back"], (*path, "write_back"))
    if "max_artifact_mb" in spec:
        size = c.number(spec["max_artifact_mb"], (*path, "max_artifact_mb"), non_negative=True)
        if size == 0:
            raise c.fail((*path, "max_artifact_mb"), "expected a number of MiB > 0")
        fields["max_artifact_mb"] = size
    return MlflowConfig(**fields)


def check_server_url(value: str, where: str) -> str:
    """cml-py reads runs through a tracking server's REST API, so the URI is an http(s)
    URL; a database or file store (`sqlite:///…`, `./mlruns`) is served by `mlflow server`."""
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Never the value itself after a scheme: a database URI may hold a password.
        shown = f"{parts.scheme}:…" if parts.scheme else repr(value.split("@")[-1])
        raise CmlError(
            f"{where}: expected the http(s) URL of an MLflow tracking server, got {shown} "
            "(serve a database or file store with `mlflow server`)"
        )
    return value.strip()


def check_artifact_path(value: str, where: str) -> str:
    """A path inside a run's artifacts: relative, `/`-separated, never leaving the run."""
    parts = value.split("/")
    if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts):
        raise CmlError(
            f"{where}: expected a relative artifact path such as predictions.csv or "
            f"eval/predictions.csv, got {value!r}"
        )
    return value


TOP_LEVEL_KEYS = (
    "metrics",
    "params",
    "base",
    "direction",
    "gate",
    "report",
    "train",
    "baseline",
    "evaluate",
    "curves",
    "publish",
    "dvc",
    "mlflow",
    "data",
)


def parse_config(data: Any, *, source: str, root: Path) -> Config:
    """Validate the parsed YAML of a cml.yaml (pure: no file access)."""
    c = Checker(source)
    if data is None:
        return Config(source=source, root=root)
    data = c.mapping(data, ())
    c.known_keys(data, TOP_LEVEL_KEYS, ())
    fields: dict[str, Any] = {}
    if data.get("metrics") is not None:
        fields["metrics"] = c.string_list(data["metrics"], ("metrics",))
    if data.get("params") is not None:
        fields["params"] = c.string_list(data["params"], ("params",))
    if data.get("base") is not None:
        fields["base"] = c.string(data["base"], ("base",))
    fields["directions"] = _parse_directions(c, data.get("direction"))
    fields["gate"] = _parse_gate(c, data.get("gate"))
    report = data.get("report")
    if report is not None:
        report = c.mapping(report, ("report",))
        c.known_keys(report, ("id", "template", "show_unchanged"), ("report",))
        if "id" in report:
            fields["report_id"] = check_report_id(
                c.string(report["id"], ("report", "id")), f"{source}: report.id"
            )
        if "template" in report:
            fields["template"] = c.string(report["template"], ("report", "template"))
        if "show_unchanged" in report:
            fields["show_all"] = c.boolean(report["show_unchanged"], ("report", "show_unchanged"))
    if data.get("train") is not None:
        fields["train"] = _parse_train(c, data["train"])
    if data.get("baseline") is not None:
        fields["baseline"] = _parse_baseline(c, data["baseline"])
    if data.get("evaluate") is not None:
        fields["evaluate"] = _parse_evaluate(c, data["evaluate"])
    if data.get("curves") is not None:
        fields["curves"] = c.string_list(data["curves"], ("curves",))
    if data.get("publish") is not None:
        fields["publish"] = _parse_publish(c, data["publish"])
    if data.get("dvc") is not None:
        fields["dvc"] = _parse_dvc(c, data["dvc"])
    if data.get("mlflow") is not None:
        fields["mlflow"] = _parse_mlflow(c, data["mlflow"])
    if "baseline" in fields and fields["baseline"].strategy == "mlflow" and "mlflow" not in fields:
        raise c.fail(
            ("baseline", "strategy"),
            "mlflow needs an `mlflow:` section naming the tracking server and experiment",
        )
    if data.get("data") is not None:
        from cml_py.data.config import parse_data  # only for projects that compare data

        fields["data"] = parse_data(c, data["data"])
    return Config(source=source, root=root, **fields)


def check_report_id(value: str, where: str = "--id") -> str:
    """Report ids end up inside an HTML comment and in check names: keep them plain."""
    if not _REPORT_ID.match(value):
        raise CmlError(
            f"{where}: expected letters, digits, '.', '_' or '-' (at most 64), got {value!r}"
        )
    return value


_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
PROTECTED_BRANCHES = frozenset(
    {"main", "master", "develop", "development", "dev", "trunk", "stable", "staging"}
    | {"production", "prod", "release", "releases", "gh-pages", "head"}
)
PROTECTED_PREFIXES = ("release/", "releases/", "hotfix/", "refs/")


def check_assets_branch(value: str, where: str = "--assets-branch") -> str:
    """The branch chart images are committed to is cml-py's own: never a name that looks
    like a branch people work on or publish from (the default branch is refused too, at
    publish time, when the forge says which one it is)."""
    lowered = value.lower()
    if not _BRANCH.match(value) or ".." in value or value.endswith((".", "/", ".lock")):
        raise CmlError(f"{where}: expected a branch name, got {value!r}")
    if lowered in PROTECTED_BRANCHES or lowered.startswith(PROTECTED_PREFIXES):
        raise CmlError(
            f"{where}: {value!r} looks like a branch people work on; cml-py commits chart "
            "images only to a branch of its own (default cml-py-assets)"
        )
    return value


def find_repo_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` that holds `.git` (a dir, or a file for
    worktrees and submodules). Found without running git, to keep start-up fast."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def find_config(start: Path) -> Path | None:
    """The nearest cml.yaml from `start` up to the repository root."""
    root = find_repo_root(start)
    for directory in (start, *start.parents):
        for name in CONFIG_NAMES:
            if (directory / name).is_file():
                return directory / name
        if directory == root:
            break
    return None


def load_config(path: Path | None, *, cwd: Path, display: str | None = None) -> Config:
    """Read cml.yaml (the given one, or the nearest one); defaults when there is none.
    `display` is how messages name the file (default: as given, or its name if found)."""
    explicit = path is not None
    if path is None:
        path = find_config(cwd)
    if path is None:
        return Config(source="(no cml.yaml)", root=find_repo_root(cwd) or cwd)
    display = display or (path.name if not explicit else str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CmlError(f"{display}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CmlError(f"{display}: cannot read config file: {exc}") from None
    from cml_py.yamlio import load_yaml

    data = load_yaml(text, display)
    return replace(
        parse_config(data, source=display, root=path.resolve().parent), path=path.resolve()
    )
