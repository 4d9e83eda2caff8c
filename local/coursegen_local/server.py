"""coursegen serve: the API function behind HTTP on 127.0.0.1, executions on the offline runner.

Each HTTP request becomes the API Gateway (REST, proxy) event Lambda would receive and goes to
the template's ApiFunction handler in-process; POST /courses starts the execution on moto's
Step Functions, which runs it in the background while clients poll - as against AWS.

There is no authentication locally: the X-Coursegen-Tenant header stands in for the IAM caller
(default "local-user"), so ownership can be tried out. It is ignored in AWS.
"""

from __future__ import annotations

import json
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from coursegen_local.runner import LocalRunner
from coursegen_local.template import ACCOUNT

TENANT_HEADER = "X-Coursegen-Tenant"
MAX_BODY_BYTES = 1_000_000


def api_gateway_event(
    method: str, target: str, headers: dict[str, str], body: str | None, source_ip: str, tenant: str | None = None
) -> dict:
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
        "isBase64Encoded": False,
    }


def response_headers(response: dict) -> dict[str, str]:
    """A proxy response's headers, single- and multi-value, as one dict."""
    headers = dict(response.get("headers") or {})
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(values)
    return headers


def make_server(runner: LocalRunner, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            declared = self.headers.get("Content-Length") or "0"
            if not declared.isdigit():
                self._reply(400, {}, json.dumps({"message": "Content-Length must be a non-negative integer.", "errors": []}))
                return
            length = int(declared)
            if length > MAX_BODY_BYTES:
                self._reply(413, {}, json.dumps({"message": f"Request body over {MAX_BODY_BYTES} bytes."}))
                return
            body = self.rfile.read(length).decode("utf-8", errors="replace") if length else None
            event = api_gateway_event(self.command, self.path, dict(self.headers.items()), body, self.client_address[0],
                                      tenant=self.headers.get(TENANT_HEADER))
            try:
                response = runner.invoke("ApiFunction", event)
            except Exception as error:  # noqa: BLE001 - a 500 with one line, never a traceback
                self._reply(500, {}, json.dumps({"message": f"Internal error: {type(error).__name__}"}))
                return
            self._reply(response["statusCode"], response_headers(response), response.get("body") or "")

        def __getattr__(self, name: str):
            # Every method (GET, TRACE, QUERY, ...) reaches the API, which answers unknown ones with
            # a Problem, never the stdlib's HTML 501 page.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def do_HEAD(self) -> None:
            self._head_only = True
            self._serve()

        def _reply(self, status: int, headers: dict[str, str], body: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json")
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not getattr(self, "_head_only", False):
                self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # the stdlib's 5 resets clients that connect at the same moment

    return Server((host, port), Handler)
