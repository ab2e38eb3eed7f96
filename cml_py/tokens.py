"""The forge tokens in cml-py's environment: known once, masked everywhere, and never
handed to a process cml-py starts.

cml-py holds a token that can write to the repository while it runs code the pull
request controls (a training command, main's re-training, git hooks). None of those
needs the token, so every child process gets an environment without any variable that
may hold one, and anything a child prints is masked before it is echoed.

This does not make a hostile training command harmless: it runs as the same user as
the CI step, and the step's shell holds the token in its own environment. It stops the
accidental leak (a script that logs its environment, a library that reports it); the
deliberate one is stopped by not giving the job that runs PR code a write token at all
(see the two-workflow setup in docs/ci-setup.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cml_py import redact

TOKEN_VARIABLES = (
    "CML_PY_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITLAB_TOKEN",
    "GL_TOKEN",
    "CI_JOB_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
)
SERVICE_CREDENTIALS = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_URI",  # may carry user:password@
)
"""MLflow's credentials: the training command needs them (it logs its run to the tracking
server) and gets them; git and every other helper does not. They are masked like tokens.
They are never the forge token: that one a training command never sees."""
_SERVICE_SECRETS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD")
_extra: list[str] = []


def add_token_variable(name: str) -> None:
    """A variable named by `--token-env`: treated exactly like the known ones."""
    if name not in _extra and name not in TOKEN_VARIABLES:
        _extra.append(name)
    value = os.environ.get(name)
    if value:
        redact.register(value)
        redact.register(value.strip())


def token_variables() -> tuple[str, ...]:
    return (*TOKEN_VARIABLES, *_extra)


def extra_token_variables() -> tuple[str, ...]:
    """The variables named by --token-env, read before the usual ones."""
    return tuple(_extra)


def protect(env: Mapping[str, str] | None = None) -> None:
    """Register every token value present, so it is masked wherever it might surface
    (a child's output, an exception message, a log record) before it is ever read."""
    env = os.environ if env is None else env
    for name in (*token_variables(), *_SERVICE_SECRETS):
        value = env.get(name)
        if value:
            redact.register(value)
            redact.register(value.strip())
    uri = env.get("MLFLOW_TRACKING_URI", "")
    if "@" in uri:
        redact.register_url(uri)  # also when the URL does not parse (a `#` in a password)
        protect_url(uri)


def protect_url(url: str) -> str:
    """Mask the password of `scheme://user:password@host` everywhere; returns the URL
    without its credentials, the only form cml-py ever prints."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unparsable URL)"
    if parts.password:
        redact.register(parts.password)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=host))


def child_env(
    extra: Mapping[str, str] | None = None,
    *,
    base: Mapping[str, str] | None = None,
    training: bool = False,
) -> dict[str, str]:
    """The environment for a process cml-py starts: ours, minus every token variable,
    and minus MLflow's credentials unless it is a training command (which logs to MLflow)."""
    source = os.environ if base is None else base
    hidden = set(token_variables()) | (set() if training else set(SERVICE_CREDENTIALS))
    env = {k: v for k, v in source.items() if k not in hidden}
    env.update(extra or {})
    for name in hidden:
        env.pop(name, None)
    return env
