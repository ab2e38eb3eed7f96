"""`cml-py status`: the check (run or commit status) from the gate."""

from __future__ import annotations

import os

import click

from cml_py.cli.app import CONTEXT, cli
from cml_py.cli.options import (
    Common,
    common_options,
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
    "--id",
    "report_id",
    callback=not_empty,
    default=None,
    metavar="ID",
    help="Report id; the check is named cml-py (default id) or cml-py (ID).",
)
@strict_option
def status(
    common: Common,
    report_id: str | None,
    strict: bool | None,
) -> int:
    """Set the check from the gate: a GitHub check run (or commit status), a GitLab
    commit status.

    \b
    The check's summary is the report. In GitHub Actions it also writes the step
    output `verdict` and prints ::error/::warning annotations for failed and warned
    gate rules (at most 10 of each). The exit code is 0 whatever the gate says;
    `cml-py gate` fails the job.

    \b
    Examples:
      cml-py status
      cml-py status --id gpu --strict
    """
    from cml_py.job import compare_report
    from cml_py.publish import flows
    from cml_py.publish.context import detect

    loaded, result = compare_report(common.compare(report_id=report_id), os.environ, stderr)
    config = loaded.config
    outcome = flows.publish_verdict(detect(os.environ), result, echo=stderr, emit=click.echo)
    if outcome.url:
        stderr(
            f"set the {outcome.url} {flows.status_name(result.id)}: "
            f"{'success' if result.gate.passed else 'failure'}"
        )
    flows.finish(outcome, strict=config.publish.strict if strict is None else strict, echo=stderr)
    return EXIT_OK
