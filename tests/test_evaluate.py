"""Evaluation metrics checked against scikit-learn's own functions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from cml_py.errors import CmlError
from cml_py.train.evaluate import evaluate, nest
from cml_py.train.predictions import infer_task, predictions_from_frame, read_predictions


def classification_frame(
    n: int, k: int, seed: int, labels=None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    proba[np.arange(n), y] += rng.uniform(0, 0.8, n)
    proba = np.round(proba / proba.sum(axis=1, keepdims=True), 3)  # rounding makes ties
    proba = proba / proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    names = labels or list(range(k))
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "y_true": [names[i] for i in y],
            "y_pred": [names[i] for i in pred],
            **{f"proba_{names[c]}": proba[:, c] for c in range(k)},
        }
    )
    return frame, y, pred, proba


@pytest.mark.parametrize(("k", "labels"), [(2, None), (3, None), (4, ["cat", "dog", "eel", "fox"])])
def test_classification_metrics_match_sklearn(k: int, labels) -> None:
    frame, y, pred, proba = classification_frame(3000, k, seed=k, labels=labels)
    got = evaluate(predictions_from_frame(frame, "p.csv"))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    for avg in ("macro", "weighted"):
        assert got[f"precision_{avg}"] == pytest.approx(
            skm.precision_score(y, pred, average=avg, zero_division=0)
        )
        assert got[f"recall_{avg}"] == pytest.approx(
            skm.recall_score(y, pred, average=avg, zero_division=0)
        )
        assert got[f"f1_{avg}"] == pytest.approx(
            skm.f1_score(y, pred, average=avg, zero_division=0)
        )
    per_class = skm.precision_recall_fscore_support(y, pred, zero_division=0)
    names = labels or [str(i) for i in range(k)]
    for i, name in enumerate(names):
        assert got[f"per_class.{name}.precision"] == pytest.approx(per_class[0][i])
        assert got[f"per_class.{name}.recall"] == pytest.approx(per_class[1][i])
        assert got[f"per_class.{name}.f1"] == pytest.approx(per_class[2][i])
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    if k == 2:
        assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
        assert got["average_precision"] == pytest.approx(
            skm.average_precision_score(y, proba[:, 1])
        )
    else:
        assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
        onehot = label_binarize(y, classes=list(range(k)))
        assert got["average_precision"] == pytest.approx(
            skm.average_precision_score(onehot, proba, average="macro")
        )


def test_class_only_predicted_counts_in_macro_average() -> None:
    frame = pd.DataFrame({"y_true": [0, 0, 1, 1], "y_pred": [0, 2, 1, 1]})
    got = evaluate(predictions_from_frame(frame, "p.csv", task="classification"))
    y, pred = [0, 0, 1, 1], [0, 2, 1, 1]
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert got["per_class.2.precision"] == 0.0
    assert "roc_auc" not in got and "log_loss" not in got


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(10, 3, 2000)
    y[:50] = 0.0  # zero targets are excluded from MAPE
    pred = y + rng.normal(0, 1, 2000)
    got = evaluate(predictions_from_frame(pd.DataFrame({"y_true": y, "y_pred": pred}), "r.csv"))
    assert got["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))
    nz = y != 0
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y[nz], pred[nz]))


def test_mape_is_omitted_when_every_target_is_zero() -> None:
    frame = pd.DataFrame({"y_true": [0.0, 0.0, 0.0], "y_pred": [0.5, 1.5, 0.0]})
    got = evaluate(predictions_from_frame(frame, "r.csv", task="regression"))
    assert "mape" not in got and got["mae"] == pytest.approx(2 / 3)


def test_single_score_column_for_binary() -> None:
    frame = pd.DataFrame(
        {"y_true": [0, 1, 1, 0], "y_pred": [0, 1, 0, 0], "proba_1": [0.1, 0.9, 0.4, 0.3]}
    )
    got = evaluate(predictions_from_frame(frame, "p.csv"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.3]))


@pytest.mark.parametrize(
    ("y_true", "y_pred", "proba", "expected"),
    [
        ([0, 1, 2], [0, 1, 1], False, "classification"),
        ([0.5, 1.5], [0.4, 1.6], False, "regression"),
        (list(range(100)), list(range(100)), False, "regression"),
        (["a", "b"], ["a", "a"], False, "classification"),
        ([1, 2, 3], [1, 2, 7], False, "regression"),
        ([0.5, 1.5], [0.4, 1.6], True, "classification"),
    ],
)
def test_task_inference(y_true, y_pred, proba, expected) -> None:
    assert infer_task(np.array(y_true), np.array(y_pred), proba) == expected


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("id,y_pred\n1,0\n", "missing column y_true"),
        ("y_true,y_pred\n", "no rows"),
        ("y_true,y_pred\n1,\n", "row 2: y_pred is missing (empty or NaN; 1 row in all)"),
        (
            "y_true,y_pred\n1,1\n1,nan\n0,NaN\n",
            "row 3: y_pred is missing (empty or NaN; 2 rows in all), expected a value in every row",
        ),
        (
            "y_true\ty_pred\n1\t1\n",
            "missing columns y_true, y_pred; expected columns id (optional), y_true, y_pred and "
            "proba_<class> (optional); the header is separated by tabs, but predictions files "
            "are CSV",
        ),
        ("y_true,y_pred,proba_0\n1,1,x\n", "proba_* columns must hold numbers"),
        ("id,y_true,y_pred\n1,0,0\n1,1,1\n", "duplicate values"),
        ('y_true,y_pred\n"a\n', "cannot read predictions CSV"),
        (
            "y_true,y_pred,proba_x,proba_y\n0,0,0.9,0.1\n1,1,0.2,0.8\n",
            "no proba_ column names a class of y_true or y_pred: got 'proba_x', 'proba_y', "
            "expected proba_<class> for the classes '0', '1'",
        ),
        (
            "y_true,y_pred,proba_1.0\n0.0,1.0,0.8\n1.0,1.0,0.9\n",  # labels read as 0 and 1
            "got 'proba_1.0', expected proba_<class> for the classes '0', '1'",
        ),
    ],
)
def test_bad_predictions_files(tmp_path, csv: str, message: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(csv)
    with pytest.raises(CmlError) as exc:
        read_predictions(path, display="p.csv")
    assert message in str(exc.value) and str(exc.value).startswith("p.csv")


def test_scores_for_a_class_absent_from_the_rows_are_kept(tmp_path) -> None:
    """Only proba_ names that match no class at all are refused: a class the test rows
    happen not to contain, beside classes they do, is a real class of the model."""
    path = tmp_path / "p.csv"
    path.write_text("y_true,y_pred,proba_0,proba_1,proba_2\n0,0,0.7,0.2,0.1\n1,1,0.1,0.8,0.1\n")
    predictions = read_predictions(path)
    assert predictions.proba_labels == ("0", "1", "2")
    assert evaluate(predictions)["log_loss"] == pytest.approx(-np.mean(np.log([0.7, 0.8])))
    floats = tmp_path / "floats.csv"
    floats.write_text("y_true,y_pred,proba_0,proba_1\n0.0,0.0,0.7,0.3\n1.0,1.0,0.2,0.8\n")
    assert evaluate(read_predictions(floats))["accuracy"] == 1


def test_scores_whose_sum_overflows_are_normalised_without_overflow() -> None:
    """Scores need not sum to 1, so each row is normalised; 1e308 + 1e308 overflowed to
    inf and every such row got p = 0, a log loss of 36 instead of log(2)."""
    import warnings

    frame = pd.DataFrame(
        {
            "y_true": [0, 1, 1],
            "y_pred": [0, 1, 0],
            "proba_0": [1e308, 1e308, 1.5e308],
            "proba_1": [1e308, 1e308, 0.5e308],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning: overflow on stderr
        got = evaluate(predictions_from_frame(frame, "p.csv"))
    assert got["log_loss"] == pytest.approx(-np.mean(np.log([0.5, 0.5, 0.25])), rel=1e-12)


def test_regression_values_that_overflow_give_non_finite_metrics_quietly() -> None:
    import warnings

    from cml_py.train.stats import paired_statistics

    frame = pd.DataFrame({"y_true": [1e308, -1e308, 1.5], "y_pred": [-1e308, 1e308, 2.5]})
    predictions = predictions_from_frame(frame, "r.csv", task="regression")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = evaluate(predictions)
        paired = paired_statistics(predictions, predictions, resamples=200)
    assert got["rmse"] == got["mae"] == math.inf and "r2" not in got
    assert paired.head["rmse"] == math.inf and "rmse" not in paired.stats  # no interval


def test_proba_names_are_checked_against_labels_as_each_column_writes_them() -> None:
    """True in a boolean y_true is the label "True", not "1" (as it would be if y_true's
    and y_pred's first values were looked at as one array)."""
    frame = pd.DataFrame({"y_true": [True, False], "y_pred": [0, 1], "proba_1": [0.5, 0.5]})
    with pytest.raises(CmlError, match="expected proba_<class> for the classes 'False', 'True'"):
        predictions_from_frame(frame.assign(y_pred=[False, False]), "p.csv")
    # y_pred's 0 and 1 are never True and False: that is said first
    with pytest.raises(CmlError, match="y_true holds true/false and y_pred numbers"):
        predictions_from_frame(frame, "p.csv")


def test_nest_round_trips_through_flatten() -> None:
    from cml_py.metrics.parse import flatten

    flat = {"accuracy": 0.5, "per_class.a.f1": 0.1, "per_class.b.f1": 0.2}
    assert flatten(nest(flat), "x") == flat


@pytest.mark.parametrize(
    ("y_true", "y_pred", "kinds"),
    [
        ([True, True, False], [1, 1, 0], "y_true holds true/false and y_pred numbers"),
        ([1, 0, 1], ["1.0", "0.0", "1.0"], "y_true holds numbers and y_pred text"),
        (["cat", "dog", "cat"], [0, 1, 0], "y_true holds text and y_pred numbers"),
    ],
)
def test_classes_written_two_ways_are_refused_not_scored_zero(y_true, y_pred, kinds) -> None:
    """True against 1, 1 against "1.0": the labels never compare equal, so perfect
    predictions scored accuracy 0 without a word."""
    frame = pd.DataFrame({"y_true": y_true, "y_pred": y_pred})
    with pytest.raises(CmlError) as exc:
        predictions_from_frame(frame, "p.csv", task="classification")
    assert str(exc.value).startswith(f"p.csv: {kinds}, and no y_pred value is a y_true value")


def test_classes_of_two_kinds_that_share_labels_are_scored() -> None:
    frame = pd.DataFrame({"y_true": ["1", "2", "x"], "y_pred": [1, 2, 2]})
    got = evaluate(predictions_from_frame(frame, "p.csv", task="classification"))
    assert got["accuracy"] == pytest.approx(2 / 3)


def test_integral_float_labels_beyond_int64_keep_their_value() -> None:
    """1e23 was cast to int64 for its name: class -9223372036854775808 (and a numpy
    warning on stderr); the other rows of the column lost their int form with it."""
    frame = pd.DataFrame({"y_true": [1e23, 1.0, 2.0], "y_pred": [1, 1, 2]})
    got = evaluate(predictions_from_frame(frame, "p.csv", task="classification"))
    assert got["accuracy"] == pytest.approx(2 / 3)
    assert "per_class.1e+23.recall" in got and "per_class.1.recall" in got
    assert not any("-9223372036854775808" in name for name in got)


def test_labels_with_dots_nest_as_one_key() -> None:
    """Labels `a` and `a.f1`: per_class.a.f1 was both a number and a mapping, and
    writing metrics.json crashed (exit 4); `1.5` became class 1's `5`."""
    from cml_py.metrics.parse import flatten

    frame = pd.DataFrame({"y_true": ["a", "a.f1", "1.5"], "y_pred": ["a", "a", "1.5"]})
    flat = evaluate(predictions_from_frame(frame, "p.csv"))
    tree = nest(flat)
    assert set(tree["per_class"]) == {"a", "a.f1", "1.5"}
    assert tree["per_class"]["a.f1"]["recall"] == 0 and tree["per_class"]["1.5"]["f1"] == 1
    assert flatten(tree, "x") == flat


def test_a_single_score_column_above_one_is_refused() -> None:
    """With one proba_ column for a binary task the other class's score is 1 minus it:
    a score of 5 made it -4, and the log loss a meaningless 9.4."""
    frame = pd.DataFrame(
        {"y_true": [0, 1, 0, 1], "y_pred": [0, 1, 1, 0], "proba_1": [0.0, 5.0, 3.0, 0.2]}
    )
    with pytest.raises(CmlError, match=r"^p.csv: row 3: proba_1 is 5; as the only proba_ col"):
        evaluate(predictions_from_frame(frame, "p.csv"))
    ok = evaluate(predictions_from_frame(frame.assign(proba_1=[0.1, 0.9, 0.6, 0.2]), "p.csv"))
    assert ok["log_loss"] == pytest.approx(skm.log_loss([0, 1, 0, 1], [0.1, 0.9, 0.6, 0.2]))
