"""`cml-py init`: cml.yaml and the CI files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cml_py.cli.app import CONTEXT, cli
from cml_py.cli.options import (
    stderr,
)
from cml_py.errors import EXIT_OK, CmlError


@cli.command(context_settings=CONTEXT)
@click.option("--github", "forge", flag_value="github", help="Write the GitHub Actions workflows.")
@click.option("--gitlab", "forge", flag_value="gitlab", help="Write the GitLab CI job.")
@click.option(
    "--single-workflow",
    is_flag=True,
    help="GitHub: one workflow that trains and posts in the same job, instead of two. "
    "Only for private repositories where every pull request author has write access.",
)
@click.option("--force", is_flag=True, help="Overwrite CI files that already exist.")
@click.option(
    "--force-config", is_flag=True, help="Also replace an existing cml.yaml with the template."
)
@click.option(
    "--train-command",
    metavar="CMD",
    default=None,
    help="The command that trains your model (default: asked for when a training script "
    "is found and the terminal is interactive, else `python <script>`).",
)
def init(
    forge: str | None,
    single_workflow: bool,
    force: bool,
    force_config: bool,
    train_command: str | None,
) -> int:
    """Start using cml-py here: a cml.yaml that fits this repository, and the CI files.

    \b
    It looks first and prints what it found: a DVC project (dvc.yaml) gets a minimal
    cml.yaml that runs `dvc repro`, with gate suggestions for the declared metrics; a
    training script with metrics/params files gets train.command and those outputs
    (--train-command, else asked on a terminal); metrics files without a script are
    compared as the job leaves them; an empty repository gets the built-in example,
    labelled as such.

    \b
    GitHub (two workflows, safe for public repositories and forks):
      .github/workflows/cml-py.yml          on pull_request: runs the PR's code with a
                                            read-only token, uploads the report
      .github/workflows/cml-py-publish.yml  on workflow_run: the default branch's code
                                            with a write token posts that report
      --single-workflow writes only cml-py.yml, training and posting in one job.
    GitLab: .gitlab/cml-py.gitlab-ci.yml, included from .gitlab-ci.yml.
    Every action is pinned to a commit and every job gets only the permissions it
    needs (docs/ci-setup.md). The forge is detected from the repository (CI files,
    the origin remote) unless --github or --gitlab is given. An existing cml.yaml is
    kept (--force-config replaces it), so running init again for another forge only
    adds its CI files. Existing CI files are never overwritten without --force, and
    nothing is written when one is in the way; .cml-py/ and cml-py-report/ are added
    to .gitignore. Run it inside a git repository.

    \b
    Examples:
      cml-py init
      cml-py init --github --single-workflow
      cml-py init --gitlab
      cml-py init --train-command "python src/train.py --epochs 5"
      cml-py init --force && cml-py run --dry-run
    """
    from cml_py.config import find_repo_root
    from cml_py.init import init_project

    root = find_repo_root(Path.cwd())
    if root is None:
        raise CmlError(
            f"{Path.cwd()}: not inside a git repository; run `git init` (or clone your "
            "project) first — cml-py compares pull requests with a base branch"
        )
    ask = None
    if sys.stdin.isatty():

        def ask(prompt: str, default: str) -> str:
            return click.prompt(prompt, default=default, err=True)

    init_project(
        root,
        forge,
        force=force,
        echo=stderr,
        single_workflow=single_workflow,
        force_config=force_config,
        train_command=train_command,
        ask=ask,
        show=lambda text: click.echo(text, err=True),  # a snippet of ours, to paste
    )
    return EXIT_OK
