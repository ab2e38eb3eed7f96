"""The pure parts of the MLflow source, and the REST client's failure handling against a
small local HTTP server that misbehaves on purpose (a real MLflow server does not answer
503 or redirect on demand)."""

from __future__ import annotations

import http.server
import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from cml_py import redact
from cml_py.config import MlflowConfig, parse_config
from cml_py.errors import CmlError, ServiceError
from cml_py.mlflow import runs as r
from cml_py.mlflow.rest import Client, credentials
from cml_py.mlflow.source import links, run_param_files
from cml_py.tokens import child_env, protect_url
from cml_py.trust import apply_policy, policy_changes

SHA = "0123456789abcdef0123456789abcdef01234567"


def config(text: str):
    import yaml

    return parse_config(yaml.safe_load(text), source="cml.yaml", root=Path("."))


# -- cml.yaml ------------------------------------------------------------------------


def test_mlflow_settings_parse() -> None:
    parsed = config(
        "mlflow: {tracking_uri: 'https://mlflow.example:5000/', experiment: churn,"
        " pr_experiment: churn-pr, run_id_file: run-id, predictions: eval/p.csv,"
        " curves: ['*loss'], write_back: true, max_artifact_mb: 5}\n"
        "baseline: {strategy: mlflow}\n"
    ).mlflow
    assert parsed == MlflowConfig(
        tracking_uri="https://mlflow.example:5000/",
        experiment="churn",
        pr_experiment="churn-pr",
        run_id_file="run-id",
        predictions="eval/p.csv",
        curves=("*loss",),
        write_back=True,
        max_artifact_mb=5.0,
    )
    assert config("mlflow: {experiment: e, curves: []}").mlflow.curves == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "mlflow: {tracking_uri: 'sqlite:///mlflow.db'}",
            "cml.yaml: mlflow.tracking_uri: expected the http(s) URL of an MLflow tracking "
            "server, got sqlite:… (serve a database or file store with `mlflow server`)",
        ),
        (
            "mlflow: {tracking_uri: 'postgresql://u:secret@db/x'}",
            "got postgresql:… (serve",
        ),
        ("mlflow: {predictions: ../../etc/passwd}", "mlflow.predictions: expected a relative"),
        ("mlflow: {predictions: /abs.csv}", "mlflow.predictions: expected a relative"),
        ("mlflow: {experiments: x}", "mlflow.experiments: unknown key; did you mean 'experiment'?"),
        ("mlflow: {max_artifact_mb: 0}", "mlflow.max_artifact_mb: expected a number of MiB > 0"),
        ("mlflow: [x]", "cml.yaml: mlflow: expected a mapping"),
        (
            "baseline: {strategy: mlflow}",
            "baseline.strategy: mlflow needs an `mlflow:` section",
        ),
    ],
)
def test_bad_mlflow_settings_name_the_key(text: str, message: str) -> None:
    with pytest.raises(CmlError) as exc:
        config(text)
    assert message in str(exc.value)
    assert "secret" not in str(exc.value)


def test_mlflow_settings_are_policy() -> None:
    main = config("mlflow: {experiment: prod, tracking_uri: 'https://u:pw-secret@mlflow.corp'}")
    pr = config("mlflow: {experiment: mine, tracking_uri: 'http://evil.example'}")
    assert apply_policy(pr, main).mlflow == main.mlflow
    changes = dict((k, (a, b)) for k, a, b in policy_changes(main, pr))
    assert changes["mlflow.experiment"] == ("prod", "mine")
    assert changes["mlflow.tracking_uri"] == ("https://mlflow.corp", "http://evil.example")
    added = dict((k, (a, b)) for k, a, b in policy_changes(config("{}"), pr))
    assert added["mlflow"] == ("—", "{tracking_uri: http://evil.example, experiment: mine}")
    assert apply_policy(pr, config("{}")).mlflow is None  # main has none: none applies


# -- credentials ---------------------------------------------------------------------


def test_training_commands_get_mlflow_credentials_and_git_does_not() -> None:
    env = {
        "PATH": "/bin",
        "GITHUB_TOKEN": "ghs_x",
        "MLFLOW_TRACKING_URI": "http://m",
        "MLFLOW_TRACKING_TOKEN": "t",
        "MLFLOW_TRACKING_PASSWORD": "p",
        "MLFLOW_EXPERIMENT_NAME": "e",
    }
    training = child_env(base=env, training=True)
    helper = child_env(base=env)
    assert "GITHUB_TOKEN" not in training and "GITHUB_TOKEN" not in helper
    assert (
        training["MLFLOW_TRACKING_TOKEN"] == "t" and training["MLFLOW_TRACKING_URI"] == "http://m"
    )
    assert not {"MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI"} & set(
        helper
    )
    assert helper["MLFLOW_EXPERIMENT_NAME"] == "e"  # not a secret


def test_credentials_follow_mlflows_order_and_are_masked() -> None:
    headers, source = credentials(
        "https://uri-user:uri-secret-1@h",
        {"MLFLOW_TRACKING_USERNAME": "u", "MLFLOW_TRACKING_PASSWORD": "env-secret-1"},
    )
    assert source == "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
    assert headers["Authorization"].startswith("Basic ")
    assert redact.redact("env-secret-1") == redact.MASK
    headers, source = credentials("https://h", {"MLFLOW_TRACKING_TOKEN": "bearer-secret-1"})
    assert headers == {"Authorization": "Bearer bearer-secret-1"}
    assert redact.redact("x bearer-secret-1") == "x " + redact.MASK
    _, source = credentials("https://uri-user:uri-secret-2@h", {})
    assert source == "the user:password in the tracking URI"
    assert protect_url("https://uri-user:uri-secret-2@h:5000/p") == "https://h:5000/p"
    assert redact.redact("uri-secret-2") == redact.MASK
    assert credentials("https://h", {}) == ({}, "")


# -- runs ----------------------------------------------------------------------------


def run_json(**info) -> dict:
    base = {
        "run_id": "a" * 32,
        "experiment_id": "3",
        "run_name": "brave-owl",
        "status": "FINISHED",
        "lifecycle_stage": "active",
        "start_time": 1,
    }
    return {
        "run": {
            "info": base | info,
            "data": {
                "metrics": [
                    {"key": "acc", "value": 0.9, "step": 0, "timestamp": 1},
                    {"key": "nan", "value": "NaN", "step": 0, "timestamp": 1},
                    {"key": "inf", "value": 1.7976931348623157e308, "step": 0, "timestamp": 1},
                    {"key": "loss", "value": 0.1, "step": 9, "timestamp": 1},
                ],
                "params": [{"key": "lr", "value": "0.01"}, {"key": "kind", "value": "rf"}],
                "tags": [
                    {"key": r.COMMIT_TAG, "value": SHA},
                    {"key": "team", "value": "search"},
                    {"key": "cml-py.verdict", "value": "pass"},
                ],
            },
        }
    }


def test_a_run_parses_with_mlflows_encodings_of_non_finite_values() -> None:
    run = r.parse_run(run_json(), "test")
    assert run.metrics["acc"] == 0.9 and math.isnan(run.metrics["nan"])
    assert run.metrics["inf"] == math.inf  # the SQL store's clamped infinity, restored
    assert run.steps == {"acc": 0, "nan": 0, "inf": 0, "loss": 9}
    assert (run.commit, run.label) == (SHA, "brave-owl (aaaaaaa)")
    (params,) = run_param_files(run)
    assert params.values == {"kind": "rf", "lr": 0.01, "tags.team": "search"}


def _hostile_run(**change: object) -> dict:
    """run_json with its first metric (or its info) changed as a hostile server might."""
    data = run_json()
    metric = data["run"]["data"]["metrics"][0]
    for key, value in change.items():
        (data["run"]["info"] if key == "start_time" else metric)[key] = value
    return data


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"run": {"info": {}}},
        {"run": {"info": {"run_id": "../x", "experiment_id": "1"}}},
        _hostile_run(step=math.inf),  # OverflowError: int(inf)
        _hostile_run(start_time=math.inf),
        _hostile_run(value=10**400),  # OverflowError: int too large for a float
        _hostile_run(key=7),  # a key that is no string: sorted beside strings later
    ],
)
def test_a_malformed_run_is_a_service_error(bad) -> None:
    with pytest.raises(ServiceError):
        r.parse_run(bad, "MLflow server x: runs/get")


@pytest.mark.parametrize(
    ("info", "tags", "message"),
    [
        ({"experiment_id": "4"}, None, "is in experiment 4, not in 'main-exp': cml-py reads"),
        ({"lifecycle_stage": "deleted"}, None, "is deleted"),
        ({"status": "RUNNING"}, None, "is RUNNING, not FINISHED: end the run"),
        ({"status": "KILLED"}, None, "is KILLED, not FINISHED: the training did not complete"),
        ({}, {}, f"has no {r.COMMIT_TAG} tag"),
        (
            {},
            {r.COMMIT_TAG: "f" * 40},
            "was logged at commit ffffffffffff, not at HEAD 0123456789ab",
        ),
    ],
)
def test_a_run_that_is_not_this_prs_is_refused(info, tags, message) -> None:
    run = r.parse_run(run_json(**info), "t")
    if tags is not None:
        run = r.Run(**{**run.__dict__, "tags": tags})
    with pytest.raises(CmlError) as exc:
        r.check_head_run(run, experiments={"3": "main-exp"}, head_sha=SHA, origin="run-id.txt")
    assert f"MLflow run brave-owl (aaaaaaa) (from run-id.txt) {message}" in str(exc.value)


def test_ids_are_checked_before_they_reach_a_url_or_a_filter() -> None:
    with pytest.raises(CmlError, match="expected an MLflow run id"):
        r.check_run_id("abc/../../x?y=1", "run-id.txt")
    with pytest.raises(CmlError, match="not a commit id"):
        r.search_filter("x' or tags.a = 'b")
    assert r.search_filter(SHA) == (
        f"tags.`{r.COMMIT_TAG}` = '{SHA}' and attributes.status = 'FINISHED'"
    )


def test_links_to_both_runs_and_the_compare_view() -> None:
    head = r.parse_run(run_json(run_id="b" * 32), "t")
    base = r.parse_run(run_json(), "t")
    found = dict(links("https://mlflow.corp", head, base))
    assert found["this PR's MLflow run"] == f"https://mlflow.corp/#/experiments/3/runs/{'b' * 32}"
    assert found["compare in MLflow"] == (
        "https://mlflow.corp/#/compare-runs?runs=%5B%22"
        + "a" * 32
        + "%22%2C%20%22"
        + "b" * 32
        + "%22%5D&experiments=%5B%223%22%5D"
    )
    odd = r.parse_run(run_json(experiment_id="x)](javascript:alert(1))"), "t")
    assert links("https://mlflow.corp", odd, None) == ()


def test_history_keeps_the_last_value_of_each_step_in_order() -> None:
    points = [
        {"step": 2, "value": 0.3, "timestamp": 5},
        {"step": 0, "value": 0.9, "timestamp": 1},
        {"step": 2, "value": 0.2, "timestamp": 9},
        {"step": 1, "value": "NaN", "timestamp": 2},
    ]
    steps, values = r.series(points)
    assert steps == [0.0, 1.0, 2.0] and values[0] == 0.9 and math.isnan(values[1])
    assert values[2] == 0.2


# -- the REST client's failures ------------------------------------------------------


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each request with the next (status, headers, body) of `script`."""

    script: ClassVar[list[tuple[int, dict[str, str], bytes]]] = []
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        status, headers, body = self.script.pop(0)
        if status == 0:  # not HTTP at all: the bytes as they are
            self.wfile.write(body)
            self.close_connection = True
            return
        if status < 0:  # a valid answer, a byte every 0.2 s
            import time

            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return
                time.sleep(0.2)
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Scripted.script, Scripted.seen = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client(url: str, env: dict | None = None) -> tuple[Client, list[float]]:
    slept: list[float] = []
    return Client(url, env or {}, sleep=slept.append, timeout=5), slept


def test_5xx_is_retried_then_a_service_error(scripted: str) -> None:
    ok = json.dumps({"experiment": {"experiment_id": "1"}}).encode()
    Scripted.script = [(503, {"Retry-After": "2"}, b"busy"), (502, {}, b""), (200, {}, ok)]
    c, slept = client(scripted)
    assert r.experiment_id(c, "e", "mlflow.experiment") == "1"
    assert slept == [2.0, 1.0]
    Scripted.script = [(500, {}, b'{"message": "db down"}')] * 3
    with pytest.raises(ServiceError) as exc:
        c.get("runs/get", {"run_id": "x"})
    assert str(exc.value) == (
        f"MLflow server {scripted}: runs/get failed after 3 attempts: 500 db down"
    )


def test_a_retry_after_that_is_no_ascii_number_falls_back_to_backoff(scripted: str) -> None:
    """'²' passes str.isdigit() but not float(): the server's header must not crash us."""
    ok = json.dumps({"experiment": {"experiment_id": "1"}}).encode()
    Scripted.script = [(503, {"Retry-After": "\u00b2"}, b"busy"), (200, {}, ok)]
    c, slept = client(scripted)
    assert r.experiment_id(c, "e", "mlflow.experiment") == "1"
    assert slept == [0.5]


def test_a_redirect_is_not_followed_with_credentials(scripted: str) -> None:
    Scripted.script = [(302, {"Location": "http://attacker.example/"}, b"")]
    c, _ = client(scripted, {"MLFLOW_TRACKING_TOKEN": "redirect-secret-1"})
    with pytest.raises(CmlError, match="cml-py does not follow redirects with credentials"):
        c.get("experiments/get-by-name", {"experiment_name": "e"})
    assert Scripted.seen == ["Bearer redirect-secret-1"] and not Scripted.script


def test_an_answer_that_is_not_mlflows_json_is_bad_input(scripted: str) -> None:
    Scripted.script = [(200, {}, b"<html>login</html>")]
    c, _ = client(scripted + "/")
    with pytest.raises(CmlError, match="is the tracking URI the server's root URL"):
        c.get("experiments/get-by-name", {"experiment_name": "e"})


def test_a_400_carries_mlflows_message(scripted: str) -> None:
    body = json.dumps({"error_code": "INVALID_PARAMETER_VALUE", "message": "bad filter"}).encode()
    Scripted.script = [(400, {}, body)]
    c, _ = client(scripted)
    with pytest.raises(CmlError) as exc:
        c.get("runs/get", {"run_id": "x"})
    assert not isinstance(exc.value, ServiceError)
    assert str(exc.value) == f"MLflow server {scripted} refused runs/get (400): bad filter"


def test_a_certificate_that_cannot_be_loaded_names_its_variable(tmp_path: Path) -> None:
    with pytest.raises(CmlError, match=r"^MLFLOW_TRACKING_SERVER_CERT_PATH: cannot load"):
        Client("https://h", {"MLFLOW_TRACKING_SERVER_CERT_PATH": str(tmp_path / "none.pem")})
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(CmlError, match=r"^MLFLOW_TRACKING_CLIENT_CERT_PATH: cannot load"):
        Client("https://h", {"MLFLOW_TRACKING_CLIENT_CERT_PATH": str(tmp_path / "bad.pem")})


def test_history_pages_that_never_end_are_a_service_error(scripted: str) -> None:
    """A next_page_token with an empty page, or one given before, would page forever
    (147,842 requests in a minute against a hostile server)."""
    again = json.dumps({"metrics": [], "next_page_token": "again"}).encode()
    Scripted.script = [(200, {}, again)] * 3
    c, _ = client(scripted)
    with pytest.raises(ServiceError, match="pages without end"):
        r.history(c, "a" * 32, "loss")
    point = {"key": "loss", "value": 1.0, "step": 1, "timestamp": 1}
    loop = json.dumps({"metrics": [point], "next_page_token": "same"}).encode()
    Scripted.script = [(200, {}, loop)] * 3
    with pytest.raises(ServiceError, match="pages without end"):
        r.history(c, "a" * 32, "loss")
    assert len(Scripted.seen) == 3  # an empty page stops at once; a repeated token on its second


def test_an_answer_that_is_not_http_is_retried_then_a_service_error(scripted: str) -> None:
    Scripted.script = [(0, {}, b"garbage\r\n\r\n")] * 3
    c, slept = client(scripted)
    with pytest.raises(ServiceError, match="failed after 3 attempts: a malformed HTTP answer"):
        c.get("runs/get", {"run_id": "x"})
    assert len(slept) == 2


def test_json_cut_short_is_the_servers_failure_not_a_wrong_uri(scripted: str) -> None:
    Scripted.script = [(200, {}, b'{"experiment": {"experiment_id": "1"')]
    c, _ = client(scripted)
    with pytest.raises(ServiceError, match="experiments/get-by-name answered incomplete JSON"):
        c.get("experiments/get-by-name", {"experiment_name": "e"})


def test_a_long_error_message_is_masked_before_it_is_cut(scripted: str) -> None:
    """A server echoing the Authorization header after 270 characters: cutting first
    left the start of the base64 credentials, which masking no longer recognised."""
    env = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "adm1n-pw-0123"}
    c, _ = client(scripted, env)
    basic = Scripted.seen  # filled by the first request below
    message = "x" * 270 + " auth was " + "{auth}"
    Scripted.script = [(400, {}, b"")]
    with pytest.raises(CmlError):
        c.get("runs/get", {"run_id": "x"})
    header = basic[0].removeprefix("Basic ")
    Scripted.script = [(400, {}, json.dumps({"message": message.format(auth=header)}).encode())]
    with pytest.raises(CmlError) as exc:
        c.get("runs/get", {"run_id": "x"})
    assert header[:8] not in str(exc.value) and "x" * 200 in str(exc.value)


@pytest.mark.parametrize("token", ["abc\ndef", "abc def", "abc\x00def"])
def test_a_token_an_http_header_cannot_carry_is_bad_input(token: str) -> None:
    with pytest.raises(CmlError, match=r"^MLFLOW_TRACKING_TOKEN: a line break, space or control"):
        credentials("http://127.0.0.1:1", {"MLFLOW_TRACKING_TOKEN": token})


def test_a_tracking_uri_with_a_space_is_bad_input() -> None:
    from cml_py.config_sections import check_server_url

    with pytest.raises(CmlError, match=r"^MLFLOW_TRACKING_URI: expected a URL without spaces"):
        check_server_url("http://127.0.0.1:5000/my path", "MLFLOW_TRACKING_URI")


def test_an_answer_dripped_a_byte_at_a_time_is_bounded(scripted: str) -> None:
    """Each read gets a byte within the socket timeout, so only a bound on the whole
    answer stops a server that sends one byte a second (the job hung past 120 s)."""
    import time

    Scripted.script = [(-1, {}, b'{"experiment": {"experiment_id": "1"}}' + b" " * 100)]
    c = Client(scripted, {}, sleep=lambda _: None, timeout=1)
    started = time.monotonic()
    with pytest.raises(ServiceError, match="did not answer in full within 2 s"):
        c.get("experiments/get-by-name", {"experiment_name": "e"})
    assert time.monotonic() - started < 5


def test_a_404_page_that_is_not_mlflows_says_to_check_the_uri(scripted: str) -> None:
    """A tracking URI with a wrong path prefix gets the web server's own 404 page; that
    is not "no experiment named …", which sent users looking for the experiment."""
    Scripted.script = [(404, {}, b"<!doctype html><title>404 Not Found</title>")]
    c, _ = client(scripted + "/mlflow")
    with pytest.raises(CmlError, match="is the tracking URI the server's root URL"):
        r.experiment_id(c, "e", "mlflow.experiment")
    missing = {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Could not find experiment"}
    Scripted.script = [(404, {}, json.dumps(missing).encode())]
    with pytest.raises(CmlError, match=r"^mlflow\.experiment: no experiment named 'e' on"):
        r.experiment_id(c, "e", "mlflow.experiment")
