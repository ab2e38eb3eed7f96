"""A real MLflow tracking server on 127.0.0.1 for the whole session, with MLflow's own
basic-auth app (so credentials, 401 and 403 are real), a SQLite backend and a local
artifact root; stopped (its whole process group) at the end.

Each test makes its own experiment, so tests never see each other's runs. Runs are
logged by a real training script (tests/mlflow/train.py, through `cml-py run` or git
checkouts) where the point is what a user's job does, and in-process with MlflowClient
where a test needs many runs quickly.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cml_py.train.command import stop_process_group

ADMIN = ("admin", "admin-password-0123456789")
START_TIMEOUT = 180.0
TRAIN_SCRIPT = Path(__file__).with_name("train.py")


@dataclass
class Server:
    url: str
    root: Path
    log: Path

    @property
    def env(self) -> dict[str, str]:
        """What a CI job would export: the URI and the admin's credentials."""
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": ADMIN[0],
            "MLFLOW_TRACKING_PASSWORD": ADMIN[1],
        }

    def api(self, endpoint: str, body: Mapping[str, Any] | None = None, auth=ADMIN) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/api/2.0/mlflow/{endpoint}",
            data,
            {"Content-Type": "application/json", "Authorization": _basic(*auth)},
            method="POST" if data is not None else "GET",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def user(self, name: str, password: str) -> tuple[str, str]:
        self.api("users/create", {"username": name, "password": password})
        return name, password


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("mlflow", reason="the mlflow test server comes with the test extra")
    root = tmp_path_factory.mktemp("mlflow-server")
    (root / "auth.ini").write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{root / 'auth.db'}\n"
        f"admin_username = {ADMIN[0]}\n"
        f"admin_password = {ADMIN[1]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
        "auth_cache_ttl_seconds = 600\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {
        "MLFLOW_AUTH_CONFIG_PATH": str(root / "auth.ini"),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no job runner processes
    }
    port = _free_port()
    log = root / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--app-name",
                "basic-auth",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--default-artifact-root",
                str(root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped with its workers
        )
    server = Server(f"http://127.0.0.1:{port}", root, log)
    try:
        _wait_until_up(server, proc)
        yield server
    finally:
        stop_process_group(proc, grace=10.0)


def _wait_until_up(server: Server, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited:\n{server.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"mlflow server did not start:\n{server.log.read_text()[-3000:]}")


_names = itertools.count()


@pytest.fixture
def mlflow_env(mlflow_server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """The server's URI and credentials in the environment, as a CI job would have them."""
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        monkeypatch.delenv(key)
    for key, value in mlflow_server.env.items():
        monkeypatch.setenv(key, value)
    return mlflow_server


@pytest.fixture
def experiment(mlflow_env: Server) -> str:
    """A fresh experiment for this test."""
    name = f"exp-{next(_names)}-{uuid.uuid4().hex[:6]}"
    mlflow_env.api("experiments/create", {"name": name})
    return name


def log_run(
    experiment: str,
    commit: str | None,
    *,
    metrics: Mapping[str, float | list[float]] = (),  # type: ignore[assignment]
    params: Mapping[str, Any] = (),  # type: ignore[assignment]
    tags: Mapping[str, str] = (),  # type: ignore[assignment]
    status: str = "FINISHED",
    artifacts: Mapping[str, str] = (),  # type: ignore[assignment]
) -> str:
    """A run logged in-process with the real MLflow client (a list is a step history)."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    all_tags = dict(tags)
    if commit is not None:
        all_tags["mlflow.source.git.commit"] = commit
    run = client.create_run(experiment_id, tags=all_tags)
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    points = []
    for key, value in dict(metrics).items():
        values = value if isinstance(value, list) else [value]
        points += [Metric(key, float(v), now + step, step) for step, v in enumerate(values)]
    client.log_batch(
        run_id, metrics=points, params=[Param(k, str(v)) for k, v in dict(params).items()]
    )
    for name, content in dict(artifacts).items():
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_text(content)
            client.log_artifact(run_id, str(path))
    if status != "RUNNING":
        client.set_terminated(run_id, status=status)
    return run_id


def run_tags(run_id: str) -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    return dict(MlflowClient().get_run(run_id).data.tags)
