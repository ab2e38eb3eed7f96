"""A project's training script, as a team that tracks its runs in MLflow writes it: it
logs params, a loss curve, an accuracy and a predictions artifact to the experiment in
MLFLOW_EXPERIMENT_NAME, and writes its run id where cml.yaml's mlflow.run_id_file says.

The "model" is model.json in the repository, so a test changes what is trained by
committing a different file. It also prints what a careless script might print (its
environment's secrets), to prove cml-py masks them.
"""

import csv
import json
import os
import tempfile
from pathlib import Path

import mlflow

spec = json.loads(Path("model.json").read_text())
mlflow.set_experiment(os.environ["MLFLOW_EXPERIMENT_NAME"])
with mlflow.start_run() as run:
    mlflow.log_params(spec["params"])
    for step, loss in enumerate(spec["loss"]):
        mlflow.log_metric("loss", loss, step=step)
    mlflow.log_metric("acc", spec["acc"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "y_true", "y_pred"])
            for i, (truth, guess) in enumerate(zip(spec["y_true"], spec["y_pred"], strict=True)):
                writer.writerow([i, truth, guess])
        mlflow.log_artifact(str(path))
    print("password:", os.environ.get("MLFLOW_TRACKING_PASSWORD"))
    print("forge token:", os.environ.get("GITHUB_TOKEN"))
    target = Path(os.environ.get("RUN_ID_FILE", ".cml-py/mlflow-run-id"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(run.info.run_id + "\n")
