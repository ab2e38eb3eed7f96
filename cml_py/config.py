"""cml.yaml → validated, frozen settings.

Every value is checked against the schema below; an unknown key or a wrong type is an
error that names the file, the key and the expected type. Silently ignoring a typo such
as `max_dorp` would let a gate pass that the user believes is guarding them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
MAX_RESAMPLES = 100_000  # as `evaluate --resamples`: more would hold gigabytes of draws
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
    """`baseline:` in cml.yaml: where main's numbers come from."""

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
    """`evaluate:` in cml.yaml: how the paired statistics are computed."""

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
    from cml_py import config_sections as sections

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
    fields["directions"] = sections._parse_directions(c, data.get("direction"))
    fields["gate"] = sections._parse_gate(c, data.get("gate"))
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
        fields["train"] = sections._parse_train(c, data["train"])
    if data.get("baseline") is not None:
        fields["baseline"] = sections._parse_baseline(c, data["baseline"])
    if data.get("evaluate") is not None:
        fields["evaluate"] = sections._parse_evaluate(c, data["evaluate"])
    if data.get("curves") is not None:
        fields["curves"] = c.string_list(data["curves"], ("curves",))
    if data.get("publish") is not None:
        fields["publish"] = sections._parse_publish(c, data["publish"])
    if data.get("dvc") is not None:
        fields["dvc"] = sections._parse_dvc(c, data["dvc"])
    if data.get("mlflow") is not None:
        fields["mlflow"] = sections._parse_mlflow(c, data["mlflow"])
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
