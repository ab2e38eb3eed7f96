"""`cml-py run`: the whole CI job."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cml_py.cli.app import CONTEXT, cli
from cml_py.cli.options import (
    Common,
    common_options,
    merge_options,
    not_empty,
    stderr,
    strict_option,
    token_env_option,
)
from cml_py.errors import EXIT_OK


@cli.command(context_settings=CONTEXT)
@common_options
@token_env_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("cml-py-report"),
    show_default=True,
    help="Directory for report.md, report.json, gate.xml, metrics.txt and charts/.",
)
@click.option(
    "--id",
    "report_id",
    callback=not_empty,
    default=None,
    metavar="ID",
    help="Report id: one sticky comment and one check per id.",
)
@click.option(
    "--skip-train",
    is_flag=True,
    help="Use the outputs already in train.output_dir instead of training.",
)
@click.option("--no-charts", is_flag=True, help="Do not draw charts.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Do everything except talking to the forge; write what would be posted.",
)
@click.option(
    "--no-publish",
    is_flag=True,
    help="Stop after writing the report (for matrix legs merged later).",
)
@merge_options
@click.option("--target", default=None, metavar="WHERE", help="As for `cml-py comment`.")
@click.option(
    "--mode",
    type=click.Choice(["update", "new", "recreate"]),
    default=None,
    help="As for `cml-py comment`.",
)
@click.option(
    "--images", type=click.Choice(["auto", "none"]), default=None, help="As for `cml-py comment`."
)
@strict_option
@click.option("--all", "show_all", is_flag=True, help="Also show unchanged rows.")
def run(
    common: Common,
    out: Path,
    report_id: str | None,
    skip_train: bool,
    no_charts: bool,
    dry_run: bool,
    no_publish: bool,
    merge: tuple[Path, ...],
    target: str | None,
    mode: str | None,
    images: str | None,
    strict: bool | None,
    show_all: bool,
) -> int:
    """The whole CI job: train, compare with main, gate, charts, report, publish.

    \b
    Stages: train (when cml.yaml has train:) → compare (re-training main when the
    baseline strategy says so) → gate → charts → report → publish (the sticky
    comment with its images, the check, the job summary). Progress and timings go
    to stderr; the exit code is the gate's: 0 passed, 1 failed (2 bad input,
    3 service failure, 4 bug). Without CI, or with --dry-run, nothing is posted
    and the report stays in --out.

    \b
    Examples:
      cml-py run
      cml-py run --dry-run --out /tmp/report
      cml-py run --no-publish --out legs/gpu      # a matrix leg
      cml-py run --merge legs/*                   # the fan-in job
    """
    from cml_py.job import JobOptions, run_job

    options = JobOptions(
        config_path=common.config_path,
        base=common.base,
        metrics=common.metrics,
        params=common.params,
        trust_pr_config=common.trust_pr_config,
        out=out,
        report_id=report_id,
        skip_train=skip_train,
        charts=not no_charts,
        publish=not no_publish,
        dry_run=dry_run,
        strict=strict,
        target=target,
        mode=mode,
        images=images,
        show_all=show_all,
        merge=merge,
    )
    result = run_job(options, os.environ, echo=stderr)
    icon = "✅" if result.exit_code == EXIT_OK else "❌"
    parts = [
        f"{icon} gate {'passed' if result.exit_code == EXIT_OK else 'failed'}",
        os.path.relpath(result.report_path),
    ]
    if result.comment_url:
        parts.append(result.comment_url)
    stderr(" — ".join(parts))
    return result.exit_code
