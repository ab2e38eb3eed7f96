"""`cml-py demo`: the whole job on a built-in example."""

from __future__ import annotations

from pathlib import Path

import click

from cml_py.cli.app import CONTEXT, cli


@cli.command(context_settings=CONTEXT)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("cml-demo"),
    show_default=True,
    help="Directory for the demo's report.",
)
@click.option("--fail", "fail", is_flag=True, help="Make the PR regress so the gate fails.")
@click.option(
    "--dvc",
    "dvc",
    is_flag=True,
    help="The same as a DVC project: dvc repro, main's numbers from a local DVC remote, "
    "dvc.yaml's plots as charts (needs cml-py[dvc]).",
)
def demo(output: Path, fail: bool, dvc: bool) -> int:
    """Run the whole job on a built-in example, offline.

    Creates a temporary git repository holding a small scikit-learn project, with a
    baseline model on `main` and a feature branch that changes the model; trains both,
    compares them with paired statistics, gates, draws the charts and leaves the report
    in ./cml-demo/: report.md, the chart PNGs and report.html (the comment rendered the
    way GitHub renders it). With --fail the branch regresses and the gate fails (exit 1).

    \b
    Examples:
      cml-py demo
      cml-py demo --fail; echo "exit code $?"
      cml-py demo --dvc
    """
    from cml_py.demo import run_demo

    return run_demo(output, fail=fail, echo=lambda s: click.echo(s, err=True), dvc=dvc)
