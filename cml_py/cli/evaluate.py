"""`cml-py evaluate`: metrics of a predictions file; with --base, the paired comparison."""

from __future__ import annotations

from pathlib import Path

import click

from cml_py.cli.app import CONTEXT, cli
from cml_py.errors import EXIT_OK
from cml_py.redact import redact


@cli.command(context_settings=CONTEXT)
@click.argument("predictions", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--base",
    "base_predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="main's predictions on the same rows: adds the paired comparison.",
)
@click.option(
    "--task",
    type=click.Choice(["auto", "classification", "regression"]),
    default="auto",
    show_default=True,
    help="What the predictions are.",
)
@click.option(
    "--resamples",
    type=click.IntRange(100, 100_000),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the confidence intervals.",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Confidence level of the intervals.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),  # as cml.yaml's evaluate.seed: numpy's seeds are >= 0
    default=0,
    show_default=True,
    help="Seed of the bootstrap (results are reproducible).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(
    predictions: Path,
    base_predictions: Path | None,
    task: str,
    resamples: int,
    confidence: float,
    seed: int,
    as_json: bool,
) -> int:
    """Compute metrics from a predictions CSV; with --base, whether the change is real.

    \b
    The CSV has columns y_true, y_pred, optionally id, and for classifiers one
    proba_<class> column per class. Classification: accuracy, balanced accuracy,
    precision/recall/F1 (macro, weighted, per class), ROC AUC, average precision and log
    loss (with scores). Regression: RMSE, MAE, R², MAPE (over non-zero targets).

    \b
    With --base, both sides must predict the same rows (matched by id, else by
    position). Each metric's change gets a confidence interval and a p-value from one
    procedure, and is significant exactly when the interval excludes 0: accuracy by
    McNemar's score test, binary ROC AUC by DeLong's, the rest by the standard error of
    a paired bootstrap.

    \b
    Examples:
      cml-py evaluate predictions.csv
      cml-py evaluate predictions.csv --base main-predictions.csv
      cml-py evaluate out/predictions.csv --json | jq .metrics.accuracy
    """
    from cml_py.train.evaluation import evaluate_files

    text = evaluate_files(
        predictions,
        base_predictions,
        task=task,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        as_json=as_json,
    )
    click.echo(redact(text), nl=False)
    return EXIT_OK
