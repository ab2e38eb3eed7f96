"""`cml-py publish`: the privileged half of the two-workflow setup."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cml_py.cli.app import CONTEXT, cli
from cml_py.cli.options import (
    config_option,
    not_empty,
    stderr,
    strict_option,
    token_env_option,
)


@cli.command("publish", context_settings=CONTEXT)
@token_env_option
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--id",
    "report_id",
    callback=not_empty,
    default=None,
    metavar="ID",
    help="Report id of the sticky comment and check. Default: cml.yaml report.id.",
)
@strict_option
@config_option("cml.yaml of this checkout (default: the nearest one up to the repo root).")
def publish(
    directory: Path, report_id: str | None, strict: bool | None, config_path: Path | None
) -> int:
    """Publish the report an unprivileged job left in DIR: the safe way for fork PRs.

    \b
    Runs in a `workflow_run` workflow on a checkout of the default branch (never
    the PR), with a write token; DIR is the artifact of the pull request's run
    (`cml-py run --no-publish`). Everything in DIR is untrusted: the comment is
    rendered again from report.json with this checkout's template, the gate is
    judged again with this checkout's cml.yaml, only PNG charts inside DIR are
    published, and the PR and its head commit come from the event, not from DIR.
    A report for a commit that is no longer the PR's head sets the check on that
    commit without replacing the PR's newer comment. Exit code: the gate's.

    \b
    Examples:
      cml-py publish cml-py-report
      cml-py publish artifacts/cml-py-report --id gpu
    """
    from cml_py import pipeline
    from cml_py.config import check_report_id
    from cml_py.publish.artifact import publish_artifact

    settings = pipeline.load_settings(
        config_path,
        pipeline.Selection(base="HEAD"),
        cwd=Path.cwd(),
        env=os.environ,
    )
    return publish_artifact(
        directory,
        settings,
        env=os.environ,
        report_id=check_report_id(report_id) if report_id else None,
        strict=strict,
        echo=stderr,
        emit=click.echo,
    )
