"""`cml-py gate`: the gate's verdict table; exit 1 when a rule fails."""

from __future__ import annotations

import os

import click

from cml_py.cli.app import CONTEXT, cli
from cml_py.cli.options import (
    Common,
    common_options,
    stderr,
)
from cml_py.errors import EXIT_GATE_FAILED, EXIT_OK
from cml_py.redact import redact


@cli.command(context_settings=CONTEXT)
@common_options
def gate(common: Common) -> int:
    """Check the gate rules of cml.yaml; exit 1 when one fails.

    Prints every rule with the metric's value, main's value, the change, the limit and
    pass/fail/warn. With no `gate:` rules the verdict is pass (report only).

    \b
    Rules (in cml.yaml):
      gate:
        eval.acc: {min: 0.9, max_drop: 0.01}
        "*loss": {max_drop_pct: 5, informational: true}

    \b
    Examples:
      cml-py gate
      cml-py gate --base origin/main || echo "the model got worse"
    """
    from cml_py.job import compare_report

    _, report = compare_report(common.compare(), os.environ, stderr)
    from cml_py.report.text import gate_section, header_lines

    lines = header_lines(report) + gate_section(report)
    click.echo(redact("\n".join(lines)))
    return EXIT_OK if report.gate.passed else EXIT_GATE_FAILED
