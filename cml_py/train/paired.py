"""Paired statistics attached to the metrics cml-py computed from both sides' predictions:
intervals, p-values and the note that says how they were made."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cml_py.config import Config, EvaluateConfig
from cml_py.model import (
    DiffRow,
    StatsSummary,
)
from cml_py.trust import Workspace

if TYPE_CHECKING:
    from cml_py.artifacts import Artifacts


def with_statistics(
    config: Config, ws: Workspace, artifacts: Artifacts, rows: tuple[DiffRow, ...], notes: list[str]
) -> tuple[tuple[DiffRow, ...], StatsSummary | None]:
    """Intervals, p-values and tests for the metrics cml-py computed from predictions —
    or, for each of them, why there are none (a `significant: true` rule says so)."""
    head, base = artifacts.head_predictions, artifacts.base_predictions
    if head is None or artifacts.metrics_path is None:
        return rows, None
    settings = config.evaluate
    metrics_path = artifacts.metrics_path
    repeats = (1 + len(artifacts.base_seeds), 1 + len(artifacts.head_seeds))

    def untestable(reason: str) -> tuple[tuple[DiffRow, ...], StatsSummary]:
        marked = tuple(
            row._replace(untestable=reason) if row.path == metrics_path else row for row in rows
        )
        summary = StatsSummary(
            repeats=repeats,
            confidence=settings.confidence,
            resamples=settings.resamples,
            unpaired=reason,
        )
        return marked, summary

    if base is None:
        notes.append(
            f"{ws.base.name} has no {artifacts.predictions_path}, so changes are "
            "shown without confidence intervals."
        )
        return untestable(f"{ws.base.name} has no predictions to compare with")
    from cml_py.train.predictions import NotPaired
    from cml_py.train.stats import paired_statistics

    try:
        result = paired_statistics(
            [base, *artifacts.base_seeds],
            [head, *artifacts.head_seeds],
            resamples=settings.resamples,
            confidence=settings.confidence,
            seed=settings.seed,
        )
    except NotPaired as exc:
        notes.append(
            f"No confidence intervals: {exc}; paired statistics need both sides' "
            "predictions on the same test rows."
        )
        return untestable(str(exc))
    if not result.stats and result.untestable:  # too few rows for any of them
        reason = next(iter(result.untestable.values()))
        notes.append(f"No confidence intervals: {reason}.")
        return untestable(reason)
    notes.append(_statistics_note(result.n, result.repeats, settings))
    attached = tuple(
        (
            row._replace(stat=result.stats[row.name])
            if row.name in result.stats
            else row._replace(untestable=result.untestable.get(row.name, row.untestable))
        )
        if row.path == metrics_path
        else row
        for row in rows
    )
    summary = StatsSummary(
        rows=result.n,
        repeats=result.repeats,
        confidence=settings.confidence,
        resamples=settings.resamples,
    )
    return attached, summary


def _statistics_note(n: int, repeats: tuple[int, int], settings: EvaluateConfig) -> str:
    pct = f"{settings.confidence * 100:g}%"
    text = (
        f"Intervals: {pct}, over the {n:,} test rows both sides predicted; each metric's "
        "interval, p-value and verdict come from one procedure, so they agree"
    )
    if repeats == (1, 1):
        return text + (
            " (accuracy: McNemar's score test; binary ROC AUC: DeLong's; the rest: the "
            f"standard error of a {settings.resamples:,}-resample paired bootstrap). One "
            "seed per side: both models are taken as they are, so on a large test set a "
            "change of seed alone can look significant (train.repeats adds the seeds' spread)."
        )
    return text + (
        f" (a t-test whose variance adds the spread between seeds — main {repeats[0]}, "
        f"this PR {repeats[1]} — to the test rows', from a {settings.resamples:,}-resample "
        "paired bootstrap)."
    )
