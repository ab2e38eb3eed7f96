"""MLflow end to end: a real tracking server, runs logged on main and on a PR branch, and
the real CLI in real git repositories.

The first test is the whole user story with the real training script; the others log
runs in-process with MLflow's own client (fast) to try one behaviour each: lookup by
commit and nearest ancestor, unfinished, missing and foreign runs, a PR that edits
`mlflow:`, credentials, an unreachable server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import Repo
from tests.helpers import run_cli
from tests.mlflow.conftest import ADMIN, TRAIN_SCRIPT, Server, log_run, run_tags

Y_TRUE = [0, 1] * 30


def model(acc: float, loss: list[float], wrong: int, kind: str) -> dict:
    """model.json for train.py: `wrong` of the 60 test rows mispredicted."""
    y_pred = [1 - y if i < wrong else y for i, y in enumerate(Y_TRUE)]
    return {
        "params": {"model": kind, "depth": 3},
        "loss": loss,
        "acc": acc,
        "y_true": Y_TRUE,
        "y_pred": y_pred,
    }


def mlflow_config(experiment: str, extra: str = "") -> str:
    return (
        f"mlflow:\n  experiment: {experiment}\n{extra}"
        "baseline: {strategy: mlflow}\n"
        "gate:\n  acc: {min: 0.5, max_drop: 0.05}\n"
    )


def report_json(capsys, *args: str) -> dict:
    result = run_cli(capsys, "report", "--format", "json", "-o", "-", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def row(rows: list[dict], name: str, path: str = "mlflow") -> dict:
    return next(r for r in rows if r["name"] == name and r["file"] == path)


# -- the whole story, with the real training script ------------------------------------


def test_a_pr_is_compared_with_mains_mlflow_run(
    in_repo: Repo, experiment: str, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", experiment)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_forge_token_must_not_reach_training")
    from cml_py import tokens

    tokens.protect()
    in_repo.write("train.py", TRAIN_SCRIPT.read_text())
    in_repo.write(".gitignore", ".cml-py/\nreport/\n")
    in_repo.write(
        "cml.yaml",
        f"train:\n  command: [{json.dumps(sys.executable)}, train.py]\n"
        + mlflow_config(
            experiment,
            "  run_id_file: .cml-py/mlflow-run-id\n"
            "  predictions: predictions.csv\n"
            "  write_back: true\n",
        )
        + '  "mlflow/predictions.csv:accuracy": {max_drop: 0.2}\n',
    )
    in_repo.write("model.json", model(0.80, [0.9, 0.6, 0.4], wrong=12, kind="logreg"))
    in_repo.commit("main")
    assert run_cli(capsys, "train").code == 0  # main's CI logs main's run
    main_run = (in_repo.path / ".cml-py/mlflow-run-id").read_text().strip()

    in_repo.branch("feature")
    in_repo.write("model.json", model(0.85, [0.8, 0.4, 0.2, 0.1], wrong=6, kind="forest"))
    pr_commit = in_repo.commit("a better model")
    result = run_cli(capsys, "run", "--no-publish", "--out", "report")
    assert result.code == 0, result.err

    data = json.loads((in_repo.path / "report/report.json").read_text())
    acc, loss = row(data["metrics"], "acc"), row(data["metrics"], "loss")
    assert (acc["base"], acc["head"], acc["verdict"]) == (0.8, 0.85, "better")
    assert (loss["base"], loss["head"], loss["verdict"]) == (0.4, 0.1, "better")
    accuracy = row(data["metrics"], "accuracy", "mlflow/predictions.csv")
    assert (accuracy["base"], accuracy["head"]) == (0.8, 0.9)
    assert accuracy["interval"]["resamples"] == 1000  # paired statistics over the artifact
    assert row(data["params"], "model")["head"] == "forest"
    assert row(data["params"], "depth")["head"] == 3  # a number, as in params files
    pr_run = (in_repo.path / ".cml-py/mlflow-run-id").read_text().strip()
    assert any(
        "main's numbers come from MLflow run" in n and main_run[:7] in n and "merge-base" in n
        for n in data["notes"]
    )
    assert any("named by .cml-py/mlflow-run-id" in n for n in data["notes"])
    assert [link["label"] for link in data["links"]] == [
        "main's MLflow run",
        "this PR's MLflow run",
        "compare in MLflow",
    ]
    md = (in_repo.path / "report/report.md").read_text()
    assert f"[this PR's MLflow run]({in_repo_url(data)}/#/experiments/" in md
    assert f"runs/{pr_run})" in md and "%22" + main_run in md  # the compare view's JSON ids
    curves = next(c for c in data["charts"] if c["name"] == "training_curves")
    assert curves["path"] is not None and (in_repo.path / "report" / curves["path"]).is_file()

    tags = run_tags(pr_run)
    assert tags["cml-py.verdict"] == "pass" and tags["mlflow.source.git.commit"] == pr_commit
    printed = result.out + result.err + md + json.dumps(data)
    assert ADMIN[1] not in printed and "password: ***" in result.err
    assert "forge token: None" in result.err  # the training never saw the forge token


def in_repo_url(data: dict) -> str:
    return data["links"][0]["url"].split("/#/")[0]


# -- lookups by commit ---------------------------------------------------------------


def pr_repo(repo: Repo, config: str) -> tuple[str, str]:
    """main with cml.yaml, a PR commit on top: (main's sha, the PR's sha)."""
    repo.write("cml.yaml", config)
    main = repo.commit("main")
    repo.branch("pr")
    repo.write("notes.txt", "a change")
    return main, repo.commit("pr")


def test_mains_run_is_the_nearest_ancestor_with_one(in_repo: Repo, experiment: str, capsys):
    in_repo.write("cml.yaml", mlflow_config(experiment))
    first = in_repo.commit("main 1")
    log_run(experiment, first, metrics={"acc": 0.70})
    log_run(experiment, first, metrics={"acc": 0.75}, status="FAILED")  # never a baseline
    in_repo.write("a.txt", "x")
    in_repo.commit("main 2: no run logged")
    in_repo.branch("pr")
    in_repo.write("b.txt", "y")
    head = in_repo.commit("pr")
    log_run(experiment, head, metrics={"acc": 0.72, "loss": [0.5, 0.3]})
    data = report_json(capsys)
    acc = row(data["metrics"], "acc")
    assert (acc["base"], acc["head"]) == (0.70, 0.72)
    assert any("1 commit before the merge-base" in n for n in data["notes"])
    assert row(data["metrics"], "loss")["verdict"] == "added"


def test_a_newer_run_of_the_merge_base_wins(in_repo: Repo, experiment: str, capsys) -> None:
    main, head = pr_repo(in_repo, mlflow_config(experiment))
    log_run(experiment, main, metrics={"acc": 0.60})
    log_run(experiment, main, metrics={"acc": 0.65})
    log_run(experiment, head, metrics={"acc": 0.66})
    acc = row(report_json(capsys)["metrics"], "acc")
    assert (acc["base"], acc["head"]) == (0.65, 0.66)


def test_no_run_of_main_falls_back_to_committed_files_and_says_so(
    in_repo: Repo, experiment: str, capsys
) -> None:
    _, head = pr_repo(in_repo, mlflow_config(experiment))
    log_run(experiment, head, metrics={"acc": 0.66})
    data = report_json(capsys)
    assert row(data["metrics"], "acc")["verdict"] == "added"
    assert any(f"No finished MLflow run in experiment {experiment}" in n for n in data["notes"])


def test_auto_tries_mlflow_before_retraining(in_repo: Repo, experiment: str, capsys) -> None:
    config = mlflow_config(experiment).replace("{strategy: mlflow}", "{strategy: auto}")
    config = 'train:\n  command: ["false"]\n' + config  # re-training main would fail loudly
    main, head = pr_repo(in_repo, config)
    log_run(experiment, main, metrics={"acc": 0.60})
    log_run(experiment, head, metrics={"acc": 0.61})
    data = report_json(capsys)
    assert row(data["metrics"], "acc")["base"] == 0.60


# -- which run is this PR's ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("RUNNING", "is RUNNING, not FINISHED: end the run"),
        ("FAILED", "is FAILED, not FINISHED: the training did not complete"),
    ],
)
def test_an_unfinished_run_of_head_is_an_error(
    in_repo: Repo, experiment: str, capsys, status: str, message: str
) -> None:
    main, head = pr_repo(in_repo, mlflow_config(experiment))
    log_run(experiment, main, metrics={"acc": 0.6})
    log_run(experiment, head, metrics={"acc": 0.9}, status=status)
    result = run_cli(capsys, "gate")
    assert result.code == 2 and message in result.err, result.err


def test_an_unknown_experiment_names_the_key(in_repo: Repo, experiment: str, capsys) -> None:
    pr_repo(in_repo, mlflow_config(f"{experiment}-typo"))
    result = run_cli(capsys, "gate")
    assert result.code == 2
    assert f"cml.yaml: mlflow.experiment: no experiment named '{experiment}-typo' on" in result.err


def test_no_run_of_head_is_an_error(in_repo: Repo, experiment: str, capsys) -> None:
    pr_repo(in_repo, mlflow_config(experiment))
    result = run_cli(capsys, "diff")
    assert result.code == 2
    assert f"no MLflow run in experiment {experiment} is tagged with HEAD's commit" in result.err


@pytest.mark.parametrize("how", ["run_id_file", "MLFLOW_RUN_ID"])
def test_a_pr_cannot_claim_mains_run_as_its_own(
    in_repo: Repo, experiment: str, capsys, monkeypatch, how: str
) -> None:
    config = mlflow_config(experiment, "  run_id_file: run-id.txt\n")
    main, _ = pr_repo(in_repo, config)
    best = log_run(experiment, main, metrics={"acc": 0.99})
    if how == "MLFLOW_RUN_ID":
        monkeypatch.setenv("MLFLOW_RUN_ID", best)
    else:
        in_repo.write("run-id.txt", best)
        in_repo.commit("claim main's best run")
    result = run_cli(capsys, "gate")
    assert result.code == 2
    assert f"(from {'run-id.txt' if how == 'run_id_file' else how}) was logged at commit" in (
        result.err
    )


def test_a_run_from_another_experiment_is_refused(in_repo: Repo, experiment: str, capsys):
    config = mlflow_config(experiment, "  run_id_file: run-id.txt\n")
    _, head = pr_repo(in_repo, config)
    from mlflow.tracking import MlflowClient

    MlflowClient().create_experiment(f"{experiment}-elsewhere")
    elsewhere = log_run(f"{experiment}-elsewhere", head, metrics={"acc": 0.99})
    in_repo.write("run-id.txt", elsewhere)
    result = run_cli(capsys, "gate")
    assert result.code == 2 and f"not in {experiment!r}: cml-py reads" in result.err


def test_a_symlinked_run_id_file_is_refused(in_repo: Repo, experiment: str, capsys) -> None:
    pr_repo(in_repo, mlflow_config(experiment, "  run_id_file: run-id.txt\n"))
    (in_repo.path / "run-id.txt").symlink_to("/etc/hostname")
    result = run_cli(capsys, "gate")
    assert result.code == 2 and "run-id.txt: mlflow.run_id_file is a symlink" in result.err


def test_a_run_id_file_name_too_long_is_bad_input(in_repo: Repo, experiment: str, capsys) -> None:
    pr_repo(in_repo, mlflow_config(experiment, f"  run_id_file: {'r' * 300}.txt\n"))
    result = run_cli(capsys, "gate")
    assert result.code == 2, result.err
    assert "mlflow.run_id_file cannot be looked up: the name is longer than" in result.err


def test_pr_runs_may_live_in_their_own_experiment(in_repo: Repo, experiment: str, capsys):
    from mlflow.tracking import MlflowClient

    MlflowClient().create_experiment(f"{experiment}-pr")
    config = mlflow_config(experiment, f"  pr_experiment: {experiment}-pr\n")
    main, head = pr_repo(in_repo, config)
    log_run(experiment, main, metrics={"acc": 0.6})
    log_run(experiment, head, metrics={"acc": 0.1})  # not where PR runs are: ignored
    log_run(f"{experiment}-pr", main, metrics={"acc": 0.1})  # not main's experiment
    log_run(f"{experiment}-pr", head, metrics={"acc": 0.7})
    acc = row(report_json(capsys)["metrics"], "acc")
    assert (acc["base"], acc["head"]) == (0.6, 0.7)


# -- policy: the PR's `mlflow:` does not apply ---------------------------------------


def test_a_pr_cannot_point_cml_py_at_another_experiment(
    in_repo: Repo, experiment: str, capsys
) -> None:
    from mlflow.tracking import MlflowClient

    planted = f"{experiment}-planted"
    MlflowClient().create_experiment(planted)
    in_repo.write("cml.yaml", mlflow_config(experiment))
    main = in_repo.commit("main")
    log_run(experiment, main, metrics={"acc": 0.90})
    log_run(planted, main, metrics={"acc": 0.10})  # a "main" that makes any PR look good
    in_repo.branch("pr")
    in_repo.write(
        "cml.yaml",
        mlflow_config(planted, "  tracking_uri: http://127.0.0.1:9\n").replace("0.05", "0.5"),
    )
    head = in_repo.commit("pr")
    log_run(experiment, head, metrics={"acc": 0.50})
    log_run(planted, head, metrics={"acc": 0.50})
    data = report_json(capsys)
    acc = row(data["metrics"], "acc")
    assert (acc["base"], acc["head"]) == (0.9, 0.5)
    assert data["verdict"] == "fail"
    changes = {c["setting"]: (c["main"], c["this_pr"]) for c in data["policy_change"]["changes"]}
    assert changes["mlflow.experiment"] == (experiment, planted)
    assert changes["mlflow.tracking_uri"] == ("—", "http://127.0.0.1:9")
    assert data["policy_change"]["applied"] == "main"


# -- credentials and failures --------------------------------------------------------


def test_missing_or_wrong_credentials_are_bad_input(
    in_repo: Repo, experiment: str, capsys, monkeypatch
) -> None:
    pr_repo(in_repo, mlflow_config(experiment))
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    result = run_cli(capsys, "gate")
    assert result.code == 2
    assert "401 Unauthorized: it needs credentials: set MLFLOW_TRACKING_USERNAME" in result.err
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "a-wrong-password-123")
    result = run_cli(capsys, "gate")
    assert result.code == 2 and "a-wrong-password-123" not in result.err
    assert (
        "the credentials from MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD were refused"
        in result.err
    )


def test_a_user_without_permission_is_told_so(
    in_repo: Repo, experiment: str, mlflow_server: Server, capsys, monkeypatch
) -> None:
    pr_repo(in_repo, mlflow_config(experiment))
    name, password = mlflow_server.user(f"reader-{experiment}", "reader-password-0123")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", name)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    result = run_cli(capsys, "gate")
    assert result.code == 2
    assert "403 Forbidden" in result.err and "lack the permission" in result.err


def test_a_token_in_the_uri_is_never_printed(
    in_repo: Repo, experiment: str, mlflow_server: Server, capsys, monkeypatch
) -> None:
    pr_repo(in_repo, mlflow_config(experiment))
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    host = mlflow_server.url.removeprefix("http://")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://admin:wrong-uri-secret-42@{host}")
    result = run_cli(capsys, "gate")
    assert result.code == 2 and "the user:password in the tracking URI were refused" in result.err
    assert "wrong-uri-secret-42" not in result.err and f"http://{host}" in result.err


def test_an_unreachable_server_is_a_service_failure(
    in_repo: Repo, experiment: str, capsys, monkeypatch
) -> None:
    pr_repo(in_repo, mlflow_config(experiment))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    result = run_cli(capsys, "gate")
    assert result.code == 3
    assert (
        "MLflow server http://127.0.0.1:9: experiments/get-by-name failed after 3 attempts: cannot connect"
        in result.err
    )


def test_a_predictions_artifact_over_the_limit_is_refused(
    in_repo: Repo, experiment: str, capsys
) -> None:
    config = mlflow_config(experiment, "  predictions: p.csv\n  max_artifact_mb: 0.0001\n")
    main, head = pr_repo(in_repo, config)
    rows = "id,y_true,y_pred\n" + "".join(f"{i},1,1\n" for i in range(100))
    log_run(experiment, main, metrics={"acc": 0.6}, artifacts={"p.csv": rows})
    log_run(experiment, head, metrics={"acc": 0.6}, artifacts={"p.csv": rows})
    result = run_cli(capsys, "gate")
    assert (
        result.code == 2
        and "artifact p.csv is larger than 0.0001 MiB (mlflow.max_artifact_mb)" in result.err
    )


def test_write_back_tags_the_run_and_a_refusal_only_warns(
    in_repo: Repo, experiment: str, mlflow_server: Server, monkeypatch
) -> None:
    from cml_py.config import Config, MlflowConfig
    from cml_py.mlflow.source import write_back

    run = log_run(experiment, "a" * 40, metrics={"acc": 0.6})
    config = Config(source="cml.yaml", root=Path("."), mlflow=MlflowConfig(experiment=experiment))
    said: list[str] = []
    url = "https://github.com/o/r/pull/7#issuecomment-1"
    assert write_back(config, run, verdict="fail", report_url=url, echo=said.append)
    tags = run_tags(run)
    assert (tags["cml-py.verdict"], tags["cml-py.report"]) == ("fail", url)
    name, password = mlflow_server.user(f"nobody-{experiment}", "nobody-password-0123")
    env = {
        **mlflow_server.env,
        "MLFLOW_TRACKING_USERNAME": name,
        "MLFLOW_TRACKING_PASSWORD": password,
    }
    assert not write_back(config, run, verdict="pass", report_url=None, echo=said.append, env=env)
    assert said[-1].startswith(f"warning: could not tag MLflow run {run[:7]}") and "403" in said[-1]
    assert run_tags(run)["cml-py.verdict"] == "fail"


# -- start-up cost -------------------------------------------------------------------

PROBE = (
    "import sys, atexit\n"
    "atexit.register(lambda: print('LOADED', sorted(m for m in sys.modules if m in "
    "('mlflow', 'cml_py.mlflow', 'numpy', 'pandas', 'requests')), file=sys.stderr))\n"
    "sys.argv = ['cml-py'] + sys.argv[1:]\n"
    "from cml_py.cli import main\n"
    "main()\n"
)


def loaded(cwd: Path, *args: str) -> list[str]:
    import os
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("LOADED"))
    assert proc.returncode == 0, proc.stderr
    return eval(line.removeprefix("LOADED "))  # a list literal printed by the probe


def test_diff_reads_mlflow_without_importing_it_and_others_never_load_it(
    in_repo: Repo, experiment: str
) -> None:
    main, head = pr_repo(in_repo, mlflow_config(experiment))
    log_run(experiment, main, metrics={"acc": 0.6, "loss": [0.5, 0.4]})
    log_run(experiment, head, metrics={"acc": 0.61, "loss": [0.5, 0.3]})
    assert loaded(in_repo.path, "diff") == ["cml_py.mlflow"]  # no mlflow, numpy, requests
    assert loaded(in_repo.path, "--help") == []
    in_repo.write("cml.yaml", "metrics: [m.json]\n")
    in_repo.write("m.json", {"acc": 1})
    in_repo.commit("no mlflow")
    assert loaded(in_repo.path, "diff", "--base", "HEAD") == []
