"""A corpus of malformed and hostile inputs, run end to end through the CLI.

Files a pull request controls (metrics, params, cml.yaml, matrix legs' report.json,
predictions), command-line arguments and environment variables (the CI event, tokens,
proxies, the runner's output files). For every case: the exit code's class (0/1 a
verdict, 2 bad input, never 4), no traceback, for bad input exactly one error line
naming the file or key and the limit or expectation, no secret in any output, and a
time limit per case (a hang fails the case instead of the run).

The cases run in one worker process (tests/corpus_worker.py), two workers in parallel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Repo

TIMEOUT = 60  # seconds per case: generous, to catch hangs on a slow, busy CI machine
SECRET = "s3cr3t-proxy-pass"
TOKEN = "ghs_installation_token_0123456789"

Content = str | bytes | Callable[[Path], None] | None
LONG = "a" * 300  # a file name longer than the file system allows (255 bytes)


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    expect: int
    files: dict[str, Content] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    error: tuple[str, ...] = ()  # fragments of the one error line (exit 2)
    stdout: tuple[str, ...] = ()
    stderr: tuple[str, ...] = ()  # fragments anywhere in stderr (warnings)
    github: bool = False  # point the environment at the fake GitHub


# --- hostile content --------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


BILLION_LAUGHS = 'lol: &lol "lol"\n' + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i > 1 else '*lol'] * 10)}]\n" for i in range(1, 10)
)


def symlink(target: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.unlink(missing_ok=True)
        path.symlink_to(target)

    return make


def fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def leg(report: object) -> str:
    return json.dumps(report)


GOOD_LEG = {
    "verdict": "pass",
    "base": {"name": "main", "sha": "a" * 40, "how": "merge-base"},
    "head": {"sha": "b" * 40},
    "metrics": [{"file": "m.json", "name": "acc", "verdict": "better", "base": 0.9, "head": 0.91}],
    "gate": [],
}


def wide_csv(columns: int) -> str:
    return ",".join(f"m{i}" for i in range(columns)) + "\n" + ",".join("1" * columns) + "\n"


def predictions(classes: int, rows: int, shift: int) -> str:
    lines = ["y_true,y_pred"]
    for i in range(rows):
        truth = (i * 7919) % classes
        guess = truth if (i + shift) % 3 else (truth + 1) % classes
        lines.append(f"c{truth},c{guess}")
    return "\n".join(lines) + "\n"


def event(payload: object) -> str:
    return json.dumps(payload)


PR_EVENT = {"number": 7, "pull_request": {"number": 7, "head": {"sha": "c" * 40}}}


EVENT = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": "event.json"}


def main_commit(tag: str, files: dict[str, str]) -> Callable[[Path], None]:
    """A commit on main writing `files`, tagged `tag` (a base the PR cannot fix)."""

    def make(path: Path) -> None:
        repo = path.parent

        def git(*args: str) -> None:
            subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

        git("checkout", "-q", "main")
        for name, text in files.items():
            (repo / name).write_text(text)
        git("add", "-A")
        git("commit", "-q", "-m", tag)
        git("tag", tag)
        git("checkout", "-q", "feature")

    return make


broken_main = main_commit("broken", {"metrics.json": '{"acc": '})  # does not parse


CASES = [
    # metrics and params files ---------------------------------------------------------
    Case(
        "yaml alias bomb",
        ("diff", "--metrics", "m.yaml"),
        2,
        {"m.yaml": alias_bomb()},
        error=("m.yaml", "expands to more than 2,000,000 nodes", "CML_PY_MAX_YAML_NODES"),
    ),
    Case(
        "billion laughs",
        ("diff", "--metrics", "m.yaml"),
        2,
        {"m.yaml": BILLION_LAUGHS},
        error=("m.yaml", "CML_PY_MAX_YAML_NODES"),
    ),
    Case(
        "yaml alias to itself",
        ("diff", "--metrics", "m.yaml"),
        2,
        {"m.yaml": "a: &a [1, *a]\n"},
        error=("m.yaml:1:", "an alias refers to the node that contains it"),
    ),
    Case(
        "yaml nested 150 deep",
        ("diff", "--metrics", "m.yaml"),
        2,
        {"m.yaml": "a: " + "[" * 150 + "]" * 150 + "\n"},
        error=("m.yaml", "nested more than 100 levels deep", "CML_PY_MAX_DEPTH"),
    ),
    Case(
        "yaml 100,000 unclosed brackets",
        ("diff", "--metrics", "m.yaml"),
        2,
        {"m.yaml": "a: " + "[" * 100_000},
        error=("m.yaml", "invalid YAML"),
    ),
    Case(
        "yaml python tag",
        ("diff", "--metrics", "m.yaml"),
        2,
        {"m.yaml": "a: !!python/object/apply:os.system ['touch pwned']\n"},
        error=("m.yaml:1:", "invalid YAML"),
    ),
    Case(
        "yaml two documents",
        ("diff", "--metrics", "m.yaml"),
        2,
        {"m.yaml": "a: 1\n---\nb: 2\n"},
        error=("m.yaml", "invalid YAML"),
    ),
    Case(
        "yaml sequence as a key",
        ("diff", "--metrics", "m.yaml"),
        2,
        {"m.yaml": "? [a, b]\n: 1\n"},
        error=("m.yaml", "unsupported key type"),
    ),
    Case(
        "yaml NUL byte",
        ("diff", "--metrics", "m.yaml"),
        2,
        {"m.yaml": "a: 1\x00\n"},
        error=("m.yaml", "U+0000", "not allowed"),
    ),
    *(
        Case(
            f"yaml value that cannot be constructed: {text}",
            ("diff", "--metrics", "m.yaml"),
            2,
            {"m.yaml": text + "\n"},
            error=(f"m.yaml:1:{column}: invalid YAML", message),
        )
        for text, column, message in (
            ("acc: 2020-13-01", 6, "'2020-13-01' is not a valid timestamp (month must be in"),
            ("acc: 2020-02-30", 6, "'2020-02-30' is not a valid timestamp (day is out of range"),
            ("acc: 2001-12-14 21:59:43.10 +25:00", 6, "is not a valid timestamp (offset must"),
            ("acc: !!float abc", 6, "'abc' is not a valid float"),
            ("acc: !!int abc", 6, "'abc' is not a valid int"),
            ("acc: !!int ''", 6, "'' is not a valid int"),
            ("acc: !!bool maybe", 6, "'maybe' is not a valid bool"),
            ("acc: !!timestamp xyz", 6, "'xyz' is not a valid timestamp"),
            ("acc: !!map [1, 2]", 6, "expected a mapping node, but found sequence"),
            ("2020-99-01: 1", 1, "'2020-99-01' is not a valid timestamp"),
        )
    ),
    Case(
        "params value that cannot be constructed",
        ("diff",),
        2,
        {"params.yaml": "lr: 0.1\nwhen: [2020-13-01]\n"},
        error=("params.yaml:2:8: invalid YAML", "'2020-13-01' is not a valid timestamp"),
    ),
    Case(
        "main's metrics value cannot be constructed",
        ("report", "-o", "-", "--format", "text", "--base", "baddate", "--metrics", "m.yaml"),
        0,
        {
            ".tagged": main_commit("baddate", {"m.yaml": "acc: 2020-13-01\n"}),
            "m.yaml": "acc: 0.9\n",
        },
        stdout=("m.yaml could not be read", "is not a valid timestamp", "treated as absent"),
    ),
    Case(
        "main's params value cannot be constructed",
        ("report", "-o", "-", "--format", "text", "--base", "badparam"),
        0,
        {".tagged": main_commit("badparam", {"params.yaml": "lr: !!float abc\n"})},
        stdout=("params.yaml could not be read", "'abc' is not a valid float"),
    ),
    Case(
        "yaml 5,000-digit integer",
        ("diff", "--metrics", "m.yaml"),
        0,
        {"m.yaml": "acc: " + "7" * 5000 + "\n"},
        stdout=("7.777e+4999",),
    ),
    Case(
        "json 5,000-digit integer",
        ("diff",),
        0,
        {"metrics.json": '{"acc": ' + "7" * 5000 + "}"},
        stdout=("7.777e+4999",),
    ),
    Case(
        "json 10**400",
        ("diff", "--json"),
        0,
        {"metrics.json": '{"acc": 1' + "0" * 400 + "}"},
        stdout=('"head_nonfinite": "inf"',),
    ),
    Case(
        "json huge integer fails a numeric gate",
        ("gate",),
        1,
        {"metrics.json": '{"acc": 1' + "0" * 400 + ', "loss": 0.2}'},
        stdout=("not a finite number",),
    ),
    Case(
        "json nested 5,000 deep",
        ("diff",),
        2,
        {"metrics.json": '{"a": ' + "[" * 5000 + "]" * 5000 + "}"},
        error=("metrics.json", "nested more than 100 levels deep"),
    ),
    Case(
        "json duplicate key",
        ("gate",),
        2,
        {"metrics.json": '{"acc": 0.5, "acc": 0.99}'},
        error=("metrics.json", "the key 'acc' appears twice"),
    ),
    Case(
        "json invalid UTF-8",
        ("diff",),
        2,
        {"metrics.json": b'{"acc": "\xff"}'},
        error=("metrics.json", "expected UTF-8"),
    ),
    Case(
        "json list at the top",
        ("diff",),
        2,
        {"metrics.json": "[1, 2]"},
        error=("metrics.json", "expected a mapping"),
    ),
    Case("json NaN and Infinity", ("diff",), 0, {"metrics.json": '{"acc": NaN, "loss": Infinity}'}),
    Case(
        "json more values than the limit",
        ("diff",),
        2,
        {"metrics.json": '{"a": [' + ",".join(["0"] * 2000) + "]}"},
        env={"CML_PY_MAX_VALUES": "1000"},
        error=("metrics.json", "more than 1,000 values", "CML_PY_MAX_VALUES"),
    ),
    Case(
        "json over the size limit",
        ("diff",),
        2,
        {"metrics.json": '{"a": "' + "x" * (2 * 1024 * 1024) + '"}'},
        env={"CML_PY_MAX_FILE_MB": "1"},
        error=("metrics.json", "2.0 MiB", "CML_PY_MAX_FILE_MB"),
    ),
    Case(
        "json one-megabyte name",
        ("diff", "--all"),
        0,
        {"metrics.json": json.dumps({"n" * 1_000_000: 1, "acc": 0.9, "loss": 0.2})},
    ),
    Case(
        "json names that collide when flattened",
        ("diff",),
        2,
        {"metrics.json": '{"a.b": 1, "a": {"b": 2}}'},
        error=("metrics.json", "'a.b' appears twice"),
    ),
    Case("binary file as json", ("diff",), 2, {"metrics.json": b"\x89PNG\r\n\x1a\n\x00\x00"}),
    *(
        Case(
            f"json lone surrogate: {' '.join(args)}",
            args,
            2,
            {"metrics.json": '{"acc": 0.9, "\\ud800": 1}'},
            error=("metrics.json: the name '\\ud800' is not valid Unicode", "lone surrogate"),
        )
        for args in (
            ("diff",),
            ("gate",),
            ("report", "-o", "-"),
            ("report", "-o", "-", "--format", "json"),
            ("report", "-o", "-", "--format", "junit"),
        )
    ),
    Case(
        "json lone low surrogate in a params value",
        ("diff", "--json", "--params", "p.json"),
        2,
        {"p.json": '{"a": {"b": ["x", "\\udc80"]}}'},
        error=("p.json: the value of 'a.b.1' is not valid Unicode", "(\\udc80)"),
    ),
    Case(
        "json surrogate pair",
        ("diff", "--all", "--params", "p.json"),
        0,
        {"p.json": '{"\\ud83d\\ude00": "\\ud83d\\ude00", "b": "\\\\ud800"}'},
        stdout=("\U0001f600",),
    ),
    Case(
        "yaml lone surrogate escape",
        ("diff", "--params", "p.yaml"),
        2,
        {"p.yaml": 'a: "\\ud800"\n'},
        error=("p.yaml:1:", "invalid YAML"),
    ),
    Case(
        "toml lone surrogate escape",
        ("diff", "--params", "p.toml"),
        2,
        {"p.toml": 'a = "\\udc80"\n'},
        error=("p.toml", "invalid TOML", "not a Unicode scalar value"),
    ),
    Case("empty metrics file", ("diff",), 0, {"metrics.json": ""}),
    Case(
        "toml 5,000-digit integer",
        ("diff", "--metrics", "m.toml"),
        0,
        {"m.toml": "acc = " + "7" * 5000 + "\n"},
        stdout=("7.777e+4999",),
    ),
    Case(
        "toml 5,000 nested inline tables",
        ("diff", "--metrics", "m.toml"),
        2,
        {"m.toml": "a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n"},
        error=("m.toml", "nested more than 100 levels deep"),
    ),
    Case(
        "toml 100,000 nested arrays",
        ("diff", "--metrics", "m.toml"),
        2,
        {"m.toml": "a = " + "[" * 100_000 + "]" * 100_000 + "\n"},
        error=("m.toml", "nested"),
    ),
    Case(
        "toml syntax",
        ("diff", "--metrics", "m.toml"),
        2,
        {"m.toml": "a = = 1\n"},
        error=("m.toml", "invalid TOML"),
    ),
    Case(
        "csv field over the limit",
        ("diff", "--metrics", "m.csv"),
        2,
        {"m.csv": "name,value\nbig," + "x" * (2 * 1024 * 1024) + "\n"},
        error=("m.csv:2", "longer than 1,048,576 characters", "CML_PY_MAX_CSV_FIELD_KB"),
    ),
    Case(
        "csv more columns than the limit",
        ("diff", "--metrics", "m.csv"),
        2,
        {"m.csv": wide_csv(3000)},
        env={"CML_PY_MAX_VALUES": "1000"},
        error=("m.csv", "3,000 columns", "CML_PY_MAX_VALUES"),
    ),
    Case("csv 20,000 columns", ("diff", "--metrics", "m.csv"), 0, {"m.csv": wide_csv(20_000)}),
    Case(
        "csv two rows of strings without a header",
        ("diff", "--params", "p.csv"),
        2,
        {"p.csv": "model,rf\nsolver,adam\n"},
        error=("p.csv", "make the first line `name,value`"),
    ),
    Case(
        "csv long without a header",
        ("diff", "--metrics", "m.csv"),
        2,
        {"m.csv": "acc,0.9\nloss,0.1\nf1,0.5\n"},
        error=("m.csv", "`name,value`"),
    ),
    Case(
        "csv long with a header",
        ("diff", "--metrics", "m.csv", "--all"),
        0,
        {"m.csv": "metric,value\nacc,0.9\nloss,0.1\n"},
    ),
    Case(
        "tsv unclosed quote",
        ("diff", "--metrics", "m.tsv"),
        2,
        {"m.tsv": 'a\t"b\n1\t2\n'},
        error=("m.tsv",),
    ),
    Case(
        "an absolute metrics glob",
        ("diff", "--metrics", "/etc/host*"),
        2,
        error=("--metrics", "'/etc/host*'", "expected a pattern relative to cml.yaml's directory"),
    ),
    Case(
        "an absolute curves glob",
        ("report", "-o", "-", "--trust-pr-config", "--charts", "ch"),
        2,
        {"cml.yaml": "metrics: [metrics.json]\ncurves: ['/tmp/*.csv']\n"},
        error=("cml.yaml: curves", "'/tmp/*.csv'", "not an absolute path"),
    ),
    Case(
        "training curves with a field over the CSV limit",
        ("report", "-o", "-", "--format", "text", "--trust-pr-config"),
        0,
        {
            "cml.yaml": "metrics: [metrics.json]\ncurves: [log.csv]\n",
            "log.csv": "step,loss\n1," + "x" * (2 * 1024 * 1024) + "\n",
        },
        stdout=("log.csv is not a readable table",),
    ),
    *(
        Case(
            f"training curves with {what} beyond what can be plotted",
            ("report", "-o", "-", "--format", "json", "--trust-pr-config", "--charts", "ch"),
            0,
            {"cml.yaml": "metrics: [metrics.json]\ncurves: [log.csv]\n", "log.csv": text},
            stdout=("log (this PR) left out", "cannot be plotted"),
        )
        for what, text in (
            ("values", "step,loss\n1,1e308\n2,-1e308\n"),
            ("steps", "step,loss\n1e308,1\n-1e308,2\n"),
        )
    ),
    Case(
        "metrics path is a directory",
        ("diff", "--trust-pr-config"),
        2,
        {"cml.yaml": "metrics: [out]\n", "out/x.json": "{}"},
        error=("cml.yaml", "'out' is a directory"),
    ),
    *(
        Case(
            f"name too long: {what}",
            args,
            2,
            files,
            error=(*where, "cannot be looked up", "longer than the file system allows"),
        )
        for what, args, files, where in (
            (
                "cml.yaml metrics",
                ("diff", "--trust-pr-config"),
                {"cml.yaml": f"metrics: ['{LONG}.json']\n"},
                ("cml.yaml: metrics: file 'aaa",),
            ),
            ("--metrics", ("diff", "--metrics", f"{LONG}.json"), {}, ("--metrics: file",)),
            ("--params glob", ("diff", "--params", f"{LONG}/*.yaml"), {}, ("--params: file",)),
            ("--config", ("diff", "--config", f"{LONG}.yaml"), {}, ("the config file",)),
            (
                "--template",
                ("report", "--template", f"{LONG}.j2", "-o", "-"),
                {},
                ("--template",),
            ),
            (
                "report.template",
                ("report", "-o", "-", "--trust-pr-config"),
                {"cml.yaml": f"metrics: [metrics.json]\nreport: {{template: {LONG}.j2}}\n"},
                ("the template",),
            ),
            ("--merge", ("report", "--merge", LONG, "-o", "-"), {}, ("--merge",)),
            ("--out", ("run", "--no-publish", "--out", LONG), {}, ("--out",)),
            (
                "curves",
                ("report", "-o", "-", "--format", "text", "--trust-pr-config"),
                {"cml.yaml": f"metrics: [metrics.json]\ncurves: ['{LONG}/*.csv']\n"},
                ("cml.yaml: curves",),
            ),
            (
                "predictions in train.output_dir",
                ("report", "-o", "-", "--trust-pr-config"),
                {
                    "cml.yaml": "metrics: [metrics.json]\n"
                    f"train: {{command: 'true', output_dir: {LONG}}}\n"
                },
                ("predictions.csv",),
            ),
            (
                "train.output_dir",
                ("run", "--no-publish", "--no-charts", "--trust-pr-config"),
                {"cml.yaml": f"train: {{command: 'true', output_dir: {LONG}}}\n"},
                ("train.output_dir",),
            ),
            (
                "train.outputs",
                ("run", "--no-publish", "--no-charts", "--trust-pr-config"),
                {"cml.yaml": f"train: {{command: 'true', outputs: {{metrics: [{LONG}.json]}}}}\n"},
                ("train.outputs.metrics",),
            ),
            (
                "data path",
                ("diff", "--trust-pr-config"),
                {"cml.yaml": f"metrics: [metrics.json]\ndata: {{d: {{path: {LONG}.csv}}}}\n"},
                ("data.d",),
            ),
            (
                "data glob",
                ("diff", "--trust-pr-config"),
                {"cml.yaml": f"metrics: [metrics.json]\ndata: {{d: {{path: '{LONG}/*.csv'}}}}\n"},
                ("cml.yaml: data.d.path",),
            ),
            (
                "DVC plot file",
                ("report", "-o", "out/r.md", "--charts", "out/charts", "--trust-pr-config"),
                {
                    "cml.yaml": "dvc: true\n",
                    "dvc.yaml": f"metrics: [metrics.json]\nplots: [{LONG}.csv]\n",
                },
                ("a plot file",),
            ),
            (
                "image the report links",
                ("comment", "r.md", "--local-dir", "published"),
                {"r.md": f"# report\n![chart]({LONG}.png)\n"},
                (f"the image '{LONG}.png' the report links",),
            ),
        )
    ),
    Case(
        "metrics file is a FIFO",
        ("diff", "--metrics", "pipe.json"),
        2,
        {"pipe.json": fifo},
        error=("pipe.json", "not a regular file"),
    ),
    Case(
        "metrics file links to /dev/zero",
        ("diff", "--metrics", "zero.json"),
        2,
        {"zero.json": symlink("/dev/zero")},
        error=("zero.json", "not a regular file"),
    ),
    Case(
        "metrics file outside the repository",
        ("diff", "--metrics", "../outside.json"),
        2,
        {"../outside.json": '{"acc": 1}'},
        error=("outside.json", "outside the repository"),
    ),
    Case(
        "metrics file is a symlink",
        ("diff", "--metrics", "link.json"),
        2,
        {"link.json": symlink("metrics.json")},
        error=("link.json", "symlink"),
    ),
    Case(
        "main's metrics file does not parse",
        ("report", "-o", "-", "--format", "text", "--base", "broken"),
        0,
        {".tagged": broken_main},
        stdout=("could not be read", "treated as absent"),
    ),
    # cml.yaml -----------------------------------------------------------------------------
    Case(
        "cml.yaml alias bomb",
        ("gate",),
        2,
        {"cml.yaml": alias_bomb()},
        error=("cml.yaml", "CML_PY_MAX_YAML_NODES"),
    ),
    Case(
        "gate limit 1e400",
        ("gate", "--trust-pr-config"),
        2,
        {"cml.yaml": "metrics: [metrics.json]\ngate:\n  acc: {min: 1e400}\n"},
        error=("cml.yaml", "acc.min", "finite"),
    ),
    Case(
        "gate limit with 5,000 digits",
        ("gate", "--trust-pr-config"),
        2,
        {"cml.yaml": "metrics: [metrics.json]\ngate:\n  acc: {min: " + "9" * 5000 + "}\n"},
        error=("cml.yaml", "acc.min"),
    ),
    Case(
        "resamples 10**30",
        ("diff", "--trust-pr-config"),
        2,
        {"cml.yaml": "metrics: [metrics.json]\nevaluate: {resamples: 1" + "0" * 30 + "}\n"},
        error=("cml.yaml", "resamples"),
    ),
    Case(
        "integer gate pattern",
        ("gate", "--trust-pr-config"),
        2,
        {"cml.yaml": "metrics: [metrics.json]\ngate:\n  1: {min: 0.5}\n"},
        error=("cml.yaml", "gate"),
    ),
    Case(
        "cml.yaml base that is no date",
        ("gate",),
        2,
        {"cml.yaml": "metrics: [metrics.json]\nbase: 2020-13-01\n"},
        error=("cml.yaml:2:7: invalid YAML", "'2020-13-01' is not a valid timestamp"),
    ),
    Case(
        "cml.yaml gate limit that cannot be constructed",
        ("gate",),
        2,
        {"cml.yaml": "metrics: [metrics.json]\ngate: {acc: {min: !!float abc}}\n"},
        error=("cml.yaml:2:19: invalid YAML", "'abc' is not a valid float"),
    ),
    Case(
        "main's cml.yaml value cannot be constructed",
        ("gate", "--base", "badconf"),
        2,
        {".tagged": main_commit("badconf", {"cml.yaml": "gate: {acc: {min: !!float abc}}\n"})},
        error=("badconf:cml.yaml:1:", "'abc' is not a valid float", "must be valid"),
    ),
    Case(
        "cml.yaml nested 150 deep",
        ("gate",),
        2,
        {"cml.yaml": "gate: " + "[" * 150 + "]" * 150 + "\n"},
        error=("cml.yaml", "CML_PY_MAX_DEPTH"),
    ),
    Case(
        "cml.yaml invalid UTF-8",
        ("gate",),
        2,
        {"cml.yaml": b"gate: {acc: {min: \xff}}\n"},
        error=("cml.yaml",),
    ),
    Case(
        "train.output_dir ..",
        ("run", "--no-publish", "--no-charts", "--trust-pr-config"),
        2,
        {"cml.yaml": "train:\n  command: 'true'\n  output_dir: ..\n"},
        error=("output_dir",),
    ),
    Case(
        "train.command with a NUL byte",
        ("run", "--no-publish", "--no-charts", "--trust-pr-config"),
        2,
        {"cml.yaml": 'train:\n  command: "a\\0b"\n'},
        error=("cml.yaml: train.command: expected text without NUL characters",),
    ),
    Case(
        "--config is a directory",
        ("diff", "--config", "conf"),
        2,
        {"conf/x": "1"},
        error=("conf",),
    ),
    # templates (given with --template; the PR's own copy only under --trust-pr-config) ------
    *(
        Case(
            f"template: {what}",
            ("report", "--template", "t.j2", "-o", "-", "--trust-pr-config"),
            2,
            {"t.j2": text},
            error=("t.j2", message),
        )
        for what, text, message in (
            ("missing include", '{% include "nope.j2" %}', "not found"),
            ("endless recursion", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recurses"),
            ("division by zero", "{{ 1 / 0 }}", "ZeroDivisionError"),
            ("reaching for globals", "{{ lipsum.__globals__ }}", "unsafe"),
            ("syntax", "{% for %}", "syntax"),
        )
    ),
    Case(
        "template: a lone surrogate in a string literal",  # no UTF-8 form
        ("report", "--template", "t.j2", "-o", "-", "--trust-pr-config"),
        0,
        {"t.j2": '{{ "\\ud800" }} end\n'},
        stdout=("? end",),
    ),
    Case(
        "template: nested loops for hours",  # each range is within the sandbox's limit
        ("report", "--template", "t.j2", "-o", "-", "--trust-pr-config"),
        2,
        {
            "t.j2": "{% for i in range(100000) %}{% for j in range(100000) %}"
            "{% endfor %}{% endfor %}"
        },
        env={"CML_PY_MAX_TEMPLATE_SECONDS": "1"},
        error=("t.j2", "took too long to render", "CML_PY_MAX_TEMPLATE_SECONDS"),
    ),
    *(
        Case(
            f"mlflow {key} that is no URL: {value}",
            ("diff",),
            2,
            {"cml.yaml": f"metrics: [metrics.json]\nmlflow: {{experiment: e, {key}: '{value}'}}\n"},
            error=("cml.yaml", f"mlflow.{key}", "not a valid URL"),
        )
        for key, value in (
            ("tracking_uri", "http://[::1"),
            ("tracking_uri", "http://127.0.0.1:99999"),
            ("ui_url", "http://[x"),
        )
    ),
    Case(
        "a limit given in superscript digits",  # str.isdigit() says yes, int() says no
        ("diff",),
        2,
        env={"CML_PY_MAX_FILE_MB": "\u00b2"},
        error=("CML_PY_MAX_FILE_MB", "expected a positive whole number"),
    ),
    # command-line arguments ---------------------------------------------------------------
    Case(
        "--base that looks like an option",
        ("diff", "--base", "--upload-pack=touch pwned"),
        2,
        error=("--upload-pack",),
    ),
    Case("--base that does not exist", ("diff", "--base", "nope"), 2, error=("nope",)),
    Case("--base that is empty", ("diff", "--base", ""), 2, error=("--base", "must not be empty")),
    Case("--id that is empty", ("report", "--id", " ", "-o", "-"), 2, error=("--id", "empty")),
    Case(
        "report into an unwritable place",
        ("report", "-o", "/proc/cml-py/report.md"),
        2,
        error=("/proc/cml-py/report.md", "cannot write"),
    ),
    Case("report id with a space", ("report", "--id", "bad id", "-o", "-"), 2, error=("bad id",)),
    Case(
        "report id of 100 characters", ("report", "--id", "a" * 100, "-o", "-"), 2, error=("--id",)
    ),
    Case(
        "evaluate a missing file",
        ("evaluate", "nope.csv"),
        2,
        error=("nope.csv", "does not exist"),
    ),
    Case("evaluate an empty file", ("evaluate", "p.csv"), 2, {"p.csv": ""}, error=("p.csv",)),
    Case(
        "evaluate ragged rows",
        ("evaluate", "p.csv"),
        2,
        {"p.csv": "y_true,y_pred\n1,1\n1,1,1\n"},
        error=("p.csv", "cannot read predictions CSV"),
    ),
    Case(
        "evaluate labels that are not UTF-8",
        ("evaluate", "p.csv"),
        2,
        {"p.csv": b"y_true,y_pred\n\xe9,\xe9\n"},
        error=("p.csv", "not UTF-8"),
    ),
    Case(
        "evaluate against main's file that is not UTF-8",
        ("evaluate", "head.csv", "--base", "base.csv"),
        2,
        {"head.csv": "y_true,y_pred\n1,1\n", "base.csv": b"y_true,y_pred\n\xe9,\xe9\n"},
        error=("base.csv", "not UTF-8"),
    ),
    Case(
        "evaluate a corrupt gzip",
        ("evaluate", "p.csv.gz"),
        2,
        {"p.csv.gz": b"\x1f\x8b\x08\x00junk"},
        error=("p.csv.gz", "cannot decompress"),
    ),
    Case(
        "train predictions that are not UTF-8",
        ("run", "--no-publish", "--no-charts", "--trust-pr-config"),
        2,
        {
            "cml.yaml": "train:\n  command: 'true'\n  outputs: {predictions: p.csv}\n",
            "p.csv": b"y_true,y_pred\n\xe9,\xe9\n",
        },
        error=("p.csv", "not UTF-8"),
    ),
    Case(
        "evaluate number ids against text ids",
        ("evaluate", "head.csv", "--base", "base.csv"),
        2,
        {
            "head.csv": "id,y_true,y_pred\n1,1,1\n2,0,0\n",
            "base.csv": "id,y_true,y_pred\na,1,1\nb,0,1\n",
        },
        error=("base.csv and head.csv cannot be paired", "ids are text", "are numbers"),
    ),
    Case(
        "evaluate proba_ columns that name no class",
        ("evaluate", "p.csv"),
        2,
        {"p.csv": "y_true,y_pred,proba_x,proba_y\n0,0,0.9,0.1\n1,1,0.2,0.8\n"},
        error=("p.csv", "proba_x", "expected proba_<class>"),
    ),
    Case(
        "evaluate scores whose sum overflows",
        ("evaluate", "p.csv", "--json"),
        0,
        {"p.csv": "y_true,y_pred,proba_0,proba_1\n0,0,1e308,1e308\n1,1,1e308,1e308\n"},
        stdout=('"log_loss": 0.693147',),
    ),
    Case(
        "evaluate regression values near 1e308",
        ("evaluate", "p.csv", "--base", "p.csv", "--json"),
        0,
        {"p.csv": "y_true,y_pred\n1e308,-1e308\n-1e308,1e308\n1.5,2.5\n"},
        stdout=('"rmse": null', '"rmse_nonfinite": "inf"'),
    ),
    Case(
        "evaluate text scores",
        ("evaluate", "p.csv"),
        2,
        {"p.csv": "y_true,y_pred,proba_1\n1,1,x\n"},
        error=("p.csv", "proba_"),
    ),
    Case(
        "evaluate 10,000 classes",
        ("evaluate", "head.csv", "--base", "base.csv", "--json", "--resamples", "200"),
        0,
        {"base.csv": predictions(10_000, 4_000, 0), "head.csv": predictions(10_000, 4_000, 1)},
        stdout=('"accuracy"',),
    ),
    Case(
        "evaluate over the memory budget",
        ("evaluate", "p.csv"),
        2,
        {
            "p.csv": "y_true,y_pred,"
            + ",".join(f"proba_{i}" for i in range(300))
            + "\n"
            + ("0,0," + ",".join(["0.003"] * 300) + "\n") * 2000
        },
        env={"CML_PY_MAX_EVAL_MB": "16"},
        error=("p.csv", "CML_PY_MAX_EVAL_MB"),
    ),
    Case(
        "evaluate over the memory budget behind a row longer than 64 KiB",
        ("evaluate", "p.csv"),
        2,
        {"p.csv": "y_true,y_pred\n" + "a" * 70_000 + ",b\n" + "0,0\n1,1\n" * 250_000},
        env={"CML_PY_MAX_EVAL_MB": "16"},
        error=("p.csv", "CML_PY_MAX_EVAL_MB"),
    ),
    Case("resamples out of range", ("evaluate", "p.csv", "--resamples", "1000000000"), 2),
    Case(
        "evaluate with a negative seed",
        ("evaluate", "p.csv", "--base", "p.csv", "--seed", "-1"),
        2,
        {"p.csv": "y_true,y_pred\n1,1\n0,0\n"},
        error=("--seed", "-1"),
    ),
    Case(
        "merged leg with a number for a name",
        ("report", "--merge", "legs/a", "-o", "-"),
        2,
        {
            "legs/a/report.json": leg(
                {**GOOD_LEG, "metrics": [{**GOOD_LEG["metrics"][0], "name": 5}]}
            )
        },
        error=("legs/a/report.json", "metrics.0.name", "expected a string"),
    ),
    Case(
        "merged leg with a lone surrogate in a name",
        ("report", "--merge", "legs/a", "-o", "-"),
        2,
        {"legs/a/report.json": leg(GOOD_LEG).replace('"name": "acc"', '"name": "acc\\ud800"')},
        error=("legs/a/report.json", "the value of 'metrics.0.name' is not valid Unicode"),
    ),
    Case(
        "merged leg with a string for its metrics",
        ("report", "--merge", "legs/a", "-o", "-"),
        2,
        {"legs/a/report.json": leg({**GOOD_LEG, "metrics": "all good"})},
        error=("legs/a/report.json", "metrics", "expected a list"),
    ),
    Case(
        "merged leg with a list for its base",
        ("report", "--merge", "legs/a", "-o", "-"),
        2,
        {"legs/a/report.json": leg({**GOOD_LEG, "base": ["main"]})},
        error=("legs/a/report.json", "base", "expected an object"),
    ),
    Case(
        "merged leg with an unknown verdict",
        ("report", "--merge", "legs/a", "-o", "-"),
        2,
        {"legs/a/report.json": leg({**GOOD_LEG, "verdict": "maybe"})},
        error=("legs/a/report.json", "verdict", "one of"),
    ),
    Case(
        "merged leg nested 100,000 deep",
        ("report", "--merge", "legs/a", "-o", "-"),
        2,
        {"legs/a/report.json": "[" * 100_000 + "]" * 100_000},
        error=("legs/a/report.json",),
    ),
    Case(
        "merged leg that is not JSON",
        ("report", "--merge", "legs/a", "-o", "-"),
        2,
        {"legs/a/report.json": "not json"},
        error=("legs/a/report.json",),
    ),
    Case(
        "merged leg without report.json",
        ("report", "--merge", "legs/a", "-o", "-"),
        2,
        {"legs/a/other.txt": "x"},
        error=("no report.json",),
    ),
    Case(
        "merged leg with a 5,000-digit value",
        ("report", "--merge", "legs/a", "-o", "-", "--format", "text", "--all"),
        0,
        {"legs/a/report.json": leg(GOOD_LEG).replace('"head": 0.91', '"head": ' + "9" * 5000)},
        stdout=("9.999e+4999",),
    ),
    # the environment ----------------------------------------------------------------------
    Case(
        "event number is a string",
        ("comment", "report.md"),
        2,
        {"event.json": event({"number": "7", "pull_request": {"number": "7"}})},
        env=EVENT,
        error=("GITHUB_EVENT_PATH", "pull_request.number", "expected an integer"),
        github=True,
    ),
    Case(
        "event pull_request is a list",
        ("comment", "report.md"),
        2,
        {"event.json": event({"pull_request": [1, 2]})},
        env=EVENT,
        error=("GITHUB_EVENT_PATH", "pull_request", "expected an object"),
        github=True,
    ),
    Case(
        "event payload is a list",
        ("comment", "report.md"),
        2,
        {"event.json": "[]"},
        env=EVENT,
        error=("GITHUB_EVENT_PATH", "expected a JSON object"),
        github=True,
    ),
    Case(
        "event payload is not JSON",
        ("comment", "report.md"),
        2,
        {"event.json": "{"},
        env=EVENT,
        error=("GITHUB_EVENT_PATH", "cannot read the event payload"),
        github=True,
    ),
    Case(
        "event head sha is a path",
        ("comment", "report.md"),
        2,
        {
            "event.json": event(
                {"number": 7, "pull_request": {"number": 7, "head": {"sha": "../../x"}}}
            )
        },
        env=EVENT,
        error=("GITHUB_EVENT_PATH", "pull_request.head.sha"),
        github=True,
    ),
    Case(
        "token with a non-Latin-1 character",
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT)},
        env={**EVENT, "GITHUB_TOKEN": "ghs_t\u00f6ken\u2603_0123456789"},
        error=("GITHUB_TOKEN", "cannot be sent in an HTTP header"),
        github=True,
    ),
    Case(
        "token with a line break",
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT)},
        env={**EVENT, "GITHUB_TOKEN": "ghs_abc\nX-Evil: 1"},
        error=("GITHUB_TOKEN", "whitespace"),
        github=True,
    ),
    Case(
        "proxy URL with a password and a bad port",
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT)},
        env={**EVENT, "HTTPS_PROXY": f"http://user:{SECRET}@proxy:80a80"},
        error=("HTTPS_PROXY", "***@proxy"),
        github=True,
    ),
    Case(
        "API URL that is not http",
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT)},
        env={**EVENT, "CML_PY_API_URL": "ftp://example.invalid"},
        error=("CML_PY_API_URL", "http"),
        github=True,
    ),
    Case(
        "PR number that is not a number",
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT)},
        env={**EVENT, "CML_PY_PR": "7; rm -rf /"},
        error=("CML_PY_PR",),
        github=True,
    ),
    Case(
        "unknown forge",
        ("comment", "report.md"),
        2,
        env={"CML_PY_FORGE": "bitbucket"},
        error=("CML_PY_FORGE",),
    ),
    Case(
        "repository that is a path",
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT)},
        env={**EVENT, "GITHUB_REPOSITORY": "../../etc"},
        error=("GITHUB_REPOSITORY", "owner/name"),
        github=True,
    ),
    Case(
        "limit variable that is not a number",
        ("diff",),
        2,
        env={"CML_PY_MAX_FILE_MB": "lots"},
        error=("CML_PY_MAX_FILE_MB", "positive whole number"),
    ),
    Case(
        "negative write interval",
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT)},
        env={**EVENT, "CML_PY_WRITE_INTERVAL": "-1"},
        error=("CML_PY_WRITE_INTERVAL",),
        github=True,
    ),
    Case(
        "retry bound that is not finite",
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT)},
        env={**EVENT, "CML_PY_RETRY_SECONDS": "inf"},
        error=("CML_PY_RETRY_SECONDS", "up to 3600 seconds"),
        github=True,
    ),
    Case(
        "GITHUB_OUTPUT is a directory",
        ("comment", "report.md"),
        0,
        {"event.json": event(PR_EVENT), "outdir/x": "1"},
        env={**EVENT, "GITHUB_OUTPUT": "outdir"},
        stderr=("warning: GITHUB_OUTPUT", "is a directory"),
        github=True,
    ),
    Case(
        "GITHUB_STEP_SUMMARY in a missing directory",
        ("comment", "report.md"),
        0,
        {"event.json": event(PR_EVENT)},
        env={**EVENT, "GITHUB_STEP_SUMMARY": "missing/dir/summary.md"},
        stderr=("warning: GITHUB_STEP_SUMMARY", "does not exist"),
        github=True,
    ),
    Case(
        "event payload is a pipe",  # reading it would wait for a writer forever
        ("comment", "report.md"),
        2,
        {"event.fifo": fifo},
        env={**EVENT, "GITHUB_EVENT_PATH": "event.fifo"},
        error=("GITHUB_EVENT_PATH", "not a directory, pipe or device"),
        github=True,
    ),
    Case(
        "event payload is /dev/zero",  # size 0 by stat, endless when read
        ("comment", "report.md"),
        2,
        env={**EVENT, "GITHUB_EVENT_PATH": "/dev/zero"},
        error=("GITHUB_EVENT_PATH", "not a directory, pipe or device"),
        github=True,
    ),
    Case(
        "event number with 5,000 digits",
        ("comment", "report.md"),
        2,
        {"event.json": '{"pull_request": {"number": ' + "7" * 5000 + "}}"},
        env=EVENT,
        error=("GITHUB_EVENT_PATH", "an integer of 5,000 digits"),
        github=True,
    ),
    Case(
        "event number beyond 32 bits",
        ("comment", "report.md"),
        2,
        {"event.json": event({"pull_request": {"number": 2**40}})},
        env=EVENT,
        error=("GITHUB_EVENT_PATH", "pull_request.number", "up to 2,147,483,647"),
        github=True,
    ),
    Case(
        "event head sha is not hexadecimal",
        ("comment", "report.md"),
        2,
        {"event.json": event({"pull_request": {"number": 7, "head": {"sha": "abc"}}})},
        env=EVENT,
        error=("GITHUB_EVENT_PATH", "pull_request.head.sha"),
        github=True,
    ),
    Case(
        "CML_PY_PR with a superscript digit",  # str.isdigit() says yes, int() says no
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT)},
        env={**EVENT, "CML_PY_PR": "\u00b2"},
        error=("CML_PY_PR", "expected a PR/MR number"),
        github=True,
    ),
    *(
        Case(
            f"repository {repository}",  # '..' would climb out of /repos/ in the API path
            ("comment", "report.md"),
            2,
            {"event.json": event(PR_EVENT)},
            env={**EVENT, "GITHUB_REPOSITORY": repository},
            error=("GITHUB_REPOSITORY", "expected owner/name"),
            github=True,
        )
        for repository in ("../x", "./.", "octo/..")
    ),
    Case(
        "report to post is a symlink to the runner's environment",
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT), "report.md": symlink("/proc/self/environ")},
        env=EVENT,
        error=("report.md", "is a symlink"),
        github=True,
    ),
    Case(
        "report to post is a pipe",
        ("comment", "report.md"),
        2,
        {"event.json": event(PR_EVENT), "report.md": fifo},
        env=EVENT,
        error=("report.md", "not a regular file"),
        github=True,
    ),
    Case(
        "GITHUB_OUTPUT is a pipe",  # appending would wait for a reader forever
        ("comment", "report.md"),
        0,
        {"event.json": event(PR_EVENT), "out.fifo": fifo},
        env={**EVENT, "GITHUB_OUTPUT": "out.fifo"},
        stderr=("warning: GITHUB_OUTPUT", "is a pipe or socket"),
        github=True,
    ),
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every case's outcome: each in a copy of one base repository, all run by two
    worker processes in parallel."""
    from tests.fakes.github import FakeGitHub, Token

    root = tmp_path_factory.mktemp("corpus")
    template = Repo(root / "template")
    template.write("metrics.json", {"acc": 0.9, "loss": 0.2})
    template.write("params.yaml", "lr: 0.1\n")
    template.write(
        "cml.yaml",
        "metrics: [metrics.json]\nparams: [params.yaml]\ngate:\n  acc: {min: 0.5, max_drop: 0.1}\n",
    )
    template.commit("base")
    template.branch("feature")
    template.write("metrics.json", {"acc": 0.91, "loss": 0.19})
    template.write("report.md", "<!-- cml-py report id=default -->\n### ✅ cml-py: report\n")
    template.commit("feature")
    base_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITHUB_", "GITLAB_", "CI_", "CML_PY_", "RUNNER_"))
        and key not in ("CI", "GH_TOKEN", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY")
    }
    fake = FakeGitHub(tokens={TOKEN: Token(None)})
    jobs = []
    with fake.serve():
        for number, case in enumerate(CASES):
            directory = root / f"case{number}"
            shutil.copytree(template.path, directory, symlinks=True)
            for rel, content in case.files.items():
                target = directory / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if content is None:
                    target.unlink(missing_ok=True)
                elif callable(content):
                    content(target)
                elif isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    target.write_text(content)
            env = dict(base_env)
            if case.github:
                env.update(
                    {
                        "GITHUB_ACTIONS": "true",
                        "GITHUB_REPOSITORY": f"{fake.owner}/{fake.repo}",
                        "GITHUB_API_URL": fake.api_url,
                        "GITHUB_SERVER_URL": "https://github.example",
                        "GITHUB_SHA": "d" * 40,
                        "GITHUB_TOKEN": TOKEN,
                        "CML_PY_WRITE_INTERVAL": "0",
                    }
                )
            env.update(case.env)
            for key in ("GITHUB_EVENT_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
                if key in env and not os.path.isabs(env[key]):
                    env[key] = str(directory / env[key])
            jobs.append(
                {
                    "id": case.id,
                    "cwd": str(directory),
                    "args": list(case.args),
                    "env": env,
                    "timeout": TIMEOUT,
                }
            )
        halves = [jobs[0::2], jobs[1::2]]
        with ThreadPoolExecutor(2) as pool:
            parts = list(pool.map(_run_worker, halves))
    return {case_id: result for part in parts for case_id, result in part.items()}


def _run_worker(jobs: list[dict]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.corpus_worker"],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        timeout=TIMEOUT * len(jobs) + 60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_the_corpus_covers_every_class() -> None:
    assert len(CASES) >= 80
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(outcomes: dict[str, dict], case: Case) -> None:
    result = outcomes[case.id]
    code, out, err = result["code"], result["out"], result["err"]
    assert code not in ("timeout", "memory"), f"{case.id}: {code} after {result['seconds']:.1f} s"
    assert result["seconds"] < TIMEOUT
    assert "Traceback" not in err and "internal error" not in err, err
    assert "Warning: " not in err, err  # numpy's or matplotlib's, e.g. RuntimeWarning: overflow
    assert code == case.expect, (code, err[-2000:])
    errors = [line for line in err.splitlines() if line.startswith(("cml-py: error", "Error:"))]
    if case.expect == 2:
        assert len(errors) == 1, err
        for fragment in case.error:
            assert fragment in errors[0], (fragment, errors[0])
    else:
        assert not errors, err
    for fragment in case.stdout:
        assert fragment in out, (fragment, out[-2000:])
    for fragment in case.stderr:
        assert fragment in err, (fragment, err[-2000:])
    for secret in (SECRET, TOKEN):
        assert secret not in out and secret not in err
