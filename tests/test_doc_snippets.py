"""The YAML a reader copies from README.md and docs/ works: every cml.yaml snippet passes
cml-py's own schema, and every complete workflow or GitLab job passes the same linters as
the files cml-py ships (check-jsonschema, actionlint, zizmor)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cml_py.config import TOP_LEVEL_KEYS, parse_config
from tests.ci_files import ROOT
from tests.test_ci_lint import tool

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def yaml_blocks() -> list[tuple[str, str]]:
    out = []
    for path in DOCS:
        for n, match in enumerate(_BLOCK.finditer(path.read_text(encoding="utf-8"))):
            out.append((f"{path.relative_to(ROOT)}#{n + 1}", match.group(1)))
    return out


def kind(text: str) -> str:
    """What a snippet is: a cml.yaml, a GitHub workflow, a GitLab file, or a fragment."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return "fragment"
    if not isinstance(data, dict):
        return "fragment"
    if "jobs" in data and ("on" in data or True in data):
        return "workflow"
    if text.lstrip().startswith("# GitLab") or "include" in data:
        return "gitlab"
    if set(data) <= set(TOP_LEVEL_KEYS):
        return "cml.yaml"
    return "fragment"


BLOCKS = yaml_blocks()


def test_the_docs_have_snippets_of_every_kind() -> None:
    kinds = {kind(text) for _, text in BLOCKS}
    assert {"cml.yaml", "workflow", "gitlab"} <= kinds


@pytest.mark.parametrize(
    ("where", "text"), [b for b in BLOCKS if kind(b[1]) == "cml.yaml"], ids=lambda v: str(v)[:30]
)
def test_cml_yaml_snippets_are_valid(where: str, text: str, tmp_path: Path) -> None:
    from cml_py.yamlio import load_yaml

    parse_config(load_yaml(text, where), source=where, root=tmp_path)


def test_workflow_and_gitlab_snippets_pass_the_linters(tmp_path: Path) -> None:
    workflows, gitlab = [], []
    for n, (_, text) in enumerate(BLOCKS):
        if kind(text) == "workflow":
            path = tmp_path / f"workflow-{n}.yml"
            path.write_text(text)
            workflows.append(path)
        elif kind(text) == "gitlab":
            path = tmp_path / f"gitlab-{n}.yml"
            path.write_text(text)
            gitlab.append(path)
    assert workflows and gitlab
    for schema, files in (("vendor.github-workflows", workflows), ("vendor.gitlab-ci", gitlab)):
        proc = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    node = shutil.which("node")
    assert node
    proc = subprocess.run(
        [node, str(ROOT / "tests/tools/actionlint.cjs"), *map(str, workflows)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout) == [], proc.stdout + proc.stderr
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--no-config", "--format=json", *map(str, workflows)],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = [f"{f['ident']}: {f['desc']}" for f in json.loads(proc.stdout or "[]")]
    assert not findings, findings
