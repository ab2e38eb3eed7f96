"""Training as a hostile or broken pull request drives it: what the PR's train command or
model class prints, leaves running or swaps under cml-py, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from cml_py.train.evaluate import evaluate
from cml_py.train.predictions import read_predictions
from tests.helpers import run_cli

PY = sys.executable


def repo_with_module(tmp_path: Path, monkeypatch, name: str, source: str) -> Path:
    """A project folder, the working directory, holding the PR's module `name` (a model
    class train.sklearn.model names), importable as the built-in trainer imports it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    monkeypatch.syspath_prepend(str(repo))
    (repo / name).write_text(source)
    return repo


def write_config(directory: Path, text: str) -> None:
    (directory / "cml.yaml").write_text(text)


def test_command_output_cannot_issue_workflow_commands_or_escapes(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """The runner reads a line starting with `::` (after spaces) as a workflow command:
    relayed as it was, the PR's `::stop-commands::` would silence cml-py's own gate
    annotations and `::error::` would pass for them. Escape sequences would drive the
    reader's terminal."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(
        "print('::error title=cml-py gate::all good')\n"
        "print('   ::stop-commands::abc')\n"
        "print('\\x1b]0;title\\x07\\x1b[2Jcleared')\n"
        "print('plain line')\n"
    )
    write_config(tmp_path, f"train: {{command: [{PY}, train.py]}}\n")
    result = run_cli(capsys, "train")
    assert result.code == 0, result.err
    lines = result.err.splitlines()
    assert not any(line.lstrip().startswith("::") for line in lines)
    assert "\x1b" not in result.err and "\x07" not in result.err
    assert ":\u200b:error title=cml-py gate:\u200b:all good" in lines
    assert "plain line" in lines


def test_leftover_background_process_does_not_hang_training(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """`sleep … &` kept the output pipe open: cml-py waited for it past train.timeout
    (for ever with `sleep infinity &`), and it kept running after cml-py."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "leftover-survived"
    (tmp_path / "leftover.py").write_text(
        f"import time\ntime.sleep(4)\nopen({str(marker)!r}, 'w')\n"
    )
    write_config(
        tmp_path,
        f"train: {{command: '{PY} leftover.py & echo started', shell: true, timeout: 60}}\n",
    )
    started = time.monotonic()
    result = run_cli(capsys, "train")
    assert result.code == 0, result.err
    assert time.monotonic() - started < 3
    assert "started" in result.err and "stopped the processes it left running" in result.err
    time.sleep(4.5)
    assert not marker.exists()


def _peak_kib(args: list[str], cwd: Path, stderr: IO[bytes] | int) -> tuple[int, int]:
    """(exit code, peak memory in KiB) of a child process."""
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss


def test_output_without_line_breaks_is_relayed_in_bounded_memory(tmp_path: Path) -> None:
    """300 MB printed without a line break was held whole (and decoded, and copied):
    about 4 bytes of cml-py's memory per byte printed. Now it is relayed in pieces."""
    (tmp_path / "big.py").write_text(
        "import sys\nchunk = b'x' * (1 << 20)\n"
        "for _ in range(300):\n    sys.stdout.buffer.write(chunk)\n"
    )
    write_config(tmp_path, f"train: {{command: [{PY}, big.py]}}\n")
    # A child's peak counts the memory of the process it was forked from (this one).
    _, idle = _peak_kib([PY, "-m", "cml_py", "--version"], tmp_path, subprocess.DEVNULL)
    log = tmp_path / "log.txt"
    with log.open("wb") as stderr:
        code, peak = _peak_kib([PY, "-m", "cml_py", "train"], tmp_path, stderr)
    assert code == 0
    assert peak - idle < 200 * 1024, f"{peak - idle} KiB"
    assert log.stat().st_size >= 300 << 20  # everything was relayed all the same
    with log.open("rb") as handle:
        assert max(len(line) for line in handle) <= 64 * 1024 + 1


def test_command_cannot_redirect_the_outputs_outside_the_repository(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """train.output_dir is checked before the command runs; a command that then puts a
    symlink where `.cml-py` was had cml-py write the outputs through it."""
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    monkeypatch.chdir(repo)
    (repo / "swap.py").write_text(
        "import os, shutil\n"
        "shutil.rmtree('.cml-py', ignore_errors=True)\n"
        f"os.symlink({str(outside)!r}, '.cml-py')\n"
    )
    write_config(repo, f"train: {{command: [{PY}, swap.py]}}\n")
    (repo / ".cml-py").mkdir()
    result = run_cli(capsys, "train")
    assert result.code == 2
    assert "the command replaced a directory on this path with a symlink" in result.err
    assert list(outside.iterdir()) == []


def test_model_code_cannot_redirect_the_outputs_outside_the_repository(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """The built-in trainer stages its outputs before the model (the PR's class) runs: a
    model that moved `.cml-py` away and left a symlink had the finished outputs swapped
    in beside the staging directory, outside the repository."""
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = repo_with_module(
        tmp_path,
        monkeypatch,
        "swapmodel.py",
        "import os\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "class Swap(LogisticRegression):\n"
        "    def fit(self, X, y):\n"
        f"        os.rename('.cml-py', {str(outside / 'moved')!r})\n"
        f"        os.symlink({str(outside / 'moved')!r}, '.cml-py')\n"
        "        return super().fit(X, y)\n",
    )
    write_config(
        repo,
        "train: {sklearn: {dataset: 'sklearn:iris', model: swapmodel.Swap, "
        "params: {max_iter: 500}}}\n",
    )
    result = run_cli(capsys, "train")
    assert result.code == 2, result.err
    assert "was replaced or moved while training ran" in result.err
    assert not (outside / "moved" / "out").exists()


BROKEN_MODELS = """
import numpy as np

class Base:
    def __init__(self, **params):
        pass
    def fit(self, X, y):
        return self
    def predict(self, X):
        return np.zeros(len(X), dtype=int)

class ShortPredictions(Base):
    def predict(self, X):
        return np.zeros(3, dtype=int)

class TablePredictions(Base):
    def predict(self, X):
        return np.zeros((len(X), 2))

class RaggedScores(Base):
    classes_ = np.array([0, 1, 2])
    def predict_proba(self, X):
        return np.zeros((len(X), 2))

class ParamsRaise(Base):
    def get_params(self, deep=True):
        raise RuntimeError("no params today")

class TextImportance(Base):
    def fit(self, X, y):
        self.feature_importances_ = ["high"] * X.shape[1]
        return self
"""


@pytest.mark.parametrize(
    ("model", "code", "message"),
    [
        ("ShortPredictions", 2, ".predict returned shape (3,), expected one value per test row"),
        ("TablePredictions", 2, ".predict returned shape (38, 2), expected one value per"),
        ("RaggedScores", 2, ".predict_proba returned shape (38, 2), expected one score per"),
        ("ParamsRaise", 2, ".get_params() failed: RuntimeError: no params today"),
        ("TextImportance", 0, "trained in"),  # no importance, not a crash
    ],
)
def test_a_broken_model_class_is_bad_input_not_a_crash(
    tmp_path: Path, capsys, monkeypatch, model: str, code: int, message: str
) -> None:
    """The model class is the PR's: what it returns or raises outside fit/predict (wrong
    shapes, a get_params that raises, importances that are not numbers) was an internal
    error (exit 4, 'a bug in cml-py')."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "broken.py").write_text(BROKEN_MODELS)
    write_config(
        tmp_path,
        f"train: {{sklearn: {{dataset: 'sklearn:iris', model: broken.{model}, "
        "task: classification}}\n",
    )
    result = run_cli(capsys, "train")
    assert result.code == code, result.err
    assert message in result.err
    assert "internal error" not in result.err


def test_an_oversized_metrics_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """The command's metrics file was read whole before its size was checked: 300 MB of
    (sparse) file was 300 MB of cml-py's memory, and 50 GB would have been a crash."""
    write_config(
        tmp_path,
        "train: {command: [truncate, -s, 300M, m.json], outputs: {metrics: [m.json]}}\n",
    )
    _, idle = _peak_kib([PY, "-m", "cml_py", "--version"], tmp_path, subprocess.DEVNULL)
    log = tmp_path / "log.txt"
    with log.open("wb") as stderr:
        code, peak = _peak_kib([PY, "-m", "cml_py", "train"], tmp_path, stderr)
    assert code == 2
    assert "m.json: the file is 300.0 MiB, too large (limit 64 MiB" in log.read_text()
    assert peak - idle < 100 * 1024, f"{peak - idle} KiB"


# -- `cml-py init` where something is in the way ---------------------------------------


def _written(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".git" not in p.parts
    )


@pytest.mark.parametrize(
    ("setup", "args", "message", "left"),
    [
        ("mkdir:.gitignore", (), ".gitignore is in the way: expected a file", []),
        (
            "bytes:.gitignore",
            (),
            ".gitignore: expected UTF-8 text, found invalid byte at 0",
            [".gitignore"],
        ),
        ("mkdir:cml.yaml", (), "cml.yaml is in the way: expected a file", []),
        ("file:.github", (), ".github is in the way: expected a folder", [".github"]),
        (
            "mkdir:.github/workflows/cml-py.yml",
            ("--force",),
            ".github/workflows/cml-py.yml is in the way: expected a file",
            [],
        ),
    ],
)
def test_init_checks_every_file_before_writing_any(
    in_repo, capsys, setup: str, args: tuple[str, ...], message: str, left: list[str]
) -> None:
    """init writes all its files or none: a .gitignore that is a folder (or not UTF-8)
    was found only after cml.yaml and both workflows were written, and crashed (exit 4);
    a folder where a workflow goes failed after cml.yaml was written."""
    how, rel = setup.split(":")
    target = in_repo.path / rel
    if how == "mkdir":
        target.mkdir(parents=True)
    else:
        target.write_bytes(b"\xff\xfe" if how == "bytes" else b"")
    result = run_cli(capsys, "init", *args)
    assert result.code == 2, result.err
    assert message in result.err and "nothing was written" in result.err
    assert _written(in_repo.path) == left


FORGING_MODEL = """
import atexit, json, pickle, sys
from sklearn.dummy import DummyClassifier

def _forge():
    job = pickle.load(open(sys.argv[1], "rb"))
    metrics = json.loads((job.stage / "metrics.json").read_text())
    metrics["accuracy"] = 0.999
    (job.stage / "metrics.json").write_text(json.dumps(metrics))
    result = json.loads(job.result.read_text())
    result["metrics"]["accuracy"] = 0.999
    job.result.write_text(json.dumps(result))
    if EXTRA_SEEDS:
        (job.stage / "replicates").mkdir()
        text = (job.stage / "predictions.csv").read_text()
        for i in (1, 2):
            (job.stage / "replicates" / f"predictions-{i}.csv").write_text(text)

atexit.register(_forge)

class Forge(DummyClassifier):
    pass
"""


@pytest.mark.parametrize("extra_seeds", [False, True])
def test_metrics_of_the_built_in_trainer_are_computed_from_its_predictions(
    tmp_path: Path, capsys, monkeypatch, extra_seeds: bool
) -> None:
    """The worker runs the model's code, which rewrote the worker's metrics.json and
    result (accuracy 0.999 beside predictions of 0.63), and could add seeds beyond
    train.repeats: the metrics are now computed by cml-py from the staged predictions."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "forging.py").write_text(f"EXTRA_SEEDS = {extra_seeds}\n" + FORGING_MODEL)
    write_config(
        tmp_path, "train: {sklearn: {dataset: 'sklearn:breast_cancer', model: forging.Forge}}\n"
    )
    result = run_cli(capsys, "train")
    if extra_seeds:
        assert result.code == 2, result.err
        assert "wrote predictions of 3 seeds; train.repeats is 1" in result.err
        return
    assert result.code == 0, result.err
    out = tmp_path / ".cml-py" / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    expected = evaluate(read_predictions(out / "predictions.csv", task="classification"))
    assert metrics["accuracy"] == expected["accuracy"] == pytest.approx(0.6294, abs=1e-4)


def test_a_model_that_never_finishes_is_stopped_by_train_timeout(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """train.timeout, as for a train command: the built-in trainer's child and what the
    model started are stopped, and the run says so, instead of waiting for CI's limit."""
    repo = repo_with_module(
        tmp_path,
        monkeypatch,
        "slowmodel.py",
        "import subprocess, time\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "class Slow(LogisticRegression):\n"
        "    def fit(self, X, y):\n"
        "        subprocess.Popen(['sleep', '300'])\n"
        "        print('fitting', flush=True)\n"
        "        time.sleep(300)\n",
    )
    write_config(
        repo, "train: {sklearn: {dataset: 'sklearn:iris', model: slowmodel.Slow}, timeout: 3}\n"
    )
    started = time.monotonic()
    result = run_cli(capsys, "train")
    assert time.monotonic() - started < 60
    assert result.code == 2, result.err
    assert "cml-py: error: train.sklearn: timed out after 3 s (train.timeout) and was stopped" in (
        result.err
    )
    assert "fitting" in result.err  # the model's last lines go with the error
    assert not (repo / ".cml-py" / "out").exists()  # nothing half-written
