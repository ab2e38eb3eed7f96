"""Runs the corpus's CLI cases in one child process: `python -m tests.corpus_worker`.

Each case is the real entry point, `cml_py.cli.main(args)`, in its own working
directory and environment, with its stdout and stderr captured, a per-case time limit
(SIGALRM) and an address-space limit for the whole worker, so a hang or a runaway
allocation is a failed case, not a stuck or dead test run. Importing cml-py once for
all cases keeps the corpus a few seconds long.

Input (stdin): a JSON list of {"id", "cwd", "args", "env", "timeout"}.
Output (stdout): a JSON object id → {"code", "out", "err", "seconds"}.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import sys
import time

ADDRESS_SPACE = 6 * 1024**3


class CaseTimeout(BaseException):
    """A BaseException, so cml-py's own `except Exception` cannot swallow it."""


def _alarm(_signum: int, _frame: object) -> None:
    raise CaseTimeout


def main() -> None:
    cases = json.load(sys.stdin)
    real_stdout = sys.stdout
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    signal.signal(signal.SIGALRM, _alarm)
    from cml_py.cli import main as cli_main

    results = {}
    for case in cases:
        os.environ.clear()
        os.environ.update(case["env"])
        os.chdir(case["cwd"])
        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace")
        err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace")
        sys.stdout, sys.stderr = out, err
        code: int | str
        started = time.perf_counter()
        signal.alarm(case["timeout"])
        try:
            cli_main(case["args"])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        except CaseTimeout:
            code = "timeout"
        except MemoryError:
            code = "memory"
        finally:
            signal.alarm(0)
            sys.stdout, sys.stderr = real_stdout, sys.__stderr__
        seconds = time.perf_counter() - started
        texts = []
        for stream in (out, err):
            stream.flush()
            texts.append(stream.buffer.getvalue().decode("utf-8", "replace"))  # type: ignore[attr-defined]
        results[case["id"]] = {
            "code": code,
            "out": texts[0][-20_000:],
            "err": texts[1][-20_000:],
            "seconds": seconds,
        }
    json.dump(results, real_stdout)


if __name__ == "__main__":
    main()
