"""A stateful fake of the GitLab REST API (v4) for notes, discussions, uploads and
commit statuses, following GitLab's API documentation: PRIVATE-TOKEN and JOB-TOKEN
authentication (a job token may not write notes, uploads or statuses), offset
pagination with X-Next-Page and Link headers, and the project-relative upload URLs
GitLab returns. It can be mounted under a sub-path (self-managed instances) and can
inject 5xx, 429 with Retry-After, and a connection dropped after a write.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from werkzeug.wrappers import Request, Response

from tests.fakes.github import Fault, Seen
from tests.fakes.server import LocalServer, drop_connection, take_fault

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@dataclass
class FakeGitLab:
    project_id: int = 42
    project_path: str = "ml/models"
    prefix: str = ""  # e.g. "/gitlab" for an instance under a sub-path
    tokens: dict[str, str] = field(default_factory=dict)  # PRIVATE-TOKEN → username
    job_tokens: set[str] = field(default_factory=set)
    notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    redirect: tuple[str, str, str] | None = None
    """(method, API path regex, another server's URL): the next such request is answered
    with a redirect there (302 for GET, 307 otherwise), once."""
    link_base: str = ""
    """The address next-page links name, when it is not the one requests came to (an
    instance whose external_url is misconfigured)."""
    requests: list[Seen] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    base_url: str = ""
    _ids: Any = field(default_factory=lambda: itertools.count(501))
    _lock: Any = field(default_factory=threading.Lock)

    def serve(self) -> LocalServer:
        server = LocalServer(self.wsgi)
        self.base_url = server.url
        return server

    @property
    def api_url(self) -> str:
        return f"{self.base_url}{self.prefix}/api/v4"

    def add_note(
        self, kind: str, parent: str, body: str, username: str, *, system: bool = False
    ) -> int:
        note_id = next(self._ids)
        self.notes[note_id] = {
            "id": note_id,
            "kind": kind,
            "parent": parent,
            "body": body,
            "username": username,
            "system": system,
            "discussion": secrets.token_hex(20),
        }
        return note_id

    def notes_on(self, kind: str, parent: str) -> list[dict[str, Any]]:
        return sorted(
            (n for n in self.notes.values() if n["kind"] == kind and n["parent"] == parent),
            key=lambda n: n["id"],
        )

    # -- WSGI --------------------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Callable) -> Any:
        request = Request(environ)
        raw = request.get_data(cache=True)
        seen = Seen(
            request.method,
            request.path,
            request.query_string.decode(),
            dict(request.headers),
            raw.decode("utf-8", "replace"),
        )
        self.requests.append(seen)
        root = f"{self.prefix}/api/v4"
        path = request.environ.get("RAW_URI", request.path).split("?")[0]
        if not path.startswith(root):
            return self._respond(seen, 404, {"message": "404 Not Found"})(environ, start_response)
        api_path = path[len(root) :]
        if self.redirect is not None:
            method, pattern, other = self.redirect
            if request.method == method and re.fullmatch(pattern, api_path):
                self.redirect = None
                location = other + request.full_path.rstrip("?")
                code = 302 if method == "GET" else 307
                return self._respond(seen, code, None, {"Location": location})(
                    environ, start_response
                )
        fault = self._fault(request.method, api_path)
        if fault is not None and fault.kind != "reset":
            if fault.kind == "500":
                response = self._respond(seen, 500, {"message": "500 Internal Server Error"})
            else:
                response = self._respond(
                    seen,
                    429,
                    {"message": "429 Too Many Requests"},
                    {"Retry-After": str(int(fault.reset_in))},
                )
            return response(environ, start_response)
        with self._lock:
            status, payload, headers = self._route(request, api_path)
        response = self._respond(seen, status, payload, headers)
        if fault is not None and fault.kind == "reset":
            drop_connection(environ)
        return response(environ, start_response)

    def _respond(
        self, seen: Seen, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> Response:
        seen.status = status
        body = b"" if payload is None else json.dumps(payload)
        return Response(body, status=status, headers=headers or {}, content_type="application/json")

    def _fault(self, method: str, path: str) -> Fault | None:
        return take_fault(self.faults, self._lock, method, path)

    # -- routing ------------------------------------------------------------------------
    def _route(self, request: Request, path: str) -> tuple[int, Any, dict[str, str]]:
        private = request.headers.get("PRIVATE-TOKEN")
        job = request.headers.get("JOB-TOKEN")
        if private is not None and private in self.tokens:
            user = self.tokens[private]
        elif job is not None and job in self.job_tokens:
            user = None  # a job token: reads of the project only
        else:
            return 401, {"message": "401 Unauthorized"}, {}
        if path == "/user":
            if user is None:
                return 401, {"message": "401 Unauthorized"}, {}
            return 200, self._user(user), {}
        match = re.fullmatch(r"/projects/([^/]+)(/.*)", path)
        if not match or unquote(match.group(1)) not in (str(self.project_id), self.project_path):
            return 404, {"message": "404 Project Not Found"}, {}
        rest = match.group(2)
        if user is None and request.method != "GET":
            return 403, {"message": "403 Forbidden"}, {}
        for pattern, handler in (
            (r"GET /(merge_requests|issues)/(\d+)/notes", self._list_notes),
            (r"POST /(merge_requests|issues)/(\d+)/notes", self._create_note),
            (r"(PUT|DELETE) /(merge_requests|issues)/(\d+)/notes/(\d+)", self._change_note),
            (r"GET /repository/commits/([0-9a-f]+)/discussions", self._list_discussions),
            (r"POST /repository/commits/([0-9a-f]+)/discussions", self._create_discussion),
            (
                r"(PUT|DELETE) /repository/commits/([0-9a-f]+)/discussions/([0-9a-f]+)/notes/(\d+)",
                self._change_discussion_note,
            ),
            (r"POST /uploads", self._upload),
            (r"POST /statuses/([0-9a-f]+)", self._status),
        ):
            found = re.fullmatch(pattern, f"{request.method} {rest}")
            if found:
                return handler(request, user, *found.groups())
        return 404, {"message": "404 Not Found"}, {}

    def _user(self, username: str) -> dict[str, Any]:
        return {
            "id": 7,
            "username": username,
            "name": username.title(),
            "state": "active",
            "web_url": f"{self.base_url}{self.prefix}/{username}",
        }

    def _note_json(self, note: dict[str, Any]) -> dict[str, Any]:
        noteable = {"merge_requests": "MergeRequest", "issues": "Issue"}.get(note["kind"], "Commit")
        return {
            "id": note["id"],
            "type": None,
            "body": note["body"],
            "attachment": None,
            "author": self._user(note["username"]),
            "created_at": "2026-11-27T00:00:00.000Z",
            "updated_at": "2026-11-27T00:00:00.000Z",
            "system": note["system"],
            "noteable_type": noteable,
            "resolvable": False,
            "confidential": False,
            "internal": False,
            "noteable_iid": int(note["parent"]) if note["parent"].isdigit() else None,
            "commands_changes": {},
        }

    @staticmethod
    def _data(request: Request) -> dict[str, Any]:
        if request.is_json:
            return request.get_json() or {}
        return request.form.to_dict()

    def _page(self, request: Request, items: list[Any]) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(request.args.get("per_page", 20)), 100)
        page = int(request.args.get("page", 1))
        pages = max(1, -(-len(items) // per_page))
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(pages),
            "X-Next-Page": str(page + 1) if page < pages else "",
        }
        if page < pages:
            query = {**request.args.to_dict(), "page": page + 1, "per_page": per_page}
            base = self.link_base or self.base_url
            headers["Link"] = f'<{base}{request.path}?{urlencode(query)}>; rel="next"'
        return 200, items[(page - 1) * per_page : page * per_page], headers

    def _list_notes(self, request, user, kind, iid):
        return self._page(request, [self._note_json(n) for n in self.notes_on(kind, iid)])

    def _create_note(self, request, user, kind, iid):
        body = self._data(request).get("body")
        if not body:
            return 400, {"message": "400 Bad request - body is missing"}, {}
        if len(body) > 1_000_000:
            return 400, {"message": {"note": ["is too long (maximum is 1000000 characters)"]}}, {}
        note_id = self.add_note(kind, iid, body, user)
        return 201, self._note_json(self.notes[note_id]), {}

    def _change_note(self, request, user, method, kind, iid, note_id):
        note = self.notes.get(int(note_id))
        found = note is not None and note["kind"] == kind and note["parent"] == iid
        return self._edit_or_delete(request, user, method, note if found else None)

    def _edit_or_delete(self, request, user, method, note):
        """PUT/DELETE of one note, by its author only (what GitLab allows a non-admin)."""
        if note is None:
            return 404, {"message": "404 Not found"}, {}
        if note["username"] != user:
            return 403, {"message": "403 Forbidden"}, {}
        if method == "DELETE":
            del self.notes[note["id"]]
            return 204, None, {}
        note["body"] = self._data(request).get("body", note["body"])
        return 200, self._note_json(note), {}

    def _discussion_json(self, note: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": note["discussion"],
            "individual_note": False,
            "notes": [self._note_json(note)],
        }

    def _list_discussions(self, request, user, sha):
        return self._page(request, [self._discussion_json(n) for n in self.notes_on("commit", sha)])

    def _create_discussion(self, request, user, sha):
        note_id = self.add_note("commit", sha, self._data(request)["body"], user)
        return 201, self._discussion_json(self.notes[note_id]), {}

    def _change_discussion_note(self, request, user, method, sha, discussion, note_id):
        note = self.notes.get(int(note_id))
        found = note is not None and note["discussion"] == discussion
        return self._edit_or_delete(request, user, method, note if found else None)

    def _upload(self, request, user):
        upload = request.files.get("file")
        if upload is None:
            return 400, {"message": "400 Bad request - file is missing"}, {}
        secret = secrets.token_hex(16)
        name = upload.filename
        self.uploads[f"{secret}/{name}"] = upload.read()
        url = f"/uploads/{secret}/{name}"
        return (
            201,
            {
                "id": next(self._ids),
                "alt": name.rsplit(".", 1)[0],
                "url": url,
                "full_path": f"{self.prefix}/-/project/{self.project_id}/uploads/{secret}/{name}",
                "markdown": f"![{name.rsplit('.', 1)[0]}]({url})",
            },
            {},
        )

    def _status(self, request, user, sha):
        data = self._data(request)
        if data.get("state") not in (
            "pending",
            "running",
            "success",
            "failed",
            "canceled",
            "skipped",
        ):
            return 400, {"message": "400 Bad request - state does not have a valid value"}, {}
        self.statuses.append({"sha": sha, **data})
        return (
            201,
            {
                "id": next(self._ids),
                "sha": sha,
                "status": data["state"],
                "name": data.get("name", "default"),
                "target_url": data.get("target_url"),
                "description": data.get("description"),
                "allow_failure": False,
                "author": self._user(user),
            },
            {},
        )
