"""The built-in trainer and the user command runner, through `cml-py train`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from cml_py.train.evaluate import evaluate
from cml_py.train.predictions import read_predictions
from tests.helpers import run_cli

PY = sys.executable


def write_config(directory: Path, text: str) -> None:
    (directory / "cml.yaml").write_text(text)


def test_sklearn_trainer_writes_every_output(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path,
        """
train:
  sklearn:
    dataset: sklearn:iris
    model: sklearn.linear_model.LogisticRegression
    params: {max_iter: 300, C: 0.5}
    test_size: 0.3
    seed: 1
    save_model: true
""",
    )
    result = run_cli(capsys, "train")
    assert result.code == 0, result.err
    out = tmp_path / ".cml-py" / "out"
    assert (out / ".cml-py-output").is_file()  # marks the directory as cml-py's to replace
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "feature_importance.csv",
        "metrics.json",
        "model.joblib",
        "params.json",
        "predictions.csv",
    ]
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns) == ["id", "y_true", "y_pred", "proba_0", "proba_1", "proba_2"]
    assert len(predictions) == 45 and predictions["id"].is_unique
    params = json.loads((out / "params.json").read_text())
    assert params["model"] == "sklearn.linear_model.LogisticRegression"
    assert params["params"]["C"] == 0.5 and params["params"]["max_iter"] == 300
    assert params["params"]["random_state"] == 1  # the seed, since the user set none
    assert params["rows"] == {"train": 105, "test": 45} and params["task"] == "classification"
    metrics = json.loads((out / "metrics.json").read_text())
    expected = evaluate(read_predictions(out / "predictions.csv"))
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"])
    assert metrics["per_class"]["2"]["f1"] == pytest.approx(expected["per_class.2.f1"])
    importance = pd.read_csv(out / "feature_importance.csv")
    assert list(importance["feature"]) == [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]


def test_same_seed_same_rows_same_predictions(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path,
        "train: {sklearn: {dataset: 'sklearn:breast_cancer', params: {n_estimators: 20}}}\n",
    )
    run_cli(capsys, "train")
    first = (tmp_path / ".cml-py/out/predictions.csv").read_text()
    run_cli(capsys, "train")
    assert (tmp_path / ".cml-py/out/predictions.csv").read_text() == first


def test_regression_with_default_model(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path,
        "train: {sklearn: {dataset: 'sklearn:diabetes', params: {n_estimators: 20}}, output_dir: out}\n",
    )
    assert run_cli(capsys, "train").code == 0
    params = json.loads((tmp_path / "out/params.json").read_text())
    assert params["model"] == "sklearn.ensemble.RandomForestRegressor"
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    assert set(metrics) == {"rmse", "mae", "r2", "mape"}
    assert "proba_0" not in (tmp_path / "out/predictions.csv").read_text().splitlines()[0]


def test_csv_dataset_with_categories_and_fixed_test_file(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rows = [
        {"size": i % 7, "colour": ["red", "blue"][i % 2], "label": int(i % 7 > 3)}
        for i in range(60)
    ]
    pd.DataFrame(rows[:40]).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame(rows[40:]).to_csv(tmp_path / "test.csv", index=False)
    write_config(
        tmp_path,
        """
train:
  sklearn:
    dataset: train.csv
    test: test.csv
    target: label
    model: sklearn.tree.DecisionTreeClassifier
""",
    )
    assert run_cli(capsys, "train").code == 0
    params = json.loads((tmp_path / ".cml-py/out/params.json").read_text())
    assert params["one_hot_encoded"] == ["colour"]
    assert params["features"] == ["size", "colour_blue", "colour_red"]
    predictions = pd.read_csv(tmp_path / ".cml-py/out/predictions.csv")
    assert list(predictions["id"]) == list(range(20))
    assert json.loads((tmp_path / ".cml-py/out/metrics.json").read_text())["accuracy"] == 1.0


def test_parquet_dataset(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    frame = pd.DataFrame({"x": range(40), "y": [i % 2 for i in range(40)]})
    frame.to_parquet(tmp_path / "data.parquet")
    write_config(
        tmp_path,
        "train: {sklearn: {dataset: data.parquet, target: y, model: sklearn.dummy.DummyClassifier}}\n",
    )
    assert run_cli(capsys, "train").code == 0
    assert (tmp_path / ".cml-py/out/metrics.json").exists()


@pytest.mark.parametrize(
    ("sklearn", "message"),
    [
        ("{dataset: 'sklearn:mnist'}", "train.sklearn.dataset: unknown bundled dataset 'mnist'"),
        ("{dataset: nope.csv}", "train.sklearn.dataset: nope.csv: file does not exist"),
        ("{dataset: data.xlsx}", "expected a .csv, .tsv or .parquet file"),
        (
            "{dataset: 'sklearn:iris', target: species}",
            "train.sklearn.target: column 'species' is not in sklearn:iris",
        ),
        (
            "{dataset: 'sklearn:iris', features: [petal]}",
            "train.sklearn.features: 'petal' not in sklearn:iris",
        ),
        (
            "{dataset: 'sklearn:iris', model: sklearn.ensemble.Nope}",
            "train.sklearn.model: sklearn.ensemble has no 'Nope'",
        ),
        (
            "{dataset: 'sklearn:iris', model: nosuchpkg.Model}",
            "train.sklearn.model: cannot import 'nosuchpkg'",
        ),
        ("{dataset: 'sklearn:iris', model: Model}", "expected an import path"),
        ("{dataset: 'sklearn:iris', model: collections.OrderedDict}", "is not a class with fit"),
        ("{dataset: 'sklearn:iris', model: sklearn.metrics.accuracy_score}", "is not a class"),
        (
            "{dataset: 'sklearn:iris', params: {n_estimator: 5}}",
            "train.sklearn.params: sklearn.ensemble.RandomForestClassifier does not accept them",
        ),
        (
            "{dataset: 'sklearn:iris', params: {n_estimators: -5}}",
            "RandomForestClassifier failed to fit",
        ),
    ],
)
def test_trainer_errors_are_bad_input(
    tmp_path: Path, capsys, monkeypatch, sklearn: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.xlsx").write_text("x")
    write_config(tmp_path, f"train: {{sklearn: {sklearn}}}\n")
    result = run_cli(capsys, "train")
    assert result.code == 2
    last = result.err.splitlines()[-1]
    assert last.startswith("cml-py: error: ") and message in last
    assert "Traceback" not in result.err


@pytest.mark.parametrize("model", ["...", "..", ".linear_model.LogisticRegression"])
def test_a_model_path_must_be_dotted_names(tmp_path: Path, capsys, monkeypatch, model) -> None:
    """importlib raises TypeError, not ImportError, for a relative name: it crashed (exit 4)."""
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, f"train: {{sklearn: {{dataset: 'sklearn:iris', model: '{model}'}}}}\n")
    result = run_cli(capsys, "train")
    assert result.code == 2, result.err
    assert result.err.splitlines()[-1] == (
        "cml-py: error: train.sklearn.model: expected an import path such as "
        f"sklearn.ensemble.RandomForestClassifier (Python names joined by dots), got {model!r}"
    )
    assert not (tmp_path / ".cml-py").exists()


USER_MODELS = {
    "raises_in_fit": (
        "class Model(LogisticRegression):\n"
        "    def fit(self, X, y):\n"
        "        raise RuntimeError('the GPU is on fire')\n",
        "train.sklearn: {module}.Model failed to fit: RuntimeError: the GPU is on fire",
    ),
    "raises_on_import": (
        "raise RuntimeError('no GPU here')\n",
        "train.sklearn.model: cannot import '{module}': RuntimeError: no GPU here",
    ),
    "raises_in_init": (
        "class Model(LogisticRegression):\n"
        "    def __init__(self, max_iter=100):\n"
        "        raise ValueError('max_iter is not a knob')\n",
        "train.sklearn.params: {module}.Model does not accept them: "
        "ValueError: max_iter is not a knob",
    ),
}


@pytest.mark.parametrize("case", sorted(USER_MODELS))
def test_a_failing_model_of_the_users_is_bad_input(
    tmp_path: Path, capsys, monkeypatch, case: str
) -> None:
    """Whatever a model class that is not scikit-learn's raises — on import, in __init__,
    in fit — is that model failing (exit 2 naming the key), not a bug in cml-py (exit 4)."""
    code, message = USER_MODELS[case]
    module = f"cml_py_test_model_{case}"
    (tmp_path / f"{module}.py").write_text(
        f"from sklearn.linear_model import LogisticRegression\n{code}"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path,
        f"train: {{sklearn: {{dataset: 'sklearn:iris', model: {module}.Model, "
        "params: {max_iter: 50}}}\n",
    )
    result = run_cli(capsys, "train")
    assert result.code == 2, result.err
    assert result.err.splitlines()[-1] == f"cml-py: error: {message.format(module=module)}"
    assert "Traceback" not in result.err


def test_a_model_that_ends_the_process_is_a_failed_run(tmp_path: Path, capsys, monkeypatch) -> None:
    """A model that exits (or is killed) takes the training process with it, not cml-py:
    exit 2 with its last lines, like a failing train.command."""
    module = "cml_py_test_model_exits"
    (tmp_path / f"{module}.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "class Model(LogisticRegression):\n"
        "    def fit(self, X, y):\n"
        "        print('out of patience', flush=True)\n"
        "        raise SystemExit(7)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path, f"train: {{sklearn: {{dataset: 'sklearn:iris', model: {module}.Model}}}}\n"
    )
    result = run_cli(capsys, "train")
    assert result.code == 2, result.err
    message = result.err[result.err.index("cml-py: error:") :]
    assert message == (
        "cml-py: error: train.sklearn: the training process exited with code 7; its last lines:\n"
        "  | out of patience\n"
    )
    assert not (tmp_path / ".cml-py" / "out").exists()
    assert list((tmp_path / ".cml-py").iterdir()) == []  # no staging directory left


def test_a_cancelled_run_stops_the_training_process(tmp_path: Path) -> None:
    """SIGTERM (a cancelled CI job) stops cml-py as Ctrl-C does — and the model's process
    with it, which runs in its own session: nothing keeps training, nothing is staged."""
    import signal

    import cml_py

    (tmp_path / "slowmodel.py").write_text(
        "import os, time\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "class Model(LogisticRegression):\n"
        "    def fit(self, X, y):\n"
        "        open('model.pid', 'w').write(str(os.getpid()))\n"
        "        time.sleep(60)\n"
    )
    write_config(tmp_path, "train: {sklearn: {dataset: 'sklearn:iris', model: slowmodel.Model}}\n")
    ours = str(Path(cml_py.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": ours}
    proc = subprocess.Popen(
        [PY, "-m", "cml_py", "train"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    pid_file = tmp_path / "model.pid"
    deadline = time.monotonic() + 60
    while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    model_pid = int(pid_file.read_text())
    assert model_pid != proc.pid
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.endswith("cml-py: interrupted\n"), err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(model_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the model's process outlived cml-py")
    assert list((tmp_path / ".cml-py").iterdir()) == []  # the staging directory went too


WATCH_IMPORTS = """\
import atexit, sys
atexit.register(lambda: print(
    "cml-py's process imported:",
    sorted(m for m in sys.modules if m.startswith("sklearn.linear_model")),
    file=sys.stderr,
))
from cml_py.cli import main
main(["train"])
"""


def test_the_built_in_example_trains_outside_cml_pys_process_with_the_same_numbers(
    tmp_path: Path,
) -> None:
    """The demo's model, trained by `cml-py train`: cml-py's own process never imports the
    model's module (the child does), and every number is what scikit-learn itself gives
    for the documented split and seed — as it was when the model was fitted in-process."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split

    import cml_py
    from cml_py.demo import MAIN_CONFIG

    write_config(tmp_path, MAIN_CONFIG)
    ours = str(Path(cml_py.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ours, os.environ.get("PYTHONPATH")]))
    env["GITHUB_TOKEN"] = "ghs_example_token_0123456789"
    proc = subprocess.run(
        [PY, "-c", WATCH_IMPORTS], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "cml-py's process imported: []" in proc.stderr
    assert "training sklearn.linear_model.LogisticRegression on 398 rows, 30 features" in (
        proc.stderr
    )

    frame = load_breast_cancer(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    model = LogisticRegression(C=0.02, max_iter=5000, random_state=0).fit(X_train, y_train)
    proba = model.predict_proba(X_test)
    out = tmp_path / ".cml-py" / "out"
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions["id"]) == list(X_test.index)
    assert list(predictions["y_true"]) == list(y_test)
    assert list(predictions["y_pred"]) == list(model.predict(X_test))
    assert list(predictions["proba_0"]) == list(proba[:, 0])
    assert list(predictions["proba_1"]) == list(proba[:, 1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_test, model.predict(X_test)))
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y_test, proba[:, 1]))
    assert metrics["log_loss"] == pytest.approx(log_loss(y_test, proba))
    params = json.loads((out / "params.json").read_text())
    assert params["params"] == model.get_params()
    assert params["rows"] == {"train": 398, "test": 171}
    importance = pd.read_csv(out / "feature_importance.csv")
    assert list(importance["importance"]) == [abs(c) for c in model.coef_[0]]


def test_failed_training_leaves_previous_outputs(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path, "train: {sklearn: {dataset: 'sklearn:iris', params: {n_estimators: 5}}}\n"
    )
    assert run_cli(capsys, "train").code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / ".cml-py/out").iterdir()}
    write_config(
        tmp_path, "train: {sklearn: {dataset: 'sklearn:iris', params: {n_estimators: -1}}}\n"
    )
    assert run_cli(capsys, "train").code == 2
    after = {p.name: p.read_bytes() for p in (tmp_path / ".cml-py/out").iterdir()}
    assert after == before
    assert sorted(p.name for p in (tmp_path / ".cml-py").iterdir()) == ["out"]  # no staging left


TRAIN_SCRIPT = """
import json, os, sys
os.makedirs("results", exist_ok=True)
print("epoch 1 loss 0.5", flush=True)
json.dump({"eval": {"accuracy": 0.8}}, open("results/metrics.json", "w"))
open("results/preds.csv", "w").write("id,y_true,y_pred\\n1,0,0\\n2,1,1\\n3,1,0\\n")
open("results/loss.tsv", "w").write("step\\tloss\\n0\\t0.9\\n1\\t0.5\\n")
print("out dir:", os.environ["CML_PY_OUTPUT_DIR"])
"""


def test_command_trainer_collects_outputs(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(TRAIN_SCRIPT)
    write_config(
        tmp_path,
        f"""
train:
  command: [{PY}, train.py]
  outputs:
    metrics: [results/metrics.json]
    predictions: results/preds.csv
    curves: ["results/*.tsv"]
""",
    )
    result = run_cli(capsys, "train")
    assert result.code == 0, result.err
    assert "epoch 1 loss 0.5" in result.err
    assert f"out dir: {tmp_path / '.cml-py' / 'out'}" in result.err
    out = tmp_path / ".cml-py" / "out"
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == pytest.approx(2 / 3)
    assert (out / "predictions.csv").exists()
    assert (out / "curves" / "results" / "loss.tsv").read_text().startswith("step\tloss")


def test_command_string_is_split_without_a_shell(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path,
        f"train: {{command: \"{PY} -c 'import sys; print(sys.argv[1:])' 'a b' '$HOME'\"}}\n",
    )
    result = run_cli(capsys, "train")
    assert result.code == 0
    assert "['a b', '$HOME']" in result.err


def test_shell_true_uses_a_shell(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, "train: {command: 'echo one && echo two', shell: true}\n")
    result = run_cli(capsys, "train")
    assert result.code == 0 and "one\ntwo\n" in result.err


def test_failing_command_shows_its_last_lines(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    script = "import sys\nfor i in range(30): print('line', i)\nsys.exit(3)\n"
    (tmp_path / "fail.py").write_text(script)
    write_config(tmp_path, f"train: {{command: [{PY}, fail.py]}}\n")
    result = run_cli(capsys, "train")
    assert result.code == 2
    message = result.err[result.err.index("cml-py: error:") :]
    assert message.startswith("cml-py: error: train.command: exited with code 3; its last lines:\n")
    assert "  | line 29\n" in message and "  | line 10\n" in message and "line 9\n" not in message


def test_timeout_kills_the_whole_process_group(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "child-survived"
    (tmp_path / "child.py").write_text(f"import time\ntime.sleep(3)\nopen({str(marker)!r}, 'w')\n")
    (tmp_path / "slow.py").write_text(
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, 'child.py'])\n"
        "print('started', flush=True)\n"
        "time.sleep(30)\n"
    )
    write_config(tmp_path, f"train: {{command: [{PY}, slow.py], timeout: 1}}\n")
    started = time.monotonic()
    result = run_cli(capsys, "train")
    assert result.code == 2 and "train.command: timed out after 1 s and was stopped" in result.err
    assert time.monotonic() - started < 10
    time.sleep(3.5)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("outputs", "written", "message"),
    [
        ("{metrics: [m.json]}", {}, "train.outputs.metrics: the command did not write 'm.json'"),
        ("{metrics: [m.json]}", {"m.json": "{bad"}, "m.json:1:2: invalid JSON"),
        ("{predictions: p.csv}", {"p.csv": "a,b\n1,2\n"}, "p.csv: missing columns y_true, y_pred"),
        (
            "{curves: ['logs/*.tsv']}",
            {},
            "train.outputs.curves: 'logs/*.tsv' matches no file after the command ran",
        ),
    ],
)
def test_command_outputs_are_checked(
    tmp_path: Path, capsys, monkeypatch, outputs, written, message
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in written.items():
        (tmp_path / name).write_text(text)
    write_config(tmp_path, f"train: {{command: [{PY}, -c, 'pass'], outputs: {outputs}}}\n")
    result = run_cli(capsys, "train")
    assert result.code == 2 and message in result.err
    assert not (tmp_path / ".cml-py" / "out").exists()


def test_missing_program(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, "train: {command: no-such-program-xyz}\n")
    result = run_cli(capsys, "train")
    assert (
        result.code == 2 and "train.command: program 'no-such-program-xyz' not found" in result.err
    )


def test_train_without_section(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, "metrics: [m.json]\n")
    result = run_cli(capsys, "train")
    assert result.code == 2 and "no `train:` section" in result.err


def test_evaluate_command(tmp_path: Path, capsys) -> None:
    base = tmp_path / "base.csv"
    head = tmp_path / "head.csv"
    rows = range(400)
    pd.DataFrame(
        {
            "id": rows,
            "y_true": [i % 2 for i in rows],
            "y_pred": [i % 2 if i % 5 else 1 - i % 2 for i in rows],
        }
    ).to_csv(base, index=False)
    pd.DataFrame(
        {
            "id": rows,
            "y_true": [i % 2 for i in rows],
            "y_pred": [i % 2 if i % 10 else 1 - i % 2 for i in rows],
        }
    ).to_csv(head, index=False)
    single = run_cli(capsys, "evaluate", str(head), "--json")
    assert json.loads(single.out)["metrics"]["accuracy"] == 0.9
    paired = run_cli(capsys, "evaluate", str(head), "--base", str(base))
    assert paired.code == 0
    line = next(ln for ln in paired.out.splitlines() if ln.strip().startswith("accuracy"))
    assert (
        "0.8" in line
        and "0.9" in line
        and "+0.1 [" in line
        and "significant (McNemar score test p=" in line
    )
    data = json.loads(run_cli(capsys, "evaluate", str(head), "--base", str(base), "--json").out)
    assert data["stats"]["accuracy"]["significant"] is True
    assert data["stats"]["accuracy"]["ci_low"] > 0
    short = tmp_path / "short.csv"
    pd.DataFrame({"y_true": [0, 1], "y_pred": [0, 1]}).to_csv(short, index=False)
    bad = run_cli(capsys, "evaluate", str(head), "--base", str(short))
    assert bad.code == 2 and "cannot be paired: main has 2 test rows and this PR has 400" in bad.err
    missing = run_cli(capsys, "evaluate", str(tmp_path / "none.csv"))
    assert missing.code == 2 and "predictions file does not exist" in missing.err


def test_evaluate_text_output_replaces_control_characters(tmp_path: Path, capsys) -> None:
    """Labels are the file's text and become metric names (per_class.<label>.f1): a NUL,
    a bell or an escape must not reach the terminal or CI log, as in the text report."""
    path = tmp_path / "p.csv"
    path.write_bytes(b"y_true,y_pred\na\x00b,a\x00b\nc\x07\x1b[31m,c\x07\x1b[31m\n")
    for args in ((), ("--base", str(path))):
        result = run_cli(capsys, "evaluate", str(path), *args)
        assert result.code == 0, result.err
        assert "per_class.a\ufffdb.f1" in result.out and "per_class.c\ufffd\ufffd[31m" in result.out
        assert not any(c in result.out for c in "\x00\x07\x1b")
