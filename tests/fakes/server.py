"""A WSGI app served on 127.0.0.1 in a thread, for the life of a test."""

from __future__ import annotations

import socket
import threading
from typing import Any

from werkzeug.serving import make_server


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
