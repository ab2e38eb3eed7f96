"""Seeds: the split does not move with the model's seed, and `train.repeats` trains N
seeds on each side (main's re-run too) for statistics that include their spread."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from cml_py.train.evaluate import evaluate
from cml_py.train.predictions import read_predictions
from tests.conftest import Repo
from tests.helpers import run_cli

PY = sys.executable
FOREST = """\
train:
  {repeats}sklearn:
    dataset: sklearn:breast_cancer
    params: {{n_estimators: 15}}
    seed: {seed}
{extra}gate:
  accuracy: {{max_drop: 0.01, significant: true}}
"""


def forest(seed: int = 0, repeats: int = 1, extra: str = "") -> str:
    line = f"repeats: {repeats}\n  " if repeats != 1 else ""
    return FOREST.format(seed=seed, repeats=line, extra=extra)


def train_ids(tmp_path: Path, capsys, config: str) -> list[int]:
    (tmp_path / "cml.yaml").write_text(config)
    result = run_cli(capsys, "train")
    assert result.code == 0, result.err
    return list(pd.read_csv(tmp_path / ".cml-py/out/predictions.csv")["id"])


def test_a_seed_only_change_keeps_every_test_row(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = train_ids(tmp_path, capsys, forest(seed=0))
    assert train_ids(tmp_path, capsys, forest(seed=7)) == first
    params = json.loads((tmp_path / ".cml-py/out/params.json").read_text())
    assert params["seed"] == 7 and params["split_seed"] == 0
    assert params["params"]["random_state"] == 7
    moved = train_ids(tmp_path, capsys, forest(extra="    split_seed: 3\n"))
    assert sorted(moved) != sorted(first)


def test_repeats_train_every_seed_on_the_same_rows(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cml.yaml").write_text(forest(seed=5, repeats=3))
    result = run_cli(capsys, "train")
    assert result.code == 0, result.err
    assert "seed 3 of 3: random_state=7" in result.err
    out = tmp_path / ".cml-py/out"
    seeds = [out / "predictions.csv", *(out / f"replicates/predictions-{i}.csv" for i in (1, 2))]
    frames = [pd.read_csv(p) for p in seeds]
    assert all(list(f["id"]) == list(frames[0]["id"]) for f in frames)
    assert any(not f["proba_1"].equals(frames[0]["proba_1"]) for f in frames[1:])
    per_seed = [evaluate(read_predictions(p)) for p in seeds]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(sum(m["accuracy"] for m in per_seed) / 3)
    params = json.loads((out / "params.json").read_text())
    assert params["repeats"] == 3 and params["seeds"] == [5, 6, 7]
    assert params["params"]["random_state"] == 5
    # the flag overrides the file; a model without random_state trains once
    (tmp_path / "cml.yaml").write_text(
        forest().replace("params: {n_estimators: 15}", "model: sklearn.naive_bayes.GaussianNB")
    )
    result = run_cli(capsys, "train", "--repeats", "4")
    assert result.code == 0 and "takes no random_state" in result.err
    assert not (out / "replicates").exists()


SEED_SCRIPT = """
import os
seed = int(os.environ["CML_PY_SEED"])
rows = ["id,y_true,y_pred"] + [f"{i},{i % 2},{(i + (i % (seed + 3) == 0)) % 2}" for i in range(40)]
open("preds.csv", "w").write("\\n".join(rows) + "\\n")
open("seeds.log", "a").write(f"{seed}\\n")
"""


def test_a_command_runs_once_per_seed_with_cml_py_seed(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(SEED_SCRIPT)
    (tmp_path / "cml.yaml").write_text(
        f"train:\n  command: [{PY}, train.py]\n  repeats: 3\n  outputs: {{predictions: preds.csv}}\n"
    )
    result = run_cli(capsys, "train")
    assert result.code == 0, result.err
    assert (tmp_path / "seeds.log").read_text().split() == ["2", "1", "0"]  # seed 0 last
    out = tmp_path / ".cml-py/out"
    first = pd.read_csv(out / "predictions.csv")
    assert first.equals(pd.read_csv(tmp_path / "preds.csv"))  # seed 0's own files
    accuracies = [
        evaluate(read_predictions(p))["accuracy"]
        for p in (
            out / "predictions.csv",
            *(out / f"replicates/predictions-{i}.csv" for i in (1, 2)),
        )
    ]
    assert len(set(accuracies)) > 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(sum(accuracies) / 3)


@pytest.mark.parametrize(
    ("train", "message"),
    [
        (
            "{sklearn: {dataset: 'sklearn:iris'}, repeats: 0}",
            "train.repeats: expected an integer >= 1",
        ),
        (
            "{sklearn: {dataset: 'sklearn:iris'}, repeats: 101}",
            "train.repeats: expected an integer from 1 to 100",
        ),
        ("{command: 'python t.py', repeats: 2}", "train.repeats: needs train.outputs.predictions"),
        (
            "{sklearn: {dataset: 'sklearn:iris', split_seed: -1}}",
            "train.sklearn.split_seed: expected an integer >= 0",
        ),
    ],
)
def test_bad_seed_settings_are_one_line_errors(
    tmp_path: Path, capsys, monkeypatch, train, message
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cml.yaml").write_text(f"train: {train}\n")
    result = run_cli(capsys, "train")
    assert result.code == 2
    assert message in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def _project(repo: Repo, main: str, branch: str) -> None:
    repo.write(".gitignore", ".cml-py/\n")
    repo.write("cml.yaml", main)
    repo.commit("main")
    repo.branch("feature")
    repo.write("cml.yaml", branch)
    repo.commit("feature")


def test_a_seed_only_pr_stays_paired_end_to_end(in_repo: Repo, capsys) -> None:
    _project(in_repo, forest(seed=0), forest(seed=1))
    assert run_cli(capsys, "train").code == 0
    data = json.loads(run_cli(capsys, "report", "--format", "json", "-o", "-").out)
    accuracy = next(m for m in data["metrics"] if m["name"] == "accuracy")
    assert "interval" in accuracy, data["notes"]
    (check,) = data["gate"]
    assert "evidence" in check and check["evidence"]["test"] == "McNemar score test"


def test_repeats_on_both_sides_with_the_rerun_baseline(in_repo: Repo, capsys) -> None:
    """Main's cml.yaml asks for three seeds (the number is policy): this PR and main's
    re-run both train three."""
    _project(in_repo, forest(seed=0, repeats=3), forest(seed=10, repeats=3))
    assert run_cli(capsys, "train").code == 0
    result = run_cli(capsys, "report", "--format", "json", "-o", "-")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    accuracy = next(m for m in data["metrics"] if m["name"] == "accuracy")
    assert accuracy["test"]["name"] == "seeds + rows t-test"
    assert accuracy["seeds"] == {"main": 3, "this_pr": 3}
    assert 0 <= accuracy["seed_share"] <= 1
    assert any("main 3, this PR 3" in note for note in data["notes"])


def test_a_changed_split_cannot_be_tested_and_says_so(in_repo: Repo, capsys) -> None:
    _project(in_repo, forest(), forest(extra="    split_seed: 4\n"))
    assert run_cli(capsys, "train").code == 0
    result = run_cli(capsys, "report", "-o", "-")
    assert "predict different test rows" in result.out
    gate = run_cli(capsys, "gate")
    line = next(ln for ln in gate.out.splitlines() if "accuracy" in ln)
    drop_beyond = "FAIL" in line
    assert ("cannot test: main and this PR predict different test rows" in line) or (
        not drop_beyond and "not tested" in line
    )
