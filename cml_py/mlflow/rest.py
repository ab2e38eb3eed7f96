"""A small client of the MLflow tracking server's REST API (standard library only).

Credentials are MLflow's own environment variables, read the way MLflow reads them:
`MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD` (basic auth), else
`MLFLOW_TRACKING_TOKEN` (bearer), else a `user:password@` in the tracking URI. Their
values are registered with cml_py.redact before the first request, and the URL cml-py
prints or links never carries them. Redirects are refused: following one would send the
credentials to wherever the response points.

Failures map to exit codes the way every other service does: 401/403 is bad input (2,
naming the variables to set), a server that cannot be reached or keeps answering 5xx
after retries is a service failure (3), an answer that is not MLflow's JSON is a service
failure too (3) — unless it looks like the URL is not an MLflow server at all (2).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from cml_py import redact
from cml_py.errors import CmlError, ServiceError
from cml_py.limits import time_budget
from cml_py.tokens import protect_url

API = "/api/2.0/mlflow"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 3
MAX_JSON_BYTES = 64 << 20
CREDENTIALS_HINT = (
    "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
)


class NotFound(Exception):
    """The server answered 404 (RESOURCE_DOES_NOT_EXIST): the caller says what is missing."""


class _TooLarge(Exception):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None  # urllib then raises HTTPError with the 3xx status


def _tls_context(env: Mapping[str, str]) -> ssl.SSLContext:
    """MLflow's TLS variables: a CA bundle, a client certificate, or (if asked) none."""
    name = "MLFLOW_TRACKING_SERVER_CERT_PATH"
    try:
        context = ssl.create_default_context(cafile=env.get(name) or None)
        name = "MLFLOW_TRACKING_CLIENT_CERT_PATH"
        if env.get(name):
            context.load_cert_chain(env[name])
    except (OSError, ssl.SSLError) as exc:
        raise CmlError(f"{name}: cannot load {env.get(name)!r} ({exc})") from None
    if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def credentials(uri: str, env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """(headers, the variables that supplied them) — every secret registered for masking."""
    parts = urllib.parse.urlsplit(uri)
    user, password = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD")
    source = "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
    if not (user and password) and parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        source = "the user:password in the tracking URI"
    if user and password:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        redact.register(password)
        redact.register(basic)
        return {"Authorization": f"Basic {basic}"}, source
    token = (env.get("MLFLOW_TRACKING_TOKEN") or "").strip()
    if token:
        redact.register(token)
        if not token.isprintable() or any(c.isspace() for c in token):
            raise CmlError(
                "MLFLOW_TRACKING_TOKEN: a line break, space or control character inside it "
                "(an HTTP header cannot carry one)"
            )
        return {"Authorization": f"Bearer {token}"}, "MLFLOW_TRACKING_TOKEN"
    return {}, ""


class Client:
    """One tracking server. `url` is the credential-free form used in every message."""

    def __init__(
        self,
        uri: str,
        env: Mapping[str, str] | None = None,
        *,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        env = os.environ if env is None else env
        self.url = protect_url(uri).rstrip("/")
        self.headers, self.credential_source = credentials(uri, env)
        self.headers["User-Agent"] = "cml-py"
        self.timeout = timeout
        self.sleep = sleep
        handlers: list[Any] = [_NoRedirect()]
        if self.url.startswith("https:"):
            handlers.append(urllib.request.HTTPSHandler(context=_tls_context(env)))
        self._opener = urllib.request.build_opener(*handlers)

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self._json("GET", f"{endpoint}{query}", None)

    def post(self, endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST for searches and tags: both are safe to repeat, so they are retried too."""
        return self._json("POST", endpoint, json.dumps(body).encode())

    def download(self, run_id: str, path: str, *, max_mb: float) -> bytes:
        """A run artifact through the server (the route its UI uses, which serves every
        artifact store the server can read), at most `max_mb` MiB, kept in memory: it
        never touches the checkout, and nothing is left behind."""
        query = urllib.parse.urlencode({"run_id": run_id, "path": path})
        limit = int(max_mb * (1 << 20))
        try:
            return self._request("GET", f"/get-artifact?{query}", None, limit=limit, what=path)
        except _TooLarge:
            raise CmlError(
                f"MLflow run {run_id[:7]}: artifact {path} is larger than {max_mb:g} MiB "
                "(mlflow.max_artifact_mb)"
            ) from None

    def _json(self, method: str, endpoint: str, body: bytes | None) -> dict[str, Any]:
        try:
            raw = self._request(method, f"{API}/{endpoint}", body)
        except _TooLarge:
            raise ServiceError(
                f"MLflow server {self.url}: {endpoint} answered more than "
                f"{MAX_JSON_BYTES >> 20} MiB"
            ) from None
        endpoint = endpoint.split("?", 1)[0]
        try:
            data = json.loads(raw)
        except RecursionError:
            raise ServiceError(
                f"MLflow server {self.url}: {endpoint} answered JSON nested too deeply"
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            if raw.lstrip()[:1] in (b"{", b"["):  # JSON, cut short: the server, not the URI
                raise ServiceError(
                    f"MLflow server {self.url}: {endpoint} answered incomplete JSON"
                ) from None
            raise CmlError(
                f"MLflow server {self.url} answered {endpoint} with something that is not "
                "JSON: is the tracking URI the server's root URL?"
            ) from None
        if not isinstance(data, dict):
            raise ServiceError(f"MLflow server {self.url}: {endpoint} answered {type(data)}")
        return data

    def _request(
        self,
        method: str,
        path: str,
        data: bytes | None,
        *,
        limit: int = MAX_JSON_BYTES,
        what: str | None = None,
    ) -> bytes:
        endpoint = what or path.split("?", 1)[0].removeprefix(API + "/")
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        last = ""
        for attempt in range(1, ATTEMPTS + 1):
            request = urllib.request.Request(self.url + path, data, headers, method=method)
            try:
                # `timeout` bounds each socket read; a server that drips its answer a
                # byte at a time is bounded by the whole answer's time as well.
                with (
                    time_budget(2 * self.timeout, lambda: self._too_slow(endpoint)),
                    self._opener.open(request, timeout=self.timeout) as response,
                ):
                    body: bytes = response.read(limit + 1)
                if len(body) > limit:
                    raise _TooLarge(endpoint)
                return body
            except urllib.error.HTTPError as exc:
                status, (message, by_mlflow) = exc.code, _error_message(exc)
                if status == 404 and not by_mlflow:
                    raise CmlError(
                        f"MLflow server {self.url}: {endpoint} is not there (404, not an "
                        "MLflow answer): is the tracking URI the server's root URL?"
                    ) from None
                if status == 404:
                    raise NotFound(message) from None
                if status in (401, 403):
                    raise self._refused(status, endpoint, message) from None
                if 300 <= status < 400:
                    raise CmlError(
                        f"MLflow server {self.url} redirected {endpoint} ({status}); cml-py "
                        "does not follow redirects with credentials: set the tracking URI "
                        "to the final address"
                    ) from None
                if status not in RETRY_STATUSES:
                    raise CmlError(
                        f"MLflow server {self.url} refused {endpoint} ({status}): {message}"
                    ) from None
                last = f"{status} {message}".strip()
                retry_after = exc.headers.get("Retry-After", "") if exc.headers else ""
            except http.client.HTTPException as exc:  # a status line, header or body cut
                last = f"a malformed HTTP answer ({type(exc).__name__})"
                retry_after = ""
            except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out, DNS
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, ssl.SSLCertVerificationError):
                    raise CmlError(
                        f"MLflow server {self.url}: its TLS certificate is not trusted "
                        f"({reason.verify_message}): set MLFLOW_TRACKING_SERVER_CERT_PATH to "
                        "the CA bundle that signed it"
                    ) from None
                last = f"cannot connect ({redact.redact(str(reason))})"
                retry_after = ""
            if attempt < ATTEMPTS:
                seconds = retry_after.isascii() and retry_after.isdigit()  # not "²"
                delay = float(retry_after) if seconds else 0.5 * 2 ** (attempt - 1)
                self.sleep(min(delay, 10.0))
        raise ServiceError(
            f"MLflow server {self.url}: {endpoint} failed after {ATTEMPTS} attempts: {last}"
        )

    def _too_slow(self, endpoint: str) -> ServiceError:
        return ServiceError(
            f"MLflow server {self.url}: {endpoint} did not answer in full within "
            f"{2 * self.timeout:g} s"
        )

    def _refused(self, status: int, endpoint: str, message: str) -> CmlError:
        word = "Unauthorized" if status == 401 else "Forbidden"
        if not self.credential_source:
            advice = f"it needs credentials: {CREDENTIALS_HINT}"
        elif status == 401:
            advice = f"the credentials from {self.credential_source} were refused: " + (
                f"{CREDENTIALS_HINT} to valid ones"
            )
        else:
            advice = (
                f"the credentials from {self.credential_source} lack the permission: "
                f"{CREDENTIALS_HINT} to a user who may read the experiment (and edit it, "
                "for mlflow.write_back)"
            )
        detail = f" ({message})" if message and status == 403 else ""
        return CmlError(
            f"MLflow server {self.url} answered {endpoint} with {status} {word}{detail}: {advice}"
        )


def _error_message(exc: urllib.error.HTTPError) -> tuple[str, bool]:
    """MLflow's `{"error_code", "message"}`, else the first line of the body; and
    whether it was MLflow's (a 404 page from another web server is not)."""
    try:
        raw = exc.read(4096)
    except OSError:
        return exc.reason or "", False
    try:
        data = json.loads(raw)
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            message = redact.redact(" ".join(data["message"].split()))[:300]  # masked, then cut
            return message, "error_code" in data
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        pass
    text = raw.decode("utf-8", "replace").strip().splitlines()
    return (redact.redact(text[0])[:300] if text else str(exc.reason or "")), False
