"""What .github/workflows/release.yml uploads: an sdist and a wheel that twine accepts,
carrying the version, the templates and the type information users rely on."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import yaml

from cml_py import __version__
from tests.ci_files import ROOT


def test_the_release_builds_and_passes_twine_check(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = tmp_path / f"cml_py-{__version__}-py3-none-any.whl"
    sdist = tmp_path / f"cml_py-{__version__}.tar.gz"
    assert wheel.is_file() and sdist.is_file(), sorted(p.name for p in tmp_path.iterdir())
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "cml_py/py.typed",
        "cml_py/templates/report.md.j2",
        "cml_py/templates/init/cml.yaml",
        "cml_py/templates/init/github-cml-py.yml",
        "cml_py/templates/init/github-cml-py-publish.yml",
        "cml_py/templates/gitlab/cml-py.gitlab-ci.yml",
    } <= names
    assert not any(name.startswith("tests/") for name in names)
    with tarfile.open(sdist) as archive:
        assert f"cml_py-{__version__}/README.md" in archive.getnames()


def test_the_release_workflow_publishes_only_a_tag_that_matches_the_version() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/release.yml").read_text())
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # `on:` is YAML 1.1's True
    jobs = workflow["jobs"]
    assert jobs["pypi"]["permissions"] == {"id-token": "write"}  # trusted publishing only
    assert jobs["pypi"]["environment"]["name"] == "pypi"
    assert jobs["pypi"]["needs"] == "build" and jobs["github-release"]["needs"] == "pypi"
    build = "\n".join(step.get("run", "") for step in jobs["build"]["steps"])
    assert "twine check --strict" in build and '"v$version"' in build
