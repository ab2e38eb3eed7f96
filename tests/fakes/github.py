"""A stateful fake of the GitHub REST API, checked against GitHub's own description.

Every request the fake receives and every response it returns is validated against the
official OpenAPI description (npm @octokit/openapi); a mismatch is recorded in
`spec_errors` and fails the test. The fake holds issues' and commits' comments, check
runs, commit statuses and a small git object store, paginates like GitHub (Link
headers), enforces per-token permissions, and can inject faults: 5xx, primary and
secondary rate limits, and a connection dropped after a write was applied.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from tests.fakes import openapi
from tests.fakes.server import LocalServer, drop_connection, take_fault

logging.getLogger("werkzeug").setLevel(logging.ERROR)

DENIED = {
    "message": "Resource not accessible by integration",
    "documentation_url": "https://docs.github.com/rest",
}
ALL_PERMISSIONS = frozenset({"pull_requests", "issues", "contents", "checks", "statuses"})


@dataclass
class Token:
    login: str | None  # None: an installation token (GITHUB_TOKEN), which cannot read /user
    permissions: frozenset[str] = ALL_PERMISSIONS
    app: bool = True  # check runs need an app/installation token
    bot: str = "github-actions[bot]"  # who an installation token's comments are by


@dataclass
class Fault:
    method: str
    path: str  # regex on the API path (without the /api/v3 prefix)
    kind: str  # "500", "403", "422", "reset", "rate", "secondary"
    times: int = 1
    reset_in: float = 2.0


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str
    status: int = 0


@dataclass
class FakeGitHub:
    owner: str = "octo"
    repo: str = "models"
    prefix: str = ""  # "/api/v3" for GitHub Enterprise Server
    tokens: dict[str, Token] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    before_request: Callable[[str, str], None] | None = None
    """Called with (method, path) as each request arrives: a test's way to have someone
    else act on GitHub in the middle of a run (delete a comment, say)."""
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    git_objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    default_branch: str = "main"
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    spec_errors: list[str] = field(default_factory=list)
    base_url: str = ""
    _ids: Any = field(default_factory=lambda: itertools.count(1001))
    _lock: Any = field(default_factory=threading.Lock)

    # -- helpers for tests -----------------------------------------------------------
    def serve(self) -> LocalServer:
        server = LocalServer(self.wsgi)
        self.base_url = server.url
        return server

    @property
    def api_url(self) -> str:
        return self.base_url + self.prefix

    def add_comment(self, issue: int, body: str, login: str, *, commit: str | None = None) -> int:
        comment_id = next(self._ids)
        self.comments[comment_id] = {
            "id": comment_id,
            "issue": issue,
            "commit": commit,
            "body": body,
            "login": login,
        }
        return comment_id

    def add_pull(
        self, number: int, head_sha: str, *, branch: str = "feature", owner: str | None = None
    ) -> None:
        """An open pull request whose head is `owner:branch` at `head_sha`."""
        self.pulls[number] = {
            "number": number,
            "sha": head_sha,
            "branch": branch,
            "owner": owner or self.owner,
            "state": "open",
        }

    def comments_on(self, issue: int | None = None, commit: str | None = None) -> list[dict]:
        return [
            c
            for c in self.comments.values()
            if (issue is not None and c["issue"] == issue)
            or (commit is not None and c["commit"] == commit)
        ]

    def captured_text(self) -> str:
        """Everything clients sent (bodies and headers) — for leak scans of *output*
        the tests use the CLI's streams; this is what crossed the wire."""
        return "\n".join(f"{r.method} {r.path}?{r.query}\n{r.body}" for r in self.requests)

    # -- WSGI --------------------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Callable) -> Any:
        request = Request(environ)
        raw = request.get_data()
        environ["cml_py.body"] = raw  # the stream is consumed; validation re-reads this
        body = raw.decode("utf-8", "replace")
        seen = Seen(
            request.method, request.path, request.query_string.decode(), dict(request.headers), body
        )
        self.requests.append(seen)
        path = request.path
        if self.before_request is not None:
            self.before_request(request.method, path)
        if not path.startswith(self.prefix):
            return self._send(Response(status=404), seen)(environ, start_response)
        api_path = path[len(self.prefix) :] or "/"
        template = openapi.match_template(api_path)
        if template is None:
            self.spec_errors.append(f"{request.method} {api_path}: no such path in the spec")
        else:
            self._validate_request(environ, api_path)
        fault = self._fault(request.method, api_path)
        if fault is not None and fault.kind != "reset":
            response = self._fault_response(fault)
            return self._send(response, seen)(environ, start_response)
        with self._lock:
            status, payload, headers = self._route(
                request, api_path, json.loads(body) if body else None
            )
        response = Response(
            json.dumps(payload) if payload is not None else b"",
            status=status,
            headers=headers,
            content_type="application/json; charset=utf-8",
        )
        if template is not None and status != 401:
            self._validate_response(environ, api_path, response)
        if fault is not None and fault.kind == "reset":
            drop_connection(environ)
        return self._send(response, seen)(environ, start_response)

    def _send(self, response: Response, seen: Seen) -> Response:
        seen.status = response.status_code
        return response

    def _fault(self, method: str, path: str) -> Fault | None:
        return take_fault(self.faults, self._lock, method, path)

    def _fault_response(self, fault: Fault) -> Response:
        if fault.kind == "500":
            return Response(
                json.dumps({"message": "Server Error"}), status=502, content_type="application/json"
            )
        if fault.kind == "422":
            return Response(
                json.dumps(
                    {
                        "message": "Repository rule violations found",
                        "documentation_url": "https://docs.github.com/rest",
                    }
                ),
                status=422,
                content_type="application/json",
            )
        if fault.kind == "403":  # e.g. the conversation was locked after the last report
            return Response(json.dumps(DENIED), status=403, content_type="application/json")
        if fault.kind == "rate":
            reset = int(time.time() + fault.reset_in)
            return Response(
                json.dumps(
                    {
                        "message": "API rate limit exceeded for installation.",
                        "documentation_url": "https://docs.github.com/rest",
                    }
                ),
                status=403,
                content_type="application/json",
                headers={
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-limit": "5000",
                    "x-ratelimit-reset": str(reset),
                },
            )
        return Response(
            json.dumps(
                {
                    "message": "You have exceeded a secondary rate limit.",
                    "documentation_url": "https://docs.github.com/rest",
                }
            ),
            status=403,
            content_type="application/json",
            headers={"retry-after": str(int(fault.reset_in))},
        )

    # -- validation ---------------------------------------------------------------------
    def _spec_request(self, environ: dict[str, Any], api_path: str) -> Any:
        import io

        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest

        raw = environ.get("cml_py.body", b"")
        ref = re.match(r"^(/repos/[^/]+/[^/]+/git/refs?)/(.+)$", api_path)
        if ref:  # the spec's {ref} is one path parameter; `heads/main` is sent unescaped
            api_path = f"{ref.group(1)}/{ref.group(2).replace('/', '%2F')}"
        spec_environ = dict(environ)
        spec_environ.update(
            {
                "HTTP_HOST": "api.github.com",
                "SERVER_NAME": "api.github.com",
                "SERVER_PORT": "443",
                "wsgi.url_scheme": "https",
                "PATH_INFO": api_path,
                "SCRIPT_NAME": "",
                "wsgi.input": io.BytesIO(raw),
                "CONTENT_LENGTH": str(len(raw)),
            }
        )
        return WerkzeugOpenAPIRequest(Request(spec_environ))

    def _validate_request(self, environ: dict[str, Any], api_path: str) -> None:
        try:
            openapi.openapi().validate_request(self._spec_request(environ, api_path))
        except Exception as exc:
            self.spec_errors.append(f"request {environ['REQUEST_METHOD']} {api_path}: {_why(exc)}")

    def _validate_response(
        self, environ: dict[str, Any], api_path: str, response: Response
    ) -> None:
        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse

        try:
            openapi.openapi().validate_response(
                self._spec_request(environ, api_path), WerkzeugOpenAPIResponse(response)
            )
        except Exception as exc:
            # GitHub answers errors the description does not list for every operation
            # (403 for a check run from a PAT): they must still be GitHub's error shape.
            undocumented = "Unknown response http status" in str(exc)
            if (
                response.status_code >= 400
                and undocumented
                and openapi.is_basic_error(json.loads(response.get_data(as_text=True)))
            ):
                return
            self.spec_errors.append(
                f"response {environ['REQUEST_METHOD']} {api_path} {response.status_code}: {_why(exc)}"
            )

    # -- routing ------------------------------------------------------------------------
    def _route(self, request: Request, path: str, data: Any) -> tuple[int, Any, dict[str, str]]:
        token = self._token(request)
        if token is None:
            return (
                401,
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
                {},
            )
        method = request.method
        repo = f"/repos/{self.owner}/{self.repo}"
        if path == "/user" and method == "GET":
            if token.login is None:
                return 403, DENIED, {}
            return (
                200,
                openapi.body_for("/user", "get", 200, login=token.login, id=7, type="User"),
                {},
            )
        if path != repo and not path.startswith(repo + "/"):
            return (
                404,
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                {},
            )
        if path == repo and method == "GET":
            return 200, self._repo_body(), {}
        rest = path[len(repo) :]
        for pattern, handler in self._handlers():
            match = re.fullmatch(pattern, f"{method} {rest}")
            if match:
                return handler(request, token, data, *match.groups())
        return (
            404,
            {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
            {},
        )

    def _handlers(self) -> list[tuple[str, Callable]]:
        return [
            (r"GET /issues/(\d+)/comments", self._list_issue_comments),
            (r"POST /issues/(\d+)/comments", self._create_issue_comment),
            (r"(PATCH|DELETE) /issues/comments/(\d+)", self._change_comment),
            (r"GET /commits/([0-9a-f]+)/comments", self._list_commit_comments),
            (r"POST /commits/([0-9a-f]+)/comments", self._create_commit_comment),
            (r"(PATCH|DELETE) /comments/(\d+)", self._change_comment),
            (r"POST /check-runs", self._create_check_run),
            (r"PATCH /check-runs/(\d+)", self._update_check_run),
            (r"POST /statuses/([0-9a-f]+)", self._create_status),
            (r"GET /commits/([0-9a-f]+)/pulls", self._commit_pulls),
            (r"GET /commits/([0-9a-f]+)", self._get_commit),
            (r"GET /pulls", self._list_pulls),
            (r"GET /pulls/(\d+)", self._get_pull),
            (r"POST /git/blobs", self._create_blob),
            (r"POST /git/trees", self._create_tree),
            (r"POST /git/commits", self._create_git_commit),
            (r"GET /git/commits/([0-9a-f]+)", self._get_git_commit),
            (r"GET /git/ref/(.+)", self._get_ref),
            (r"POST /git/refs", self._create_ref),
            (r"PATCH /git/refs/(.+)", self._update_ref),
        ]

    def _repo_body(self) -> dict[str, Any]:
        return openapi.body_for(
            "/repos/{owner}/{repo}",
            "get",
            200,
            name=self.repo,
            full_name=f"{self.owner}/{self.repo}",
            default_branch=self.default_branch,
            url=self._repo_api(),
            html_url=self._html(),
        )

    def _token(self, request: Request) -> Token | None:
        header = request.headers.get("Authorization", "")
        value = header.split(" ", 1)[1] if " " in header else ""
        return self.tokens.get(value)

    def _repo_api(self) -> str:
        return f"{self.api_url}/repos/{self.owner}/{self.repo}"

    def _html(self) -> str:
        return f"https://github.example/{self.owner}/{self.repo}"

    # -- comments --------------------------------------------------------------------
    def _comment_body(self, comment: dict[str, Any]) -> dict[str, Any]:
        commit = comment["commit"]
        common = {
            "id": comment["id"],
            "node_id": f"C_{comment['id']}",
            "body": comment["body"],
            "user": openapi.merge(
                openapi.instance({"$ref": "#/components/schemas/simple-user"}),
                {"login": comment["login"], "id": 7, "type": "User"},
            ),
            "created_at": "2026-11-27T00:00:00Z",
            "updated_at": "2026-11-27T00:00:00Z",
        }
        if commit is None:
            return openapi.body_for(
                "/repos/{owner}/{repo}/issues/comments/{comment_id}",
                "get",
                200,
                **common,
                url=f"{self._repo_api()}/issues/comments/{comment['id']}",
                html_url=f"{self._html()}/pull/{comment['issue']}#issuecomment-{comment['id']}",
                issue_url=f"{self._repo_api()}/issues/{comment['issue']}",
            )
        return openapi.body_for(
            "/repos/{owner}/{repo}/comments/{comment_id}",
            "get",
            200,
            **common,
            url=f"{self._repo_api()}/comments/{comment['id']}",
            html_url=f"{self._html()}/commit/{commit}#commitcomment-{comment['id']}",
            commit_id=commit,
        )

    def _page(self, request: Request, items: list[Any]) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(request.args.get("per_page", 30)), 100)
        page = int(request.args.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        base = f"{self.base_url}{request.path}"
        for rel, number in (("next", page + 1), ("last", last)):
            if page < last:
                links.append(
                    f'<{base}?{urlencode({"per_page": per_page, "page": number})}>; rel="{rel}"'
                )
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _list_issue_comments(self, request, token, data, number):
        if not token.permissions & {"pull_requests", "issues"}:
            return 403, DENIED, {}
        items = sorted(self.comments_on(issue=int(number)), key=lambda c: c["id"])
        return self._page(request, [self._comment_body(c) for c in items])

    def _create_issue_comment(self, request, token, data, number):
        if not token.permissions & {"pull_requests", "issues"}:
            return 403, DENIED, {}
        comment_id = self.add_comment(int(number), data["body"], self._author(token))
        return (
            201,
            self._comment_body(self.comments[comment_id]),
            {"Location": f"{self._repo_api()}/issues/comments/{comment_id}"},
        )

    def _author(self, token: Token) -> str:
        return token.login or token.bot

    def _change_comment(self, request, token, data, method, comment_id):
        comment = self.comments.get(int(comment_id))
        if comment is None:
            return (
                404,
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                {},
            )
        needed = {"contents"} if comment["commit"] else {"pull_requests", "issues"}
        if not token.permissions & needed or comment["login"] != self._author(token):
            return 403, DENIED, {}
        if method == "DELETE":
            del self.comments[int(comment_id)]
            return 204, None, {}
        comment["body"] = data["body"]
        return 200, self._comment_body(comment), {}

    def _list_commit_comments(self, request, token, data, sha):
        items = sorted(self.comments_on(commit=sha), key=lambda c: c["id"])
        return self._page(request, [self._comment_body(c) for c in items])

    def _create_commit_comment(self, request, token, data, sha):
        if "contents" not in token.permissions:
            return 403, DENIED, {}
        comment_id = self.add_comment(0, data["body"], self._author(token), commit=sha)
        return (
            201,
            self._comment_body(self.comments[comment_id]),
            {"Location": f"{self._repo_api()}/comments/{comment_id}"},
        )

    # -- checks and statuses ---------------------------------------------------------------
    def _create_check_run(self, request, token, data):
        if not token.app:
            return (
                403,
                {
                    "message": "You must authenticate via a GitHub App.",
                    "documentation_url": "https://docs.github.com/rest",
                },
                {},
            )
        if "checks" not in token.permissions:
            return 403, DENIED, {}
        run_id = next(self._ids)
        self.check_runs.append({"id": run_id, "app": token.bot.removesuffix("[bot]"), **data})
        return 201, self._check_run_body(self.check_runs[-1]), {}

    def _check_run_body(self, run: dict[str, Any]) -> dict[str, Any]:
        """A check run as GitHub returns it, with the app that created it."""
        app = openapi.merge(
            openapi.instance({"$ref": "#/components/schemas/integration"}),
            {"slug": run["app"], "name": run["app"], "id": 99},
        )
        return openapi.body_for(
            "/repos/{owner}/{repo}/check-runs",
            "post",
            201,
            id=run["id"],
            name=run["name"],
            head_sha=run["head_sha"],
            status=run.get("status", "queued"),
            details_url=run.get("details_url"),
            # openapi-core rejects null for this nullable enum; an unfinished run shows none
            **({"conclusion": run["conclusion"]} if run.get("conclusion") else {}),
            url=f"{self._repo_api()}/check-runs/{run['id']}",
            html_url=f"{self._html()}/runs/{run['id']}",
            app=app,
        )

    def _update_check_run(self, request, token, data, run_id):
        run = next((r for r in self.check_runs if r["id"] == int(run_id)), None)
        if run is None:
            return (
                404,
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                {},
            )
        if "checks" not in token.permissions or run["app"] != token.bot.removesuffix("[bot]"):
            return 403, DENIED, {}
        run.update(data)
        return 200, self._check_run_body(run), {}

    def _create_status(self, request, token, data, sha):
        if "statuses" not in token.permissions:
            return 403, DENIED, {}
        self.statuses.append({"sha": sha, **data})
        return (
            201,
            openapi.body_for(
                "/repos/{owner}/{repo}/statuses/{sha}",
                "post",
                201,
                state=data["state"],
                context=data.get("context", "default"),
                description=data.get("description"),
                target_url=data.get("target_url"),
                id=next(self._ids),
                url=f"{self._repo_api()}/statuses/{sha}",
            ),
            {},
        )

    def _get_commit(self, request, token, data, sha):
        return (
            200,
            openapi.body_for(
                "/repos/{owner}/{repo}/commits/{ref}",
                "get",
                200,
                sha=sha,
                url=f"{self._repo_api()}/commits/{sha}",
            ),
            {},
        )

    # -- pull requests ------------------------------------------------------------------
    def _pull_body(self, pull: dict[str, Any], template: str) -> dict[str, Any]:
        repo = openapi.merge(
            openapi.instance({"$ref": "#/components/schemas/repository"}),
            {"full_name": f"{pull['owner']}/{self.repo}", "name": self.repo},
        )
        return openapi.body_for(
            template,
            "get",
            200,
            number=pull["number"],
            state=pull["state"],
            url=f"{self._repo_api()}/pulls/{pull['number']}",
            html_url=f"{self._html()}/pull/{pull['number']}",
            head={"sha": pull["sha"], "ref": pull["branch"], "label": pull["owner"], "repo": repo},
        )

    def _simple_pulls(self, pulls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = self._pull_body
        return [body(p, "/repos/{owner}/{repo}/pulls/{pull_number}") for p in pulls]

    def _commit_pulls(self, request, token, data, sha):
        return self._page(
            request, self._simple_pulls([p for p in self.pulls.values() if p["sha"] == sha])
        )

    def _list_pulls(self, request, token, data):
        state = request.args.get("state", "open")
        head = request.args.get("head")
        chosen = [
            p
            for p in self.pulls.values()
            if (state == "all" or p["state"] == state)
            and (head is None or head == f"{p['owner']}:{p['branch']}")
        ]
        return self._page(request, self._simple_pulls(chosen))

    def _get_pull(self, request, token, data, number):
        pull = self.pulls.get(int(number))
        if pull is None:
            return (
                404,
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                {},
            )
        return 200, self._pull_body(pull, "/repos/{owner}/{repo}/pulls/{pull_number}"), {}

    # -- git data -----------------------------------------------------------------------
    def _sha(self, *parts: Any) -> str:
        return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def _create_blob(self, request, token, data):
        if "contents" not in token.permissions:
            return 403, DENIED, {}
        sha = self._sha("blob", data["content"])
        self.git_objects[sha] = {"type": "blob", **data}
        return 201, {"sha": sha, "url": f"{self._repo_api()}/git/blobs/{sha}"}, {}

    def _create_tree(self, request, token, data):
        if "contents" not in token.permissions:
            return 403, DENIED, {}
        sha = self._sha("tree", data["tree"])
        self.git_objects[sha] = {"type": "tree", "tree": data["tree"]}
        entries = [
            {
                "path": e["path"],
                "mode": e["mode"],
                "type": e["type"],
                "sha": e["sha"],
                "url": f"{self._repo_api()}/git/blobs/{e['sha']}",
            }
            for e in data["tree"]
        ]
        return (
            201,
            openapi.body_for(
                "/repos/{owner}/{repo}/git/trees",
                "post",
                201,
                sha=sha,
                url=f"{self._repo_api()}/git/trees/{sha}",
                tree=entries,
                truncated=False,
            ),
            {},
        )

    def _git_commit_body(self, sha: str) -> dict[str, Any]:
        obj = self.git_objects[sha]
        return openapi.body_for(
            "/repos/{owner}/{repo}/git/commits",
            "post",
            201,
            sha=sha,
            message=obj["message"],
            author=obj["author"],
            committer=obj["author"],
            url=f"{self._repo_api()}/git/commits/{sha}",
            html_url=f"{self._html()}/commit/{sha}",
            tree={"sha": obj["tree"], "url": f"{self._repo_api()}/git/trees/{obj['tree']}"},
            parents=[
                {
                    "sha": p,
                    "url": f"{self._repo_api()}/git/commits/{p}",
                    "html_url": f"{self._html()}/commit/{p}",
                }
                for p in obj["parents"]
            ],
        )

    def _create_git_commit(self, request, token, data):
        if "contents" not in token.permissions:
            return 403, DENIED, {}
        sha = self._sha("commit", data, next(self._ids))
        author = data.get("author") or {"name": self._author(token), "email": "bot@example"}
        self.git_objects[sha] = {
            "type": "commit",
            "message": data["message"],
            "tree": data["tree"],
            "parents": data.get("parents", []),
            "author": {"date": "2026-11-27T00:00:00Z", **author},
        }
        return 201, self._git_commit_body(sha), {}

    def _get_git_commit(self, request, token, data, sha):
        if sha not in self.git_objects:
            return (
                404,
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                {},
            )
        return 200, self._git_commit_body(sha), {}

    def _ref_body(self, name: str) -> dict[str, Any]:
        sha = self.refs[name]
        return openapi.body_for(
            "/repos/{owner}/{repo}/git/ref/{ref}",
            "get",
            200,
            ref=f"refs/{name}",
            node_id="REF_x",
            url=f"{self._repo_api()}/git/refs/{name}",
            object={"type": "commit", "sha": sha, "url": f"{self._repo_api()}/git/commits/{sha}"},
        )

    def _get_ref(self, request, token, data, name):
        if name not in self.refs:
            return (
                404,
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                {},
            )
        return 200, self._ref_body(name), {}

    def _create_ref(self, request, token, data):
        if "contents" not in token.permissions:
            return 403, DENIED, {}
        name = data["ref"].removeprefix("refs/")
        if name in self.refs:
            return (
                422,
                {
                    "message": "Reference already exists",
                    "documentation_url": "https://docs.github.com/rest",
                },
                {},
            )
        self.refs[name] = data["sha"]
        return 201, self._ref_body(name), {}

    def _update_ref(self, request, token, data, name):
        if "contents" not in token.permissions:
            return 403, DENIED, {}
        if name not in self.refs:
            return (
                422,
                {
                    "message": "Reference does not exist",
                    "documentation_url": "https://docs.github.com/rest",
                },
                {},
            )
        new = self.git_objects.get(data["sha"], {})
        if not data.get("force") and self.refs[name] not in new.get("parents", []):
            return (
                422,
                {
                    "message": "Update is not a fast forward",
                    "documentation_url": "https://docs.github.com/rest",
                },
                {},
            )
        self.refs[name] = data["sha"]
        return 200, self._ref_body(name), {}


def _why(exc: Exception) -> str:
    """The validation error, with the schema errors that explain it (not the value)."""
    details = getattr(exc, "__cause__", None)
    text = str(exc)[:300]
    for error in getattr(details, "schema_errors", None) or ():
        path = "/".join(str(p) for p in getattr(error, "absolute_path", ()))
        text += f" [{path}: {str(getattr(error, 'message', error))[:200]}]"
    if details is not None and not getattr(details, "schema_errors", None):
        text += f" ({str(details)[:300]})"
    return text
