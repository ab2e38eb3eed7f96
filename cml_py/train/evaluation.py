"""`cml-py evaluate` as one function: predictions files in, the text or JSON out.

With one file, its metrics; with main's file too, the paired comparison of the two
(see stats.py). Reading is the only I/O; rendering is report/evaluation.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cml_py.errors import CmlError


def evaluate_files(
    predictions: Path,
    base_predictions: Path | None,
    *,
    task: str,
    resamples: int,
    confidence: float,
    seed: int,
    as_json: bool,
) -> str:
    from cml_py.report import evaluation as out
    from cml_py.train.evaluate import evaluate as compute
    from cml_py.train.predictions import NotPaired, read_predictions

    head = read_predictions(predictions, task=task)
    if base_predictions is None:
        values = compute(head)
        if as_json:
            return out.to_json(
                {
                    "source": str(predictions),
                    "task": head.task,
                    "n": head.n,
                    "metrics": out.metric_values(values),
                }
            )
        return out.metrics_text(values, n=head.n, task=head.task, source=str(predictions))
    from cml_py.train.stats import paired_statistics

    base = read_predictions(base_predictions, task=head.task)
    try:
        result = paired_statistics(
            base, head, resamples=resamples, confidence=confidence, seed=seed
        )
    except NotPaired as exc:
        raise CmlError(f"{base_predictions} and {predictions} cannot be paired: {exc}") from None
    if as_json:
        return out.to_json(
            {
                "task": head.task,
                "n": result.n,
                "base": out.metric_values(result.base),
                "head": out.metric_values(result.head),
                "stats": {name: out.stat_dict(stat) for name, stat in result.stats.items()},
                "untestable": result.untestable,
            }
        )
    text = out.paired_text(
        result.base,
        result.head,
        result.stats,
        n=result.n,
        task=head.task,
        confidence=confidence,
        resamples=resamples,
    )
    return text + "".join(_untestable_lines(result.untestable, result.stats))


def _untestable_lines(untestable: dict[str, str], stats: Mapping[str, object]) -> list[str]:
    """One line per reason some metrics have no interval (a reason may quote a class
    label, the PR's text: kept on its line and unable to pass for a workflow command)."""
    from cml_py.terminal import one_line

    lines = []
    for reason in sorted(set(untestable.values())):
        names = [name for name, why in untestable.items() if why == reason]
        which = "no intervals" if not stats else f"no interval for {', '.join(names)}"
        lines.append(one_line(f"{which}: {reason}").replace("::", ":\u200b:") + "\n")
    return lines
