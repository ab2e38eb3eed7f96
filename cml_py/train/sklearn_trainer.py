"""The built-in trainer: a scikit-learn (or any fit/predict) model on a dataset.

Everything the run depends on is recorded in params.json — the resolved config and the
model's full `get_params()` — so a reviewer can see exactly what changed between main
and the PR. Row ids in predictions.csv are the dataset's own row numbers, which is what
lets base and head predictions be paired row by row.

`train.sklearn.model` is the pull request's data and names code (a class in the PR's own
tree, if it likes), so this process never imports it: it holds the forge token. This
module checks what it can without the model — the import path's shape, the datasets'
paths, the output directory — then runs the training in a child process without any
token (sklearn_worker) and takes back its files and its JSON result, checked.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cml_py.config import SklearnTrain
from cml_py.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, CmlError
from cml_py.train import outputs as out

BUNDLED = ("breast_cancer", "iris", "wine", "digits", "diabetes")
DEFAULT_MODELS = {
    "classification": "sklearn.ensemble.RandomForestClassifier",
    "regression": "sklearn.ensemble.RandomForestRegressor",
}
WHERE = "train.sklearn"
READABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".txt")
RESULT_MAX_BYTES = 64 * 1024 * 1024
"""The worker's result is a few metrics; anything near this is not one (it is untrusted)."""
READER_GRACE_SECONDS = 5.0
"""How long to wait for the worker's pipes to close once it has exited: a process the
model left behind may hold them open, and must not keep cml-py waiting."""
BOOTSTRAP = (
    "import sys; sys.path[:] = sys.argv[2:]; "
    "from cml_py.train.sklearn_worker import main; sys.exit(main(sys.argv[1]))"
)
"""The worker's entry: the parent's sys.path first, so the child imports cml-py from where
the parent did and the model from where the parent could have — see sklearn_worker."""


class WorkerCrash(RuntimeError):
    """The worker hit a bug in cml-py's own code (not the model's): exit 4, as in-process."""


@dataclass(frozen=True)
class Job:
    """What the worker is to do, pickled by the parent into a private directory."""

    spec: SklearnTrain
    root: Path
    stage: Path  # the staging directory to write the outputs into
    repeats: int
    result: Path  # where the worker writes its JSON result


def check_model_path(path: str) -> None:
    """`train.sklearn.model` must be `module.Class`: dotted names, none of them empty.
    A relative name (`.linear_model.X`) or `...` would otherwise reach importlib, which
    raises TypeError rather than ImportError for them."""
    parts = path.split(".")
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        raise CmlError(
            f"{WHERE}.model: expected an import path such as "
            f"sklearn.ensemble.RandomForestClassifier (Python names joined by dots), got {path!r}"
        )


def check_source(spec: SklearnTrain, root: Path, name: str | None = None) -> Path | None:
    """The dataset's file (None for `sklearn:NAME`), checked without reading it: a known
    bundled name, or a regular file inside the repository with a readable suffix."""
    source = name or spec.dataset
    key = "dataset" if name is None else "test"
    if source.startswith("sklearn:"):
        dataset = source.removeprefix("sklearn:")
        if dataset not in BUNDLED:
            raise CmlError(
                f"{WHERE}.{key}: unknown bundled dataset {dataset!r}; expected one of "
                + ", ".join(f"sklearn:{n}" for n in BUNDLED)
            )
        return None
    path = root / source
    from cml_py.config import find_repo_root
    from cml_py.paths import check_readable

    check_readable(path, find_repo_root(root) or root, "the dataset", f"{WHERE}.{key}: {source}")
    if path.suffix.lower() not in READABLE_SUFFIXES:
        raise CmlError(
            f"{WHERE}.{key}: {source}: expected a .csv, .tsv or .parquet file, or sklearn:NAME"
        )
    return path


def load_dataset(spec: SklearnTrain, root: Path, name: str | None = None) -> Any:
    """A DataFrame from `sklearn:NAME` (bundled, never downloaded) or a CSV/Parquet file."""
    import pandas as pd

    source = name or spec.dataset
    key = "dataset" if name is None else "test"
    path = check_source(spec, root, name)
    if path is None:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{source.removeprefix('sklearn:')}")(as_frame=True)
        return bunch.frame
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            try:
                return pd.read_parquet(path)
            except ImportError:
                raise CmlError(
                    f"{WHERE}.{key}: reading Parquet needs pyarrow: pip install 'cml-py[parquet]'"
                ) from None
        return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except FileNotFoundError:
        raise CmlError(f"{WHERE}.{key}: {source}: file does not exist") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise CmlError(
            f"{WHERE}.{key}: {source}: cannot read: {str(exc).splitlines()[0]}"
        ) from None


def train_sklearn(
    spec: SklearnTrain,
    root: Path,
    output_dir: Path,
    echo: Callable[[str], None],
    *,
    repeats: int = 1,
    timeout: float | None = None,
) -> dict[str, float]:
    """Train in a child process without the token and stage what it wrote as the
    outputs directory; returns the metrics. `timeout` (train.timeout) stops a model that
    does not finish, with everything it started.

    Everything that can be checked without the model is checked here first, so a typo
    costs no process start. The outputs directory is replaced only when the child
    succeeded (see outputs.staged_directory), exactly as when training ran in-process.
    """
    import pickle
    import tempfile

    from cml_py.baseline.rerun import sigterm_as_interrupt

    if spec.model is not None:
        check_model_path(spec.model)
    check_source(spec, root)
    if spec.test:
        check_source(spec, root, spec.test)
    with (
        sigterm_as_interrupt(),  # a cancelled job stops the child and removes its files
        tempfile.TemporaryDirectory(prefix="cml-py-sklearn-") as private,
        out.staged_directory(output_dir) as stage,
    ):
        job = Job(spec, root, stage, repeats, Path(private) / "result.json")
        job_file = Path(private) / "job.pickle"
        job_file.write_bytes(pickle.dumps(job))
        _, fit_seconds = run_worker(job_file, job.result, echo, timeout=timeout)
        metrics = evaluate_stage(stage, spec, repeats, _read_result(job.result) or {})
    echo(f"trained in {fit_seconds:.2f} s; wrote {os.path.relpath(output_dir)}")
    return metrics


def evaluate_stage(
    stage: Path, spec: SklearnTrain, repeats: int, result: dict[str, Any]
) -> dict[str, float]:
    """metrics.json computed here from the predictions the worker staged, as for a train
    command. The worker ran the model's code (the PR's class, maybe), which can rewrite
    the worker's metrics.json and result file (an atexit handler suffices): accuracy
    0.999 beside predictions of 0.63. For the same reason, no more seeds' predictions
    than train.repeats (main's policy) are accepted."""
    from cml_py.config import MAX_REPEATS
    from cml_py.train.evaluate import evaluate, mean_metrics, nest
    from cml_py.train.layout import replicate_predictions
    from cml_py.train.predictions import TASKS, read_predictions

    task = spec.task if spec.task != "auto" else result.get("task")
    if task not in TASKS:
        raise CmlError(f"{WHERE}: the training process did not say which task it trained")
    names = [out.PREDICTIONS]
    for index in range(1, MAX_REPEATS + 1):
        name = replicate_predictions(index)
        if not ((stage / name).exists() or (stage / name).is_symlink()):
            break
        names.append(name)
    if len(names) > repeats:
        raise CmlError(
            f"{WHERE}: the training process wrote predictions of {len(names)} seeds; "
            f"train.repeats is {repeats}"
        )
    per_seed = []
    for name in names:
        path = stage / name
        if path.is_symlink() or not path.is_file():
            raise CmlError(f"{WHERE}: the training process wrote {name} as no regular file")
        per_seed.append(evaluate(read_predictions(path, display=name, task=str(task))))
    metrics = mean_metrics(per_seed)
    out.write_json(stage / out.METRICS, nest(metrics))
    return metrics


def run_worker(
    job_file: Path,
    result_file: Path,
    echo: Callable[[str], None],
    *,
    timeout: float | None = None,
) -> tuple[dict[str, float], float]:
    """Run sklearn_worker on `job_file` and return its metrics and fit time.

    The child gets the environment every process cml-py starts gets (tokens.child_env:
    no token, no MLflow credentials) and runs in its own session, so an interrupt or a
    failure here stops it with whatever it started. Its messages are echoed as cml-py's;
    what the model prints is shown masked, and its last lines go with an error."""
    from cml_py.redact import redact
    from cml_py.tokens import child_env
    from cml_py.train.command import (
        MAX_LINE_BYTES,
        TAIL_LINES,
        output_lines,
        stop_leftovers,
        stop_process_group,
    )

    paths = [entry for entry in sys.path if isinstance(entry, str)]
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(
        [sys.executable, "-c", BOOTSTRAP, str(job_file), *paths],
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )

    def relay_messages(stream: IO[bytes]) -> None:
        while raw := stream.readline(MAX_LINE_BYTES):  # longer: not one of cml-py's
            try:
                message = json.loads(raw)
            except ValueError:
                message = None
            if isinstance(message, str):
                echo(redact(message))

    def relay_output(stream: IO[bytes]) -> None:
        for line in output_lines(stream):
            tail.append(line)
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=relay_messages, args=(proc.stdout,), daemon=True),
        threading.Thread(target=relay_output, args=(proc.stderr,), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process_group(proc)
        for reader in readers:
            reader.join(timeout=READER_GRACE_SECONDS)
        raise CmlError(
            f"train.sklearn: timed out after {timeout:g} s (train.timeout) and was stopped",
            details=tuple(tail),
        ) from None
    except BaseException:  # Ctrl-C or SIGTERM: never leave the training running
        stop_process_group(proc)
        raise
    stop_leftovers(proc.pid)  # what the model's code started and left running
    for reader in readers:
        reader.join(timeout=READER_GRACE_SECONDS)
    return _result(code, result_file, tuple(tail))


def _result(code: int, path: Path, tail: tuple[str, ...]) -> tuple[dict[str, float], float]:
    """The worker's outcome, from its exit code and its result file. Both come from a
    process that ran the PR's code, so anything unexpected is a failed training run
    (exit 2, with its last lines), never trusted and never a crash here."""
    data = _read_result(path)
    if code == EXIT_OK and data is not None:
        metrics, seconds = data.get("metrics"), data.get("fit_seconds")
        if (
            isinstance(metrics, dict)
            and all(isinstance(v, float) for v in metrics.values())
            and isinstance(seconds, float)
        ):
            return {str(k): v for k, v in metrics.items()}, seconds
    if code == EXIT_BAD_INPUT and data is not None and isinstance(data.get("error"), str):
        details = data.get("details")
        lines = tuple(str(d) for d in details) if isinstance(details, list) else ()
        raise CmlError(data["error"], details=lines)
    if code == EXIT_INTERNAL and data is not None and isinstance(data.get("internal"), str):
        raise WorkerCrash(f"the built-in trainer failed: {data['internal']}")
    if code < 0:
        how = f"was killed by signal {-code}"
    elif code == EXIT_OK:
        how = "ended without a result"
    else:
        how = f"exited with code {code}"
    raise CmlError(f"{WHERE}: the training process {how}; its last lines:", details=tail)


def _read_result(path: Path) -> dict[str, Any] | None:
    """The result file as a JSON object, or None when there is no usable one."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(RESULT_MAX_BYTES + 1)
    except OSError:
        return None
    if len(raw) > RESULT_MAX_BYTES:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
