"""`cml-py report`: the report as markdown (with its HTML preview), text, JSON or JUnit."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cml_py.model import Report
    from cml_py.report.template_source import TemplateSource

from cml_py.cli.app import CONTEXT, cli
from cml_py.cli.options import (
    Common,
    common_options,
    merge_options,
    not_empty,
    stderr,
)
from cml_py.errors import EXIT_OK
from cml_py.redact import redact


@cli.command(context_settings=CONTEXT)
@common_options
@click.option(
    "-o",
    "--output",
    type=str,
    default=None,
    metavar="PATH",
    help="Where to write; '-' for stdout. Default: report.md/.txt/.json/.xml.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "text", "json", "junit"]),
    default="md",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--template",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A jinja2 template to use instead of templates/report.md.j2 (md only): a file in "
    "the repository, read as main has it (the working tree's copy with --trust-pr-config).",
)
@click.option(
    "--id",
    "report_id",
    callback=not_empty,
    default=None,
    metavar="ID",
    help="Report id in the hidden marker; one sticky comment per id. "
    "Default: cml.yaml report.id, else 'default'.",
)
@click.option("--all", "show_all", is_flag=True, help="Also show unchanged rows.")
@merge_options
@click.option(
    "--charts",
    "charts_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Draw the charts into DIR as PNG files and link them from the report.",
)
def report(
    common: Common,
    output: str | None,
    fmt: str,
    template: Path | None,
    report_id: str | None,
    show_all: bool,
    merge: tuple[Path, ...],
    charts_dir: Path | None,
) -> int:
    """Write the report: markdown for the PR comment, text, JSON or JUnit XML.

    The markdown starts with a hidden marker `<!-- cml-py report id=ID -->`, then the
    verdict, the gate table, the metrics and params that changed (with confidence
    intervals when both sides have predictions), the charts (with --charts), all
    metrics in a collapsed section, and the base and head commits. Files are written
    atomically; beside a markdown file goes its .html preview (the comment rendered the
    way GitHub renders it). The exit code is 0 whatever the gate says; `cml-py gate`
    fails the job.

    \b
    Examples:
      cml-py report -o report.md
      cml-py report -o out/report.md --charts out/charts
      cml-py report --format junit -o gate.xml
      cml-py report --format text -o -
      cml-py report --merge legs/* -o report.md    # one report for matrix legs
    """
    from cml_py.report import DEFAULT_FILES, render_chunks
    from cml_py.trust import template_for

    target = output or DEFAULT_FILES[fmt]
    report_dir = Path.cwd() if target == "-" else Path(target).resolve().parent
    if merge:
        from cml_py import pipeline
        from cml_py.config import check_report_id
        from cml_py.fanin import merge_legs

        settings = pipeline.load_settings(
            common.config_path,
            pipeline.Selection(base=common.base, trust_pr_config=common.trust_pr_config),
            cwd=Path.cwd(),
            env=os.environ,
            require_base=False,
        )
        result = merge_legs(
            merge, report_id=check_report_id(report_id or settings.config.report_id), echo=stderr
        )
        result = dataclasses.replace(result, show_all=show_all)
    else:
        from cml_py.job import compare_report

        settings, result = compare_report(
            common.compare(report_id=report_id, show_all=show_all),
            os.environ,
            stderr,
            charts_dir=charts_dir.resolve() if charts_dir else None,
            report_dir=report_dir,
        )
    source: TemplateSource | None
    if template is not None:
        from cml_py.report.template_source import template_from_flag

        named = template_from_flag(
            template, settings.workspace.root if settings.workspace else None
        )
        source = template_for(settings, named) if isinstance(named, str) else named
    else:
        source = template_for(settings)
    pieces = render_chunks(result, fmt, template=source)  # JSON: a block of rows at a time
    if target == "-":
        for piece in pieces:
            click.echo(redact(piece), nl=False)
    else:
        from cml_py.fsio import write_atomic

        write_atomic(Path(target), pieces)
        click.echo(f"cml-py: wrote {target} ({_verdict_word(result)})", err=True)
        preview = Path(target).with_suffix(".html")
        # The comment as a reviewer will see it, to open locally — beside a report file,
        # not beside /dev/null or a pipe, and never over the report itself.
        if fmt == "md" and Path(target).is_file() and preview != Path(target):
            from cml_py.report.html import render_html

            write_atomic(preview, render_html(Path(target).read_text(encoding="utf-8")))
            click.echo(f"cml-py: wrote {preview} (open it in a browser)", err=True)
    return EXIT_OK


def _verdict_word(report: Report) -> str:
    if not report.gate.checks:
        return "no gate rules"
    return "gate passed" if report.gate.passed else "gate failed"
