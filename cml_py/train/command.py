"""Run the project's own training command and collect what it wrote.

The command runs from cml.yaml's directory, without a shell unless `shell: true` (so a
metric name or path can never be interpreted by one), with its output streamed live to
stderr. A timeout kills the whole process group, children included. Only when the
command succeeds are its files read, checked and staged into the outputs directory.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

from cml_py.config import TrainConfig
from cml_py.errors import CmlError
from cml_py.redact import redact
from cml_py.terminal import one_line
from cml_py.tokens import child_env
from cml_py.train import outputs as out

TAIL_LINES = 20
KILL_GRACE_SECONDS = 5.0
MAX_LINE_BYTES = 64 * 1024
"""Longer output lines are relayed in pieces of this size: a command that prints a
gigabyte without a line break must not make cml-py hold it (and its copies) in memory."""


def output_lines(stream: IO[bytes]) -> Iterator[str]:
    """A child's output as cml-py relays it to the CI log, one line (or piece of an
    over-long line) at a time, each masked (redact), kept on its log line with its
    controls replaced (terminal.one_line: no escape sequence reaches the reader's
    terminal), and with `::` broken by a zero-width space: the runner reads a line
    beginning with `::` as a workflow command (`::error::`, `::add-mask::`,
    `::stop-commands::`), which the command's output must not be able to issue as if
    it were cml-py's."""
    while raw := stream.readline(MAX_LINE_BYTES):
        line = one_line(redact(raw.decode("utf-8", "replace").rstrip("\r\n")))
        yield line.replace("::", ":\u200b:") if "::" in line else line


def stop_leftovers(pgid: int, grace: float = KILL_GRACE_SECONDS) -> bool:
    """SIGTERM, then after `grace` seconds SIGKILL, what is left of process group
    `pgid` once its leader has exited (a `cmd &` of a shell command). True when there
    was something to stop."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    return True


def command_args(train: TrainConfig) -> list[str] | str:
    command = train.command
    assert command is not None
    if train.shell:
        return command if isinstance(command, str) else shlex.join(command)
    if isinstance(command, str):
        try:
            return shlex.split(command)
        except ValueError as exc:
            raise CmlError(f"train.command: cannot split {command!r}: {exc}") from None
    return list(command)


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM the process group of `proc` (started with `start_new_session=True`, so
    its workers go too), then SIGKILL what is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_streaming(
    args: list[str] | str,
    *,
    cwd: Path,
    env: dict[str, str],
    shell: bool,
    timeout: float | None,
    label: str,
) -> None:
    """Run, echo every line to stderr, and raise CmlError with the tail on failure.

    Processes the command leaves running in its process group when it exits are
    stopped: they would hold its output open, and cml-py would wait for them past any
    timeout (for ever, for `sleep infinity &`)."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    try:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            shell=shell,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except FileNotFoundError:
        program = args if isinstance(args, str) else args[0]
        raise CmlError(f"{label}: program {program!r} not found") from None
    except PermissionError:
        program = args if isinstance(args, str) else args[0]
        raise CmlError(f"{label}: program {program!r} is not executable") from None

    def pump() -> None:
        assert proc.stdout is not None
        for line in output_lines(proc.stdout):
            tail.append(line)
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process_group(proc)
        reader.join(timeout=1)
        raise CmlError(
            f"{label}: timed out after {timeout:g} s and was stopped", details=tuple(tail)
        ) from None
    except BaseException:  # Ctrl-C or SIGTERM: never leave the command running
        stop_process_group(proc)
        raise
    if stop_leftovers(proc.pid):
        sys.stderr.write(f"cml-py: {label}: stopped the processes it left running\n")
    reader.join(timeout=KILL_GRACE_SECONDS)  # one that left the group may hold the pipe
    if code != 0:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        raise CmlError(f"{label}: {how}; its last lines:", details=tuple(tail))


def run_command(
    train: TrainConfig,
    root: Path,
    output_dir: Path,
    echo: Callable[[str], None],
    *,
    repeats: int = 1,
) -> dict[str, float] | None:
    """Run the command, then check and stage its outputs; returns evaluated metrics.

    The command runs once per seed (`repeats`) with CML_PY_SEED set to 0, 1, …; seed 0
    runs last, so every file the command writes itself is seed 0's, and the other seeds'
    predictions are kept for the statistics.
    """
    import tempfile

    from cml_py.limits import active, check_file

    args = command_args(train)
    shown = args if isinstance(args, str) else shlex.join(args)
    echo(f"running train command: {shown}")
    kept: list[Path] = []
    resolved = output_dir.resolve()  # checked inside the repository before the command ran
    with tempfile.TemporaryDirectory(prefix="cml-py-seeds-") as keep:
        for seed in reversed(range(repeats)):
            if repeats > 1:
                echo(f"seed {repeats - seed} of {repeats}: CML_PY_SEED={seed}")
            env = child_env(
                {
                    "CML_PY_OUTPUT_DIR": str(output_dir.resolve()),
                    "CML_PY_SEED": str(seed),
                },
                training=True,
            )
            run_streaming(
                args,
                cwd=root,
                env=env,
                shell=train.shell,
                timeout=train.timeout,
                label="train.command",
            )
            if seed > 0:
                assert train.outputs.predictions is not None  # checked with the config
                (path,) = _existing(root, train.outputs.predictions, "predictions")
                shown = f"{train.outputs.predictions} (CML_PY_SEED={seed})"
                check_file(path, shown, active(), field="data_bytes")  # copied before it is read
                kept.insert(0, Path(keep) / f"seed-{seed}.csv")
                shutil.copyfile(path, kept[0])
        if output_dir.resolve() != resolved:
            raise CmlError(
                f"train.output_dir {output_dir}: the command replaced a directory on this path "
                f"with a symlink (it now leads to {output_dir.resolve()}); cml-py writes its "
                "outputs only inside the repository"
            )
        return collect_outputs(train, root, output_dir, seeds=kept)


def _existing(root: Path, pattern: str, key: str) -> list[Path]:
    """The files a declared output names — regular files inside the repository only,
    since they are copied into the outputs and published."""
    from cml_py.config import find_repo_root
    from cml_py.metrics.files import is_glob
    from cml_py.paths import check_readable, lookup_error

    repo = find_repo_root(root) or root
    try:
        if is_glob(pattern):
            found = sorted(p for p in root.glob(pattern) if p.is_file() or p.is_symlink())
        else:
            found = [root / pattern] if (root / pattern).is_file() else []
    except OSError as exc:
        raise lookup_error(f"train.outputs.{key}", repr(pattern), exc) from None
    if not found:
        if is_glob(pattern):
            raise CmlError(
                f"train.outputs.{key}: {pattern!r} matches no file after the command ran"
            )
        raise CmlError(f"train.outputs.{key}: the command did not write {pattern!r}")
    for path in found:
        check_readable(path, repo, "the output", f"train.outputs.{key}: {path.relative_to(root)}")
    return found


def collect_outputs(
    train: TrainConfig, root: Path, output_dir: Path, *, seeds: Sequence[Path] = ()
) -> dict[str, float] | None:
    """Check the command's files and stage the outputs; `seeds` are the predictions of
    seeds 2..N (`train.repeats`), whose metrics are averaged with the first's."""
    from cml_py import limits as lim
    from cml_py.metrics.parse import parse_file

    limits = lim.active()
    outputs = train.outputs
    for key, patterns in (("metrics", outputs.metrics), ("params", outputs.params)):
        for pattern in patterns:
            for path in _existing(root, pattern, key):
                shown = os.path.relpath(path, root)
                lim.check_file(path, shown, limits)  # before reading: it may be 50 GB
                parse_file(path.read_bytes(), shown)  # malformed → exit 2
    metrics = None
    with out.staged_directory(output_dir) as stage:
        if outputs.predictions:
            from cml_py.train.evaluate import evaluate, mean_metrics, nest
            from cml_py.train.layout import replicate_predictions
            from cml_py.train.predictions import read_predictions

            (path,) = _existing(root, outputs.predictions, "predictions")
            predictions = read_predictions(path, display=outputs.predictions)
            per_seed = [evaluate(predictions)]
            shutil.copyfile(path, stage / out.PREDICTIONS)
            for index, kept in enumerate(seeds, start=1):
                shown = f"{outputs.predictions} (CML_PY_SEED={index})"
                per_seed.append(
                    evaluate(read_predictions(kept, display=shown, task=predictions.task))
                )
                target = stage / replicate_predictions(index)
                target.parent.mkdir(exist_ok=True)
                shutil.copyfile(kept, target)
            metrics = mean_metrics(per_seed)
            out.write_json(stage / out.METRICS, nest(metrics))
        if outputs.feature_importance:
            (path,) = _existing(root, outputs.feature_importance, "feature_importance")
            lim.check_file(path, outputs.feature_importance, limits, field="data_bytes")
            shutil.copyfile(path, stage / out.FEATURE_IMPORTANCE)
        for pattern in outputs.curves:
            for path in _existing(root, pattern, "curves"):
                relative = os.path.relpath(path, root)
                lim.check_file(path, relative, limits, field="data_bytes")
                if relative.startswith(".."):  # outside the project: keep only the name
                    relative = path.name
                target = stage / out.CURVES / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    return metrics
