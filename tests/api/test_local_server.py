"""coursegen serve: the README's curl session works against the local HTTP server."""

from __future__ import annotations

import threading
import time

from coursegen_local.load import call
from coursegen_local.server import make_server


def polled(base: str, status_url: str) -> dict:
    """The course's status once it is no longer processing (or after 30 s)."""
    for _ in range(600):
        _, progress = call(base, status_url)
        if progress["status"] != "processing":
            break
        time.sleep(0.05)
    return progress


def test_post_poll_get_over_http(http_server):
    status, accepted = call(http_server, "/courses", {"query": "Learn DCF valuation", "hours": 2})
    assert status == 202
    progress = polled(http_server, accepted["status_url"])
    assert progress["status"] == "complete", progress
    status, course = call(http_server, f"/courses/{accepted['course_id']}")
    assert status == 200 and course["total_minutes"] > 0


def test_a_bad_body_over_http_is_a_400_naming_the_field(http_server):
    status, problem = call(http_server, "/courses", {"query": "Learn DCF valuation", "hours": 0})
    assert status == 400 and problem["errors"][0]["field"] == "hours"


def raw_request(base: str, head: str) -> bytes:
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode())
        return sock.recv(4096)


def test_a_malformed_content_length_is_a_400_not_a_hang(http_server):
    for length in ("-1", "abc"):
        answer = raw_request(http_server, f"POST /courses HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400")


def test_the_tenant_header_is_read_whatever_its_case(http_server):
    status, accepted = call(http_server, "/courses", {"query": "Learn DCF valuation", "hours": 2},
                            headers={"X-COURSEGEN-TENANT": "bob"})
    assert status == 202
    assert call(http_server, accepted["status_url"], headers={"x-coursegen-tenant": "bob"})[0] == 200
    assert call(http_server, accepted["status_url"])[0] == 404  # the default local user is someone else


# --- findings of the bad-input sweep -------------------------------------------------------------

def raw_answer(base: str, request: bytes, timeout: float = 10) -> tuple[int, dict, dict]:
    """Send raw bytes; the status, headers and JSON body of the answer."""
    import http.client
    import json
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), json.loads(response.read())


def test_a_body_that_is_not_utf8_is_refused_with_a_400_and_starts_nothing(http_server, runner):
    body = b'{"query":"Learn \xff\xfe DCF","hours":1}'
    status, _, problem = raw_answer(http_server, b"POST /courses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    assert status == 400 and problem["errors"] == [{"field": "body", "reason": "not valid UTF-8"}]
    assert runner.sfn.list_executions(stateMachineArn=runner.state_machine_arn)["executions"] == []


def test_head_is_get_without_the_body(http_server):
    import http.client
    from urllib.parse import urlsplit

    connection = http.client.HTTPConnection(urlsplit(http_server).netloc, timeout=10)
    connection.request("GET", "/courses")
    get = connection.getresponse()
    length = len(get.read())
    connection.request("HEAD", "/courses")  # same connection: HEAD leaves no body behind
    head = connection.getresponse()
    assert head.status == 200 and head.read() == b"" and int(head.headers["Content-Length"]) == length
    connection.request("GET", "/courses")
    assert len(connection.getresponse().read()) == length
    connection.close()


def test_a_chunked_body_is_refused_with_411_length_required(http_server):
    status, headers, problem = raw_answer(http_server, b"POST /courses HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                          b"Content-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert status == 411 and headers["Connection"] == "close"
    assert problem["errors"][0]["field"] == "header.Content-Length" and "Content-Length" in problem["message"]


def test_a_body_over_the_server_limit_is_refused_with_errors_naming_the_body(http_server):
    status, _, problem = raw_answer(http_server, b"POST /courses HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
    assert status == 413 and problem["errors"] == [{"field": "body", "reason": "over 1000000 bytes"}]


def test_a_body_shorter_than_its_content_length_is_dropped_after_the_timeout(runner):
    server = make_server(runner, port=0, request_timeout=0.3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        status, headers, problem = raw_answer(f"http://127.0.0.1:{server.server_port}",
                                              b"POST /courses HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}")
        assert status == 408 and headers["Connection"] == "close" and problem["errors"][0]["field"] == "body"
    finally:
        server.shutdown()
        server.server_close()


def test_a_malformed_request_line_or_huge_header_is_refused_with_json_not_html(http_server):
    for line in (b"NONSENSE", b"GET /courses HTTP/1.1 extra"):
        status, headers, problem = raw_answer(http_server, line + b"\r\n\r\n")
        assert status == 400 and headers["Content-Type"] == "application/json" and problem["errors"][0]["field"] == "request line"
    status, _, problem = raw_answer(http_server, b"GET /courses HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    assert status == 431 and problem["errors"][0]["field"] == "headers"


def test_serve_serves_a_staged_course_site_and_nothing_outside_it(http_server):
    import urllib.error
    import urllib.request

    from html5lib import parse

    status, accepted = call(http_server, "/courses", {"query": "Learn DCF valuation", "hours": 2, "deploy_to_staging": True})
    assert status == 202
    progress = polled(http_server, accepted["status_url"])
    assert progress["status"] == "complete" and progress["staging_url"].endswith(f"/staging/{accepted['course_id']}/index.html")

    def get(path: str) -> tuple[int, str, bytes]:
        try:
            with urllib.request.urlopen(f"{http_server}{path}", timeout=10) as response:
                return response.status, response.headers["Content-Type"], response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Type"], error.read()

    for path in (f"/staging/{accepted['course_id']}/", f"/staging/{accepted['course_id']}/index.html"):
        status, media_type, body = get(path)
        assert status == 200 and media_type.startswith("text/html"), path
        assert parse(body, namespaceHTMLElements=False).find(".//main") is not None
    status, media_type, _ = get(f"/staging/{accepted['course_id']}/styles.css")
    assert status == 200 and media_type.startswith("text/css")
    for outside in ("/staging/../courses", f"/staging/{accepted['course_id']}/../../pgdata", "/staging/nope/index.html",
                    f"/staging/{accepted['course_id']}/%2e%2e/x.html"):
        assert get(outside)[0] == 404, outside
