"""`cml-py init`: a commented cml.yaml and the CI files for the repository's forge.

Files come from templates/ (shipped in the wheel). Nothing that exists is overwritten
without --force, and nothing is written at all when one file is in the way, so a
half-initialised repository never happens. An existing cml.yaml is the user's work: it is
kept (so `init --gitlab` after `init --github` only adds the GitLab file) and replaced
only with --force-config. .gitignore is only ever appended to.

On GitHub the default is the safe split into two workflows: `cml-py.yml` runs the pull
request's code with a read-only token and uploads the report as an artifact;
`cml-py-publish.yml` runs the default branch's code on `workflow_run` with a write
token and publishes that artifact without ever checking out the pull request. The
one-workflow setup (`single_workflow`) puts the pull request's code and a write token
in one job, which is acceptable only where every pull request author already has write
access, so it is opt-in.
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
WORKFLOWS = Path(".github") / "workflows"
PR_WORKFLOW = WORKFLOWS / "cml-py.yml"
PUBLISH_WORKFLOW = WORKFLOWS / "cml-py-publish.yml"

# repository path -> template under templates/, per setup
GITHUB_FILES: dict[str, dict[Path, str]] = {
    "split": {
        PR_WORKFLOW: "init/github-cml-py.yml",
        PUBLISH_WORKFLOW: "init/github-cml-py-publish.yml",
    },
    "single": {PR_WORKFLOW: "init/github-single-workflow.yml"},
}

NEXT_STEPS = {
    "split": (
        "next: edit cml.yaml, commit it and both workflows to the default branch, then open "
        "a pull request. cml-py-publish.yml only runs once it is on the default branch. "
        "Token: GITHUB_TOKEN (automatic; the pull request job is read-only, the publish "
        "job asks for what posting needs)"
    ),
    "single": (
        "next: edit cml.yaml, commit, and open a pull request. Token: GITHUB_TOKEN "
        "(automatic). One workflow runs pull request code with a write token: keep it to "
        "private repositories where every pull request author has write access"
    ),
    "gitlab": (
        "next: edit cml.yaml, commit, and open a merge request. Token: a masked CI/CD "
        "variable CML_PY_TOKEN (protected where your flow allows): a project access token "
        "with the api scope"
    ),
}


def detect_forge(root: Path) -> str:
    """GitLab when the repository looks like one (CI file or remote), else GitHub."""
    if (root / ".gitlab-ci.yml").exists():
        return "gitlab"
    if (root / ".github").is_dir():
        return "github"
    proc = Git(root).run("remote", "get-url", "origin", check=False)
    remote = proc.stdout.decode("utf-8", "replace").lower()
    return "gitlab" if "gitlab" in remote else "github"


def setup_name(forge: str, single_workflow: bool) -> str:
    """Which set of CI files: `split` (GitHub default), `single` or `gitlab`."""
    if forge == "gitlab":
        if single_workflow:
            raise CmlError(
                "--single-workflow is for GitHub Actions; the GitLab template is one file "
                "already (use --github, or drop --single-workflow)"
            )
        return "gitlab"
    return "single" if single_workflow else "split"


def planned_files(root: Path, setup: str) -> dict[Path, str]:
    """Every file `init` writes for `setup`, with its content, before anything is written."""
    templates = templates_dir()
    files = {root / "cml.yaml": (templates / "init" / "cml.yaml").read_text(encoding="utf-8")}
    if setup == "gitlab":
        files[root / ".gitlab" / "cml-py.gitlab-ci.yml"] = (
            templates / "gitlab" / "cml-py.gitlab-ci.yml"
        ).read_text(encoding="utf-8")
        if not (root / ".gitlab-ci.yml").exists():
            files[root / ".gitlab-ci.yml"] = GITLAB_INCLUDE
    else:
        for target, template in GITHUB_FILES[setup].items():
            files[root / target] = (templates / template).read_text(encoding="utf-8")
    return files


def init_project(
    root: Path,
    forge: str | None,
    *,
    force: bool,
    echo: Callable[[str], None],
    single_workflow: bool = False,
    force_config: bool = False,
) -> list[Path]:
    """Write the planned files (all or none), extend .gitignore, and say what comes next."""
    setup = setup_name(forge or detect_forge(root), single_workflow)
    files = planned_files(root, setup)
    config = root / "cml.yaml"
    keep_config = (config.exists() or (root / "cml.yml").exists()) and not force_config
    if keep_config:
        del files[config]
    existing = [p for p in files if p.exists() and p != config]
    if existing and not force:
        names = ", ".join(str(p.relative_to(root)) for p in existing)
        raise CmlError(
            f"{names} already exist{'s' if len(existing) == 1 else ''}; "
            "nothing was written (pass --force to overwrite)"
        )
    if keep_config:
        echo("kept the existing cml.yaml (--force-config replaces it)")
    for path, text in files.items():
        write_atomic(path, text)
        echo(f"wrote {path.relative_to(root)}")
    _ignore_outputs(root, echo)
    if setup == "single" and (root / PUBLISH_WORKFLOW).exists():
        # Never deleted for the user, but left alone it would post every report twice.
        echo(
            f"{PUBLISH_WORKFLOW} is still there from the two-workflow setup: delete it, "
            "or it posts each report a second time"
        )
    if (
        setup == "gitlab"
        and (root / ".gitlab-ci.yml").exists()
        and (root / ".gitlab-ci.yml") not in files
    ):
        echo("add this to .gitlab-ci.yml:\n" + GITLAB_INCLUDE.rstrip())
    echo(NEXT_STEPS[setup])
    return list(files)


def _ignore_outputs(root: Path, echo: Callable[[str], None]) -> None:
    path = root / ".gitignore"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    missing = [entry for entry in IGNORED if entry not in current.splitlines()]
    if missing:
        prefix = "" if not current or current.endswith("\n") else "\n"
        write_atomic(path, current + prefix + "\n".join(missing) + "\n")
        echo(f"added {', '.join(missing)} to .gitignore")
