"""coursegen serve: the API function behind HTTP on 127.0.0.1, executions on the offline runner.

Each HTTP request becomes the API Gateway (REST, proxy) event Lambda would receive and goes to
the template's ApiFunction handler in-process; POST /courses starts the execution on moto's
Step Functions, which runs it in the background while clients poll - as against AWS.

There is no authentication locally: the X-Coursegen-Tenant header stands in for the IAM caller
(default "local-user"), so ownership can be tried out. It is ignored in AWS.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from coursegen.models import COURSE_ID_PATTERN
from coursegen_local.runner import LocalRunner
from coursegen_local.template import ACCOUNT

TENANT_HEADER = "X-Coursegen-Tenant"
STAGING_PATH = "/staging/"  # the staged sites, as the CloudFront distribution serves them in AWS
SITES_PATH = "/sites/"  # the published sites, as the same distribution serves them
PUBLISHED_ROOT = "sites/"  # their folder of the staging bucket (bootstrap's published_sites)
MAX_BODY_BYTES = 1_000_000
REQUEST_TIMEOUT_SECONDS = 30  # a client that stalls (a body shorter than its Content-Length) is dropped


def api_gateway_event(
    method: str, target: str, headers: dict[str, str], body: str | bytes | None, source_ip: str, tenant: str | None = None
) -> dict:
    """Bytes that are UTF-8 go as text, as API Gateway passes a JSON body; other bytes go base64
    (isBase64Encoded), as it passes binary media types, and the API decides what to do with them."""
    base64_encoded = False
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            body, base64_encoded = base64.b64encode(body).decode("ascii"), True
    url = urlsplit(target)
    query = parse_qs(url.query, keep_blank_values=True)
    tenant = tenant or next((v for k, v in headers.items() if k.lower() == TENANT_HEADER.lower()), None) or "local-user"
    return {
        "resource": url.path,
        "path": url.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": {key: values[-1] for key, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "resourcePath": url.path,
            "httpMethod": method,
            "path": url.path,
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userArn": f"arn:aws:iam::{ACCOUNT}:user/{tenant}"},
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def response_headers(response: dict) -> dict[str, str]:
    """A proxy response's headers, single- and multi-value, as one dict."""
    headers = dict(response.get("headers") or {})
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(values)
    return headers


def staged_file(runner: LocalRunner, path: str, root: str = "", saved: str | None = "staging") -> tuple[bytes, str] | None:
    """A site's file by its path under /staging/ or /sites/ (<course id>/<file>, a folder meaning its
    index.html): from the runner's staging bucket under root ("" for the staged previews, "sites/" for
    the published sites), else from the copy `generate` saved under COURSEGEN_HOME/<saved>/ (None: no
    such copy; a published site has none). None for a path that is not such a file (nothing outside
    the course's folder is reachable)."""
    from coursegen.domain.artifacts import media_type
    from coursegen_local.database import data_home

    course_id, _, rest = path.partition("/")
    parts = [part for part in rest.split("/") if part]
    if not re.fullmatch(COURSE_ID_PATTERN.strip("^$"), course_id) or any(p in (".", "..") or "\\" in p for p in parts):
        return None
    if not root and f"{course_id}/" == PUBLISHED_ROOT:  # the published sites' folder is no staged course's
        return None
    relative = "/".join(parts) if parts and "." in parts[-1] else "/".join([*parts, "index.html"])
    data = runner.staged_object(f"{root}{course_id}/{relative}")
    if data is None and saved is not None:
        copy = data_home() / saved / course_id / relative
        data = copy.read_bytes() if copy.is_file() else None
    return None if data is None else (data, media_type(relative))


def make_server(runner: LocalRunner, host: str = "127.0.0.1", port: int = 8080,
                request_timeout: float = REQUEST_TIMEOUT_SECONDS) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = request_timeout

        def _serve(self) -> None:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self._refuse(HTTPStatus.LENGTH_REQUIRED, "Send the body with a Content-Length: chunked bodies are "
                             "not accepted.", "header.Content-Length", "required (chunked bodies are not accepted)")
                return
            declared = self.headers.get("Content-Length") or "0"
            if not declared.isdigit():
                self._refuse(HTTPStatus.BAD_REQUEST, "Content-Length must be a non-negative integer.",
                             "header.Content-Length", "not a non-negative integer")
                return
            length = int(declared)
            if length > MAX_BODY_BYTES:
                reason = f"over {MAX_BODY_BYTES} bytes"
                self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"Request body {reason}.", "body", reason)
                return
            try:
                body = self.rfile.read(length) if length else None
            except TimeoutError:
                self._refuse(HTTPStatus.REQUEST_TIMEOUT, f"The body did not arrive within {self.timeout:g} s: "
                             f"it is shorter than its Content-Length ({length}).", "body", "shorter than Content-Length")
                return
            if self.server.draining and self.command == "POST":
                self._refuse(HTTPStatus.SERVICE_UNAVAILABLE, "coursegen serve is stopping: it finishes the courses it has "
                             "and takes no new ones. Start it again, then retry.", "server", "stopping")
                return
            if self.command in ("GET", "HEAD") and self.path.startswith(STAGING_PATH):
                self._site(STAGING_PATH, "", "staging", "No such staged page: stage a course with deploy_to_staging "
                           "(coursegen generate --deploy-staging).")
                return
            if self.command in ("GET", "HEAD") and self.path.startswith(SITES_PATH):
                self._site(SITES_PATH, PUBLISHED_ROOT, None, "No such published page: publish the course with coursegen "
                           "publish ID (POST /courses/{id}/publish).")
                return
            # HEAD is GET without the body (_reply leaves it out).
            event = api_gateway_event("GET" if self.command == "HEAD" else self.command, self.path,
                                      dict(self.headers.items()), body, self.client_address[0],
                                      tenant=self.headers.get(TENANT_HEADER))
            try:
                response = runner.invoke("ApiFunction", event)
            except Exception as error:  # noqa: BLE001 - a 500 with one line, never a traceback
                self._reply(500, {}, json.dumps({"message": f"Internal error: {type(error).__name__}"}))
                return
            body = response.get("body") or ""
            if response.get("isBase64Encoded"):  # a package: bytes, as API Gateway would pass them on
                body = base64.b64decode(body)
            self._reply(response["statusCode"], response_headers(response), body)

        def _site(self, path: str, root: str, saved: str | None, missing: str) -> None:
            """GET /staging/<course id>/<path> (the staged site) or /sites/<course id>/<path> (the
            published one): as CloudFront serves them in AWS."""
            found = staged_file(runner, urlsplit(self.path).path.removeprefix(path), root=root, saved=saved)
            if found is None:
                self._reply(404, {}, json.dumps({"message": missing}))
                return
            data, media_type = found
            self._reply(200, {"Content-Type": media_type, "Cache-Control": "no-cache",
                              "X-Content-Type-Options": "nosniff"}, data)

        def __getattr__(self, name: str):
            # Every method (GET, HEAD, TRACE, QUERY, ...) reaches the API, which answers unknown ones
            # with a Problem, never the stdlib's HTML 501 page.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """The stdlib's answer to a malformed request line or oversized headers, as JSON, not HTML
            (with a status line: the stdlib takes a line it cannot parse for HTTP/0.9, which has none)."""
            self.request_version = self.protocol_version
            phrase = HTTPStatus(code).phrase
            field = "headers" if code == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE else "request line"
            self._refuse(code, f"{phrase}: {message}" if message else phrase, field, message or phrase.lower())

        def _refuse(self, status: int, message: str, field: str, reason: str) -> None:
            """A request error answered here, before the API: the body may be unread, so the
            connection closes."""
            self.close_connection = True
            self._reply(status, {}, json.dumps({"message": message, "errors": [{"field": field, "reason": reason}]}))

        def _reply(self, status: int, headers: dict[str, str], body: str | bytes) -> None:
            data = body if isinstance(body, bytes) else body.encode("utf-8")
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json")
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        draining = False  # set when serve is stopping: no new courses, GETs go on
        request_queue_size = 128  # the stdlib's 5 resets clients that connect at the same moment

    return Server((host, port), Handler)
