from __future__ import annotations

import pytest

from cml_py.metrics.direction import direction_for, infer_direction, matches
from cml_py.model import Direction

H, L = Direction.HIGHER, Direction.LOWER


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("accuracy", H),
        ("eval.acc", H),
        ("val_loss", L),
        ("train.loss", L),
        ("valLoss", L),
        ("test/rmse", L),
        ("latency_p95_ms", L),
        ("inference-time", L),
        ("model.size", L),
        ("peak_memory", L),
        ("error", L),
        ("lossless_ratio", H),
        ("timeliness", H),
        ("roc_auc", H),
        ("mape", L),
        ("val.MSELoss", L),  # an acronym before a camelCase word
        ("BCELoss", L),
        ("NLLLoss", L),
        ("GPUMemoryMB", L),
        ("IOTime", L),
        ("ROCAUC", H),
        ("F1Score", H),
        ("data.ds.latency.psi", L),  # the data stage's measure decides, not the column
        ("data.ds.latency.p_value", H),
        ("data.time_series.rows", H),
        ("data.error_log.columns", H),
        ("data.ds.x.missing", L),
        ("data.loading_time", L),  # a user's own metric under data.: its words decide
    ],
)
def test_infer_direction_by_name_segment(name: str, expected: Direction) -> None:
    assert infer_direction(name) is expected


def test_configured_direction_wins_first_match() -> None:
    overrides = [("metrics.json:custom_loss", H), ("*loss", L), ("score*", L)]
    assert direction_for("metrics.json", "custom_loss", overrides) is H
    assert direction_for("other.json", "custom_loss", overrides) is L
    assert direction_for("m.json", "score_x", overrides) is L
    assert direction_for("m.json", "accuracy", overrides) is H


def test_patterns_match_name_or_file_and_name() -> None:
    assert matches("*loss", "m.json", "train.loss")
    assert matches("m.json:acc", "m.json", "acc")
    assert not matches("n.json:acc", "m.json", "acc")
    assert not matches("acc", "m.json", "eval.acc")
