"""coursegen serve: the README's curl session works against the local HTTP server."""

from __future__ import annotations

import time

from coursegen_local.load import call


def test_post_poll_get_over_http(http_server):
    status, accepted = call(http_server, "/courses", {"query": "Learn DCF valuation", "hours": 2})
    assert status == 202
    for _ in range(600):
        status, progress = call(http_server, accepted["status_url"])
        if progress["status"] != "processing":
            break
        time.sleep(0.05)
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
