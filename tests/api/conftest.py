"""API tests: the ApiFunction handler (and the local HTTP server in front of it) over the offline
runner, so POST really starts the ASL execution on moto and GET reads real PostgreSQL."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest

from coursegen_local.runner import LocalRunner
from coursegen_local.server import api_gateway_event, make_server, response_headers


@pytest.fixture
def runner(clean_courses, embedder):
    with LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder) as runner:
        yield runner


class Client:
    """Calls the API function with the API Gateway event the local server would build."""

    def __init__(self, runner: LocalRunner, tenant: str = "alice") -> None:
        self.runner = runner
        self.tenant = tenant

    def request(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, dict, dict]:
        headers = {"X-Coursegen-Tenant": self.tenant, "Content-Type": "application/json", **(headers or {})}
        raw = body if isinstance(body, str) or body is None else json.dumps(body)
        response = self.runner.invoke("ApiFunction", api_gateway_event(method, path, headers, raw, "127.0.0.1"))
        if response.get("isBase64Encoded"):  # a file (an export): its bytes
            return response["statusCode"], base64.b64decode(response["body"]), response_headers(response)
        return response["statusCode"], json.loads(response["body"] or "null"), response_headers(response)

    def wait_until_done(self, course_id: str, timeout: float = 60) -> list[dict]:
        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, status, _ = self.request("GET", f"/courses/{course_id}/status")
            seen.append(status)
            if status["status"] in ("complete", "error"):
                return seen
            time.sleep(0.02)
        raise AssertionError(f"course {course_id} still {seen[-1]}")

    def wait_until_waiting(self, course_id: str, waiting_for: str, timeout: float = 120) -> dict:
        """GET /courses/{id}/review once the course's execution waits for that (outline_approval, review)."""
        review, deadline = None, time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, review, _ = self.request("GET", f"/courses/{course_id}/review")
            if status == 200 and review["waiting_for"] == waiting_for:
                return review
            time.sleep(0.05)
        arn = self.runner.execution_arn(course_id)
        last = [(e["type"], e.get("stateEnteredEventDetails", {}).get("name") or str(e)[-300:])
                for e in self.runner.history(arn)[-6:]]
        raise AssertionError(f"course {course_id} never waited for {waiting_for}: {review}; its execution's last events: {last}")


@pytest.fixture
def client(runner):
    return Client(runner)


@pytest.fixture
def http_server(runner):
    server = make_server(runner, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
