"""A WSGI app served on 127.0.0.1 in a thread, for the life of a test."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class LocalServer:
    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's connection without answering: the request was processed but
    the client cannot know it (a connection reset mid-POST)."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        raise RuntimeError("werkzeug did not expose the socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def take_fault(faults: list, lock: Any, method: str, path: str) -> Any:
    """The first armed fault for this request, used up once; None when there is none."""
    import re

    with lock:
        for fault in faults:
            if fault.times > 0 and fault.method == method and re.fullmatch(fault.path, path):
                fault.times -= 1
                return fault
    return None


@dataclass
class Answer:
    """An answer a real forge does not give but a proxy, a load balancer or a broken
    instance can: a redirect elsewhere, an HTML page, truncated JSON. `make` gets the
    request and the fake's own response and returns what the client receives instead.
    With `forward` the fake handles the request first, so its state changes stick (a
    proxy mangled the answer to a write that happened); without, the fake never sees
    it (`make` gets None). Used `times` times on requests matching `method` and the
    `path` regex (the full request path)."""

    method: str
    path: str
    make: Callable[[Request, Response | None], Response]
    times: int = 1
    forward: bool = True


class Interposer:
    """A server in front of a fake that replaces some of its answers (see Answer); the
    fake's own URLs (pagination links, html_url) point at the front, as a real forge's
    point at its proxy, so set up the CI environment inside the `with`. Requests still
    go from the real client over real HTTP."""

    def __init__(self, fake: Any, answers: list[Answer]) -> None:
        self.fake = fake
        self.answers = answers
        self.server = LocalServer(self.wsgi)
        self.upstream = fake.base_url
        self._lock = threading.Lock()

    def wsgi(self, environ: dict[str, Any], start_response: Callable) -> Any:
        request = Request(environ)  # method and path only: the fake reads the body
        answer = take_fault(self.answers, self._lock, request.method, request.path)
        if answer is None:
            return self.fake.wsgi(environ, start_response)
        own = Response.from_app(self.fake.wsgi, environ) if answer.forward else None
        return answer.make(request, own)(environ, start_response)

    def __enter__(self) -> Interposer:
        self.server.__enter__()
        self.fake.base_url = self.server.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.fake.base_url = self.upstream
        self.server.__exit__(*exc)
