"""`cml-py init`: a commented cml.yaml and the CI file for the repository's forge.

Files come from templates/ (shipped in the wheel). Nothing that exists is overwritten
without --force, and nothing is written at all when one file is in the way, so a
half-initialised repository never happens. .gitignore is only ever appended to.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cml_py.errors import CmlError
from cml_py.fsio import write_atomic
from cml_py.git import Git
from cml_py.resources import templates_dir

IGNORED = (".cml-py/", "cml-py-report/")
GITLAB_INCLUDE = "include:\n  - local: .gitlab/cml-py.gitlab-ci.yml\n"


def detect_forge(root: Path) -> str:
    """GitLab when the repository looks like one (CI file or remote), else GitHub."""
    if (root / ".gitlab-ci.yml").exists():
        return "gitlab"
    if (root / ".github").is_dir():
        return "github"
    proc = Git(root).run("remote", "get-url", "origin", check=False)
    remote = proc.stdout.decode("utf-8", "replace").lower()
    return "gitlab" if "gitlab" in remote else "github"


def planned_files(root: Path, forge: str) -> dict[Path, str]:
    templates = templates_dir()
    files = {root / "cml.yaml": (templates / "init" / "cml.yaml").read_text(encoding="utf-8")}
    if forge == "github":
        files[root / ".github" / "workflows" / "cml-py.yml"] = (
            templates / "init" / "github-workflow.yml"
        ).read_text(encoding="utf-8")
    else:
        files[root / ".gitlab" / "cml-py.gitlab-ci.yml"] = (
            templates / "gitlab" / "cml-py.gitlab-ci.yml"
        ).read_text(encoding="utf-8")
        if not (root / ".gitlab-ci.yml").exists():
            files[root / ".gitlab-ci.yml"] = GITLAB_INCLUDE
    return files


def init_project(
    root: Path, forge: str | None, *, force: bool, echo: Callable[[str], None]
) -> list[Path]:
    forge = forge or detect_forge(root)
    files = planned_files(root, forge)
    existing = [p for p in files if p.exists()]
    if existing and not force:
        names = ", ".join(str(p.relative_to(root)) for p in existing)
        raise CmlError(
            f"{names} already exist{'s' if len(existing) == 1 else ''}; "
            "nothing was written (pass --force to overwrite)"
        )
    for path, text in files.items():
        write_atomic(path, text)
        echo(f"wrote {path.relative_to(root)}")
    _ignore_outputs(root, echo)
    if (
        forge == "gitlab"
        and (root / ".gitlab-ci.yml").exists()
        and (root / ".gitlab-ci.yml") not in files
    ):
        echo("add this to .gitlab-ci.yml:\n" + GITLAB_INCLUDE.rstrip())
    token = (
        "GITHUB_TOKEN (automatic; the workflow's permissions: block is set)"
        if forge == "github"
        else "a CI/CD variable CML_PY_TOKEN: a project access token with the api scope"
    )
    echo(f"next: edit cml.yaml, commit, and open a merge request. Token: {token}")
    return list(files)


def _ignore_outputs(root: Path, echo: Callable[[str], None]) -> None:
    path = root / ".gitignore"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    missing = [entry for entry in IGNORED if entry not in current.splitlines()]
    if missing:
        prefix = "" if not current or current.endswith("\n") else "\n"
        write_atomic(path, current + prefix + "\n".join(missing) + "\n")
        echo(f"added {', '.join(missing)} to .gitignore")
