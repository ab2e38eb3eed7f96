"""Per-model work in threads: the same results, in the same order, as a loop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cml_py.train import cores, stats
from cml_py.train.stats import paired_statistics
from tests.test_stats import binary_pair, preds


def test_results_keep_the_models_order_and_use_worker_threads_when_asked() -> None:
    def work(i: int) -> tuple[int, str]:
        np.sort(np.random.default_rng(i).random(200_000))  # releases the GIL
        return i * i, threading.current_thread().name

    serial = cores.each_model(work, range(4), parallel=False)
    threaded = cores.each_model(work, range(4), parallel=True)
    assert [r for r, _ in serial] == [r for r, _ in threaded] == [0, 1, 4, 9]
    assert {name for _, name in serial} == {threading.current_thread().name}
    if cores.usable_cores() >= 2:
        assert threading.current_thread().name not in {name for _, name in threaded}


def test_an_error_in_any_model_is_raised_to_the_caller() -> None:
    def work(i: int) -> int:
        if i == 1:
            raise ValueError("model 1 is broken")
        return i

    with pytest.raises(ValueError, match="model 1 is broken"):
        cores.each_model(work, [0, 1, 2], parallel=True)


def test_one_model_or_one_core_runs_in_the_calling_thread() -> None:
    names = cores.each_model(lambda _: threading.current_thread().name, [0], parallel=True)
    assert names == [threading.current_thread().name]


def test_paired_statistics_are_identical_with_and_without_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above PARALLEL_ROWS each side's score sort and metrics run in a thread of their
    own; every number must be exactly what the serial loop gives."""
    n = stats.PARALLEL_ROWS + 7
    y, s_b, s_h = binary_pair(n, seed=3, shift=0.02)
    base, head = preds(y, s_b, "base"), preds(y, s_h, "head")
    threaded = paired_statistics(base, head, resamples=200, seed=5)
    monkeypatch.setattr(stats, "PARALLEL_ROWS", n + 1)
    serial = paired_statistics(base, head, resamples=200, seed=5)
    assert threaded == serial
    assert threaded.stats["roc_auc"].ci_low < threaded.stats["roc_auc"].ci_high
