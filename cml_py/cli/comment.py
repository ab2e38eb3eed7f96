"""`cml-py comment`: the sticky PR/MR comment, with its images."""

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
from cml_py.errors import EXIT_OK


@cli.command(context_settings=CONTEXT)
@token_env_option
@click.argument("report_file", metavar="REPORT.md", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--target",
    default=None,
    metavar="WHERE",
    help="auto (this run's PR/MR, else its commit), pr, commit, pr/N, issue/N or "
    "commit/SHA. Default: auto. (Only the CI event or this flag chooses where the "
    "comment goes, never a file the PR can change.)",
)
@click.option(
    "--id",
    "report_id",
    callback=not_empty,
    default=None,
    metavar="ID",
    help="Report id of the sticky comment. Default: the id in the report's marker.",
)
@click.option(
    "--mode",
    type=click.Choice(["update", "new", "recreate"]),
    default=None,
    help="update: edit this report's comment (default); new: always post; "
    "recreate: delete it and post again, so watchers are notified.",
)
@click.option(
    "--images",
    type=click.Choice(["auto", "none"]),
    default=None,
    help="auto: publish local images on the forge; none: replace them with their data tables.",
)
@click.option(
    "--assets-branch",
    default=None,
    metavar="BRANCH",
    help="GitHub: the orphan branch that holds the images (default cml-py-assets).",
)
@click.option(
    "--local-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Without CI: where the report and its images go (default cml-py-report).",
)
@strict_option
@config_option("cml.yaml to read publish: settings from.")
def comment(
    report_file: Path,
    target: str | None,
    report_id: str | None,
    mode: str | None,
    images: str | None,
    assets_branch: str | None,
    local_dir: Path | None,
    strict: bool | None,
    config_path: Path | None,
) -> int:
    """Post REPORT.md as the sticky comment on the pull/merge request.

    \b
    One comment per report id: a re-run edits it instead of posting again. Local
    images the report links (markdown or <img>, inside <details> too) are published —
    GitHub: committed to an orphan branch and linked pinned to that commit; GitLab:
    the project uploads API — and a report over the forge's size limit is shrunk
    (collapsed sections first, then table rows) rather than rejected.

    \b
    Token: CML_PY_TOKEN, else GITHUB_TOKEN / GITLAB_TOKEN (CI_JOB_TOKEN cannot post on
    GitLab). Without CI the report and images are copied to --local-dir.

    \b
    Examples:
      cml-py comment report.md
      cml-py comment report.md --mode recreate --id nightly
      cml-py comment report.md --target pr/42 --images none
    """
    from cml_py import pipeline
    from cml_py.config import check_assets_branch, check_report_id
    from cml_py.publish import flows
    from cml_py.publish.context import detect

    loaded = pipeline.load_settings(
        config_path, pipeline.Selection(), cwd=Path.cwd(), env=os.environ, require_base=False
    )
    config = loaded.config
    settings = config.publish
    options = flows.CommentOptions(
        target=target or "auto",
        report_id=check_report_id(report_id) if report_id else None,
        mode=mode or settings.mode,
        images=images or settings.images,
        assets_branch=check_assets_branch(assets_branch)
        if assets_branch
        else settings.assets_branch,
        strict=settings.strict if strict is None else strict,
        local_dir=local_dir or config.root / settings.local_dir,
    )
    ctx = detect(os.environ)
    echo = stderr
    outcome = flows.publish_comment(report_file, ctx, options, echo)
    if outcome.local_path is not None:
        echo(f"no CI detected: wrote {os.path.relpath(outcome.local_path)} with its images")
    if outcome.url:
        click.echo(outcome.url)
    flows.finish(outcome, strict=options.strict, echo=echo)
    return EXIT_OK
