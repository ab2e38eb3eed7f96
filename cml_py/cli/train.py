"""`cml-py train`: train as cml.yaml's `train:` says."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cml_py.cli.app import CONTEXT, cli
from cml_py.cli.options import (
    config_option,
    not_empty,
    stderr,
)
from cml_py.errors import EXIT_OK


@cli.command(context_settings=CONTEXT)
@config_option()
@click.option(
    "--repeats",
    type=click.IntRange(1, 100),
    default=None,
    help="Seeds to train (default: train.repeats, else 1).",
)
# Hidden: the baseline re-run (baseline/rerun.py) trains main's merge-base in a worktree
# and names that commit, so that the commit's own cml.yaml says where its training writes
# rather than the tip of the base branch (whose train.outputs may not fit the older code).
@click.option("--base", "base", metavar="REV", callback=not_empty, hidden=True)
def train(config_path: Path | None, repeats: int | None, base: str | None = None) -> int:
    """Train the model as cml.yaml's `train:` says and write the outputs directory.

    \b
    train.sklearn  the built-in trainer: a dataset (CSV, Parquet or sklearn:NAME),
                   a target, a model import path with params, a split.
    train.command  your own command; cml-py streams its output, enforces
                   train.timeout, and collects train.outputs.

    \b
    The outputs directory (train.output_dir, default .cml-py/out) receives
    metrics.json, params.json, predictions.csv (id, y_true, y_pred, proba_<class>),
    feature_importance.csv and, with save_model, model.joblib. It is replaced only
    when training succeeds. With train.repeats (or --repeats) N, the model is
    trained with N seeds on the same test rows: metrics.json holds their means and
    replicates/ the other seeds' predictions (a command gets CML_PY_SEED=0..N-1).

    \b
    Examples:
      cml-py train
      cml-py train --config models/cml.yaml && cml-py report -o report.md
    """
    from cml_py import pipeline
    from cml_py.train.runner import train as run_training

    settings = pipeline.load_settings(
        config_path,
        pipeline.Selection(base=base),
        cwd=Path.cwd(),
        env=os.environ,
        require_base=False,
    )
    run_training(settings.config, echo=stderr, repeats=repeats)
    return EXIT_OK
