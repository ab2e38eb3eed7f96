"""The sections of cml.yaml, each checked key by key (see config.py for the whole): gate
rules, directions, training, DVC, baselines, evaluation, publishing and MLflow. Every
error names the file, the key and what was expected."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cml_py.config import (
    MAX_REPEATS,
    MAX_RESAMPLES,
    ON_MISSING,
    ON_UNTESTABLE,
    BaselineConfig,
    DvcConfig,
    EvaluateConfig,
    GateRule,
    MlflowConfig,
    PublishConfig,
    SklearnTrain,
    TrainConfig,
    TrainOutputs,
    check_assets_branch,
)
from cml_py.errors import CmlError
from cml_py.model import Direction
from cml_py.schema import Checker


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
        if not pattern.strip():  # `"": {min: 0.9}` named no metric: a check that always fails
            raise c.fail(("gate",), f"expected a metric name or pattern as key, got {pattern!r}")
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
    patterns = c.mapping(value, ("direction",))
    for pattern in patterns:
        if not pattern.strip():
            raise c.fail(
                ("direction",), f"expected a metric name or pattern as key, got {pattern!r}"
            )
    return tuple(
        (pattern, Direction(c.choice(d, choices, ("direction", pattern))))
        for pattern, d in patterns.items()
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
        for key in ("shell", "outputs"):
            if key in spec:
                raise c.fail((*path, key), "only applies to a train command, not to sklearn")
        if "timeout" in spec:
            fields["timeout"] = _timeout(c, spec["timeout"])
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
        resamples = c.integer(spec["resamples"], ("evaluate", "resamples"), minimum=100)
        if resamples > MAX_RESAMPLES:
            raise c.fail(
                ("evaluate", "resamples"), f"expected an integer from 100 to {MAX_RESAMPLES:,}"
            )
        fields["resamples"] = resamples
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
        fields["local_dir"] = _local_dir(c, spec["local_dir"], (*path, "local_dir"))
    if "strict" in spec:
        fields["strict"] = c.boolean(spec["strict"], (*path, "strict"))
    return PublishConfig(**fields)


def _local_dir(c: Checker, value: Any, path: tuple[str, ...]) -> str:
    """Where a run without CI copies the report: a folder of the repository's own, as
    `--local-dir` names any other; never outside it, nor inside `.git`."""
    text = c.string(value, path)
    parts = text.replace("\\", "/").split("/")
    if text.startswith("/") or ".." in parts or parts[0] in (".git", "") or text in (".", "./"):
        raise c.fail(
            path, f"expected a folder inside the repository such as cml-py-report, got {text!r}"
        )
    return text


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

    if any(c.isspace() or not c.isprintable() for c in value.strip()):
        raise CmlError(
            f"{where}: expected a URL without spaces or control characters (percent-encode them)"
        )
    try:
        parts = urlsplit(value.strip())
        port = parts.port  # parsed on access: "http://h:99999" is out of range
    except ValueError as exc:  # "http://[::1": an unclosed IPv6 address
        shown = repr(value.split("@")[-1])
        # The parser's own words quote what it took for a port or host — with a `#`, `/`
        # or `?` in the password (not percent-encoded), that is part of the password.
        why = "" if "@" in value else f" ({exc})"
        raise CmlError(
            f"{where}: not a valid URL{why}: {shown}"
            + (" (percent-encode `#`, `/`, `?` and `@` in a password)" if not why else "")
        ) from None
    if port == 0:
        raise CmlError(f"{where}: expected a port from 1 to 65535, got 0")
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
