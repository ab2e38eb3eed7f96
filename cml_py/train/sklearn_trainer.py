"""The built-in trainer: a scikit-learn (or any fit/predict) model on a dataset.

Everything the run depends on is recorded in params.json — the resolved config and the
model's full `get_params()` — so a reviewer can see exactly what changed between main
and the PR. Row ids in predictions.csv are the dataset's own row numbers, which is what
lets base and head predictions be paired row by row.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cml_py.config import SklearnTrain
from cml_py.errors import CmlError
from cml_py.train import outputs as out

BUNDLED = ("breast_cancer", "iris", "wine", "digits", "diabetes")
DEFAULT_MODELS = {
    "classification": "sklearn.ensemble.RandomForestClassifier",
    "regression": "sklearn.ensemble.RandomForestRegressor",
}
WHERE = "train.sklearn"


def load_dataset(spec: SklearnTrain, root: Path, name: str | None = None) -> Any:
    """A DataFrame from `sklearn:NAME` (bundled, never downloaded) or a CSV/Parquet file."""
    import pandas as pd

    source = name or spec.dataset
    key = "dataset" if name is None else "test"
    if source.startswith("sklearn:"):
        dataset = source.removeprefix("sklearn:")
        if dataset not in BUNDLED:
            raise CmlError(
                f"{WHERE}.{key}: unknown bundled dataset {dataset!r}; expected one of "
                + ", ".join(f"sklearn:{n}" for n in BUNDLED)
            )
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{dataset}")(as_frame=True)
        return bunch.frame
    path = root / source
    from cml_py.config import find_repo_root
    from cml_py.paths import check_readable

    check_readable(path, find_repo_root(root) or root, "the dataset", f"{WHERE}.{key}: {source}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            try:
                return pd.read_parquet(path)
            except ImportError:
                raise CmlError(
                    f"{WHERE}.{key}: reading Parquet needs pyarrow: pip install 'cml-py[parquet]'"
                ) from None
        if path.suffix.lower() in (".csv", ".tsv", ".txt"):
            return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except FileNotFoundError:
        raise CmlError(f"{WHERE}.{key}: {source}: file does not exist") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise CmlError(
            f"{WHERE}.{key}: {source}: cannot read: {str(exc).splitlines()[0]}"
        ) from None
    raise CmlError(
        f"{WHERE}.{key}: {source}: expected a .csv, .tsv or .parquet file, or sklearn:NAME"
    )


def import_model(path: str) -> type:
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise CmlError(
            f"{WHERE}.model: expected an import path such as "
            f"sklearn.ensemble.RandomForestClassifier, got {path!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CmlError(f"{WHERE}.model: cannot import {module_name!r}: {exc}") from None
    model = getattr(module, class_name, None)
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


def _make_model(model_path: str, params: dict[str, Any]) -> Any:
    model_cls = import_model(model_path)
    try:
        return model_cls(**params)
    except TypeError as exc:
        raise CmlError(f"{WHERE}.params: {model_path} does not accept them: {exc}") from None


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

    values = getattr(model, "feature_importances_", None)
    if values is None:
        coef = getattr(model, "coef_", None)
        if coef is None:
            return None
        coef = np.abs(np.asarray(coef, dtype=float))
        values = coef.mean(axis=0) if coef.ndim == 2 else coef
    values = np.asarray(values, dtype=float).ravel()
    if len(values) != len(names):
        return None
    return [(name, float(v)) for name, v in zip(names, values, strict=True)]


def _seeds(spec: SklearnTrain, model: Any, repeats: int) -> list[Any] | None:
    """The model seeds of `train.repeats`: the configured random_state (params), else
    `seed`, then the next integers. None when the model takes no random_state, since
    then every seed would train the same model."""
    get_params = getattr(model, "get_params", None)
    if not (callable(get_params) and "random_state" in get_params()):
        return None
    first = spec.params.get("random_state", spec.seed)
    if not isinstance(first, int) or isinstance(first, bool):
        return [first] * repeats  # e.g. None, asked for explicitly: unseeded every time
    return [first + i for i in range(repeats)]


def _fit_predict(
    model: Any, model_path: str, X_train: Any, y_train: Any, X_test: Any, task: str
) -> tuple[Any, Any]:
    try:
        model.fit(X_train, y_train)
        y_pred = model.predict(X_test)
        proba = (
            model.predict_proba(X_test)
            if (task == "classification" and hasattr(model, "predict_proba"))
            else None
        )
    except (ValueError, TypeError) as exc:
        raise CmlError(f"{WHERE}: {model_path} failed to fit: {str(exc).splitlines()[0]}") from None
    return y_pred, proba


def train_sklearn(
    spec: SklearnTrain,
    root: Path,
    output_dir: Path,
    echo: Callable[[str], None],
    *,
    repeats: int = 1,
) -> dict[str, float]:
    """Fit, predict, evaluate and write the outputs directory; returns the metrics.

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
    seeds = _seeds(spec, model, repeats)
    if seeds is None and repeats > 1:
        echo(f"{model_path} takes no random_state: its seeds would all be one model; training one")
    echo(f"training {model_path} on {len(X_train):,} rows, {len(names)} features ({task})")
    started = time.perf_counter()
    runs = []
    for i, seed in enumerate(seeds or [None]):
        if i > 0:
            model = _make_model(model_path, params)
        if seed is not None:
            model.set_params(random_state=seed)  # reproducible, one seed per repeat
        if len(seeds or ()) > 1:
            echo(f"seed {i + 1} of {len(seeds or ())}: random_state={seed}")
        y_pred, proba = _fit_predict(model, model_path, X_train, y_train, X_test, task)
        predictions = pd.DataFrame({"id": test_ids, "y_true": np.asarray(y_test), "y_pred": y_pred})
        if proba is not None:
            for j, cls in enumerate(getattr(model, "classes_", range(proba.shape[1]))):
                predictions[f"proba_{cls}"] = proba[:, j]
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
        "params": out.json_safe(first_model.get_params() if callable(get_params) else params),
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
    with out.staged_directory(output_dir) as stage:
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
    echo(f"trained in {fit_seconds:.2f} s; wrote {os.path.relpath(output_dir)}")
    return metrics
