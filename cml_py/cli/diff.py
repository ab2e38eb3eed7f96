"""`cml-py diff`: how metrics and params changed against the base."""

from __future__ import annotations

import os

import click

from cml_py.cli.app import CONTEXT, cli
from cml_py.cli.options import (
    Common,
    common_options,
    stderr,
)
from cml_py.errors import EXIT_OK
from cml_py.redact import redact


@cli.command(context_settings=CONTEXT)
@common_options
@click.option("--all", "show_all", is_flag=True, help="Also show unchanged metrics and params.")
@click.option("--md", "as_md", is_flag=True, help="Print markdown tables.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (NaN/inf as null + a flag).")
def diff(
    common: Common,
    show_all: bool,
    as_md: bool,
    as_json: bool,
) -> int:
    """Show how metrics and params changed against the base.

    Each metric gets main's value, this PR's value, the absolute and relative change and
    a verdict (better, worse, unchanged, added, removed, changed) that respects direction:
    higher is better unless cml.yaml's `direction:` says otherwise or the name marks a
    cost (loss, error, rmse, latency, ...). Unchanged rows are hidden unless --all.

    \b
    Examples:
      cml-py diff
      cml-py diff --base origin/main --all
      cml-py diff --metrics eval/metrics.json --json | jq .metrics
    """
    if as_md and as_json:
        raise click.UsageError("--md and --json cannot be used together")
    from cml_py.job import compare_report

    _, report = compare_report(common.compare(show_all=show_all), os.environ, stderr, gate=False)
    if as_json:
        from cml_py.report.json_out import iter_json

        for piece in iter_json(report, omit=("gate", "verdict")):  # a block of rows at a time
            click.echo(redact(piece), nl=False)
    elif as_md:
        from cml_py.report.diff_only import render_diff_markdown

        click.echo(redact(render_diff_markdown(report)), nl=False)
    else:
        from cml_py.report.text import diff_sections, header_lines, in_blocks

        lines = header_lines(report)[1:] + diff_sections(report)
        while lines and not lines[0]:
            del lines[0]
        for piece in in_blocks(lines):  # never one string of every row
            click.echo(redact(piece), nl=False)
    return EXIT_OK
