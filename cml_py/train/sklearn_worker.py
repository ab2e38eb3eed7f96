"""The built-in trainer's child process: the only place `train.sklearn.model` is imported.

`train.sklearn` is the pull request's data, so the model class it names is the PR's
code — a module in its own tree, say. Importing it inside cml-py would run that code in
a process whose environment holds the forge token. So cml-py starts this module in a
child process whose environment has every token variable removed (`tokens.child_env`,
exactly what a `train.command` gets); here the model is imported, fitted and evaluated,
and the outputs are written into the staging directory the parent made. The parent
gets back only files: the outputs themselves, and a small JSON result (the metrics, the
fit time, or the error to report), which it checks like any other untrusted input.

Started by `sklearn_trainer.run_worker` as `python -c BOOTSTRAP JOB SYS.PATH...`: the
bootstrap gives this process the parent's own `sys.path` before anything is imported,
so exactly the modules cml-py itself could import are importable here — no more (cml-py
adds nothing, and the working directory counts only if it did for cml-py), no fewer (a
model in a package the workflow installed, or on its PYTHONPATH, works as it always did).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cml_py.config import SklearnTrain
from cml_py.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, CmlError, first_line
from cml_py.train import outputs as out
from cml_py.train.sklearn_trainer import DEFAULT_MODELS, WHERE, Job, check_model_path, load_dataset


def _described(exc: BaseException, usual: tuple[type[BaseException], ...]) -> str:
    """The first line, with the exception's type unless it is one of the `usual` kinds
    whose message says enough on its own (so the long-standing messages stay as they were)."""
    line = first_line(exc)
    if isinstance(exc, usual) or line == type(exc).__name__:
        return line
    return f"{type(exc).__name__}: {line}"


def import_model(path: str) -> type:
    """The class `path` names. Its module is the PR's choice, so whatever importing it
    raises is bad input (exit 2), never a crash."""
    check_model_path(path)
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CmlError(f"{WHERE}.model: cannot import {module_name!r}: {exc}") from None
    except Exception as exc:  # its code raised while being imported
        raise CmlError(
            f"{WHERE}.model: cannot import {module_name!r}: {_described(exc, ())}"
        ) from None
    try:
        model = getattr(module, class_name, None)
    except Exception:  # a module __getattr__ that raises something else than AttributeError
        model = None
    if model is None:
        raise CmlError(f"{WHERE}.model: {module_name} has no {class_name!r}")
    if not isinstance(model, type) or not (hasattr(model, "fit") and hasattr(model, "predict")):
        raise CmlError(f"{WHERE}.model: {path} is not a class with fit/predict methods")
    return model


def _task_of(spec: SklearnTrain, model: Any | None, y: Any) -> str:
    """The configured task, else what the model is, else what the target looks like."""
    if spec.task != "auto":
        return spec.task
    if model is not None:
        from sklearn.base import is_classifier, is_regressor

        if is_classifier(model):
            return "classification"
        if is_regressor(model):
            return "regression"
    import numpy as np

    from cml_py.train.predictions import infer_task

    values = np.asarray(y)
    return infer_task(values, values, False)


def _model_call(model_path: str, what: str, call: Callable[[], Any]) -> Any:
    """`call()`, which runs the model's own code (the PR's class, maybe): whatever it
    raises is the model's failure, reported as bad input (exit 2), never a crash."""
    try:
        return call()
    except Exception as exc:
        raise CmlError(
            f"{WHERE}: {model_path}.{what} failed: {_described(exc, (ValueError, TypeError))}"
        ) from None


def _make_model(model_path: str, params: dict[str, Any]) -> Any:
    model_cls = import_model(model_path)
    try:
        return model_cls(**params)
    except Exception as exc:  # the class's own __init__: the PR's code, or its params
        raise CmlError(
            f"{WHERE}.params: {model_path} does not accept them: {_described(exc, (TypeError,))}"
        ) from None


def _features(frame: Any, spec: SklearnTrain, source: str) -> tuple[Any, list[str], list[str]]:
    """X with categorical columns one-hot encoded, the feature names, and which were encoded."""
    import pandas as pd

    if spec.target not in frame.columns:
        raise CmlError(
            f"{WHERE}.target: column {spec.target!r} is not in {source} "
            f"(columns: {', '.join(map(str, list(frame.columns)[:20]))})"
        )
    names = list(spec.features) if spec.features else [c for c in frame.columns if c != spec.target]
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise CmlError(f"{WHERE}.features: {', '.join(map(repr, missing))} not in {source}")
    X = frame[names]
    categorical = [
        str(c)
        for c in X.columns
        if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])
    ]
    if categorical:
        X = pd.get_dummies(X, columns=categorical, dtype=float)
    X.columns = [str(c) for c in X.columns]
    return X, list(X.columns), categorical


def _importance(model: Any, names: list[str]) -> list[tuple[str, float]] | None:
    import numpy as np

    try:  # the model's attributes: anything that is not numbers means no importance
        values = getattr(model, "feature_importances_", None)
        if values is None:
            coef = getattr(model, "coef_", None)
            if coef is None:
                return None
            coef = np.abs(np.asarray(coef, dtype=float))
            values = coef.mean(axis=0) if coef.ndim == 2 else coef
        values = np.asarray(values, dtype=float).ravel()
    except Exception:
        return None
    if len(values) != len(names):
        return None
    return [(name, float(v)) for name, v in zip(names, values, strict=True)]


def _seeds(spec: SklearnTrain, model: Any, repeats: int, model_path: str) -> list[Any] | None:
    """The model seeds of `train.repeats`: the configured random_state (params), else
    `seed`, then the next integers. None when the model takes no random_state, since
    then every seed would train the same model."""
    get_params = getattr(model, "get_params", None)
    if not callable(get_params):
        return None
    current = _model_call(model_path, "get_params()", get_params)
    if not (isinstance(current, dict) and "random_state" in current):
        return None
    first = spec.params.get("random_state", spec.seed)
    if not isinstance(first, int) or isinstance(first, bool):
        return [first] * repeats  # e.g. None, asked for explicitly: unseeded every time
    return [first + i for i in range(repeats)]


def _fit_predict(
    model: Any, model_path: str, X_train: Any, y_train: Any, X_test: Any, task: str
) -> tuple[Any, Any]:
    """Fit and predict. Whatever the model's own code raises is its failure, reported
    as bad input (exit 2) — the model may be the PR's class, not scikit-learn's."""
    try:
        model.fit(X_train, y_train)
        y_pred = model.predict(X_test)
        proba = (
            model.predict_proba(X_test)
            if (task == "classification" and hasattr(model, "predict_proba"))
            else None
        )
    except Exception as exc:
        raise CmlError(
            f"{WHERE}: {model_path} failed to fit: {_described(exc, (ValueError, TypeError))}"
        ) from None
    return _checked_output(model, model_path, y_pred, proba, len(X_test))


def _checked_output(
    model: Any, model_path: str, y_pred: Any, proba: Any, rows: int
) -> tuple[Any, Any]:
    """predict's one value per test row and predict_proba's rows × classes, as numpy
    arrays, with the classes' names; anything else the model returned is its failure."""
    import numpy as np

    try:
        y_pred = np.asarray(y_pred)
        if proba is not None:
            proba = np.asarray(proba, dtype=np.float64)
            classes = list(getattr(model, "classes_", range(proba.shape[-1])))
    except Exception as exc:
        raise CmlError(
            f"{WHERE}: {model_path} returned predictions that are not arrays of values: "
            f"{_described(exc, (ValueError, TypeError))}"
        ) from None
    if y_pred.shape != (rows,):
        raise CmlError(
            f"{WHERE}: {model_path}.predict returned shape {y_pred.shape}, "
            f"expected one value per test row ({rows:,},)"
        )
    if proba is not None and (proba.ndim != 2 or proba.shape != (rows, len(classes))):
        raise CmlError(
            f"{WHERE}: {model_path}.predict_proba returned shape {proba.shape}, expected "
            f"one score per test row and class ({rows:,}, {len(classes):,})"
        )
    return y_pred, None if proba is None else (proba, classes)


def fit_and_write(job: Job, echo: Callable[[str], None]) -> tuple[dict[str, float], float, str]:
    """Fit, predict, evaluate and write the outputs into `job.stage`; returns the
    metrics, the seconds spent fitting and the task.

    The test rows depend on `split_seed` only, so a PR that changes the model's seed or
    its hyperparameters predicts the same rows as main and stays paired. With
    `repeats` > 1 the model is trained with that many seeds on the same split; the
    metrics are their means and every seed's predictions are kept for the statistics.
    """
    import numpy as np
    import pandas as pd

    from cml_py.train.evaluate import evaluate, mean_metrics, nest
    from cml_py.train.layout import replicate_predictions
    from cml_py.train.predictions import predictions_from_frame

    spec, root, stage, repeats = job.spec, job.root, job.stage, job.repeats
    frame = load_dataset(spec, root)
    X, names, encoded = _features(frame, spec, spec.dataset)
    y = frame[spec.target]
    params = dict(spec.params)
    model = _make_model(spec.model, params) if spec.model else None
    task = _task_of(spec, model, y)
    model_path = spec.model or DEFAULT_MODELS[task]
    if model is None:
        model = _make_model(model_path, params)
    if spec.test:
        test_frame = load_dataset(spec, root, spec.test)
        X_test, _, _ = _features(test_frame, spec, spec.test)
        X_test = X_test.reindex(columns=names, fill_value=0.0)
        X_train, y_train, y_test = X, y, test_frame[spec.target]
        test_ids = np.arange(len(X_test))
    else:
        from sklearn.model_selection import train_test_split

        stratify = y if (spec.stratify and task == "classification") else None
        try:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=spec.test_size, random_state=spec.split_seed, stratify=stratify
            )
        except ValueError as exc:
            raise CmlError(f"{WHERE}: cannot split the data: {exc}") from None
        test_ids = np.asarray(X_test.index)
    seeds = _seeds(spec, model, repeats, model_path)
    if seeds is None and repeats > 1:
        echo(f"{model_path} takes no random_state: its seeds would all be one model; training one")
    echo(f"training {model_path} on {len(X_train):,} rows, {len(names)} features ({task})")
    started = time.perf_counter()
    runs = []
    for i, seed in enumerate(seeds or [None]):
        if i > 0:
            model = _make_model(model_path, params)
        if seed is not None:
            # reproducible, one seed per repeat
            set_seed = functools.partial(model.set_params, random_state=seed)
            _model_call(model_path, "set_params()", set_seed)
        if len(seeds or ()) > 1:
            echo(f"seed {i + 1} of {len(seeds or ())}: random_state={seed}")
        y_pred, proba = _fit_predict(model, model_path, X_train, y_train, X_test, task)
        predictions = pd.DataFrame({"id": test_ids, "y_true": np.asarray(y_test), "y_pred": y_pred})
        if proba is not None:
            scores, classes = proba
            for j, cls in enumerate(classes):
                predictions[f"proba_{cls}"] = scores[:, j]
        metrics = evaluate(predictions_from_frame(predictions, "predictions", task=task))
        runs.append((model, predictions, metrics))
    fit_seconds = time.perf_counter() - started
    first_model = runs[0][0]
    get_params = getattr(first_model, "get_params", None)
    metrics = mean_metrics([m for _, _, m in runs])
    resolved = {
        "dataset": spec.dataset,
        "test": spec.test,
        "target": spec.target,
        "features": names,
        "one_hot_encoded": encoded,
        "model": model_path,
        "params": out.json_safe(
            _model_call(model_path, "get_params()", get_params) if callable(get_params) else params
        ),
        "test_size": None if spec.test else spec.test_size,
        "stratify": spec.stratify,
        "seed": spec.seed,
        "split_seed": None if spec.test else spec.split_seed,
        "task": task,
        "rows": {"train": len(X_train), "test": len(X_test)},
    }
    if len(runs) > 1:
        resolved["repeats"] = len(runs)
        resolved["seeds"] = seeds
    out.write_json(stage / out.METRICS, nest(metrics))
    out.write_json(stage / out.PARAMS, resolved)
    runs[0][1].to_csv(stage / out.PREDICTIONS, index=False)
    for i, (_, predictions, _) in enumerate(runs[1:], start=1):
        path = stage / replicate_predictions(i)
        path.parent.mkdir(exist_ok=True)
        predictions.to_csv(path, index=False)
    importance = _importance(first_model, names)
    if importance is not None:
        pd.DataFrame(importance, columns=["feature", "importance"]).to_csv(
            stage / out.FEATURE_IMPORTANCE, index=False
        )
    if spec.save_model:
        import joblib

        joblib.dump(first_model, stage / out.MODEL)
    return metrics, fit_seconds, task


def _message_channel() -> Callable[[str], None]:
    """cml-py's own messages go to the parent on stdout, one JSON string a line; then
    stdout is pointed at stderr, so whatever the model prints is shown as its output
    (masked, with the last lines kept for an error) and can never pass for cml-py's."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(2, 1)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if callable(reconfigure):
            reconfigure(line_buffering=True)  # live output, in order with the messages

    def echo(message: str) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    return echo


def _write_result(path: Path, result: dict[str, Any]) -> None:
    path.write_text(json.dumps(result), encoding="utf-8")


def main(job_file: str) -> int:
    """Run the job the parent pickled into `job_file`; the exit code says how it went
    and the result file says what to report."""
    echo = _message_channel()
    with open(job_file, "rb") as handle:
        job = pickle.load(handle)  # written by the parent cml-py, never by the PR
    assert isinstance(job, Job)
    try:
        metrics, fit_seconds, task = fit_and_write(job, echo)
    except CmlError as exc:
        _write_result(job.result, {"error": str(exc), "details": list(exc.details)})
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug in cml-py's own code: the parent exits 4, as before
        if os.environ.get("CML_PY_DEBUG"):
            import traceback

            traceback.print_exc()
        _write_result(job.result, {"internal": f"{type(exc).__name__}: {first_line(exc)}"})
        return EXIT_INTERNAL
    # floats, always: the parent accepts nothing else (and JSON keeps every float exactly)
    result = {
        "metrics": {k: float(v) for k, v in metrics.items()},
        "fit_seconds": fit_seconds,
        "task": task,
    }
    _write_result(job.result, result)
    return EXIT_OK
