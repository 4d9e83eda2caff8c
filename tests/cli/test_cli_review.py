"""`coursegen review`, `publish` and `archive` against a running `coursegen serve` (issue 15, point 7):
a course requested with "review": true waits in REVIEW; the CLI shows it, approves it (twice: the
same outcome), is refused a conflicting decision with the allowed ones, publishes it (the printed
URL served under /sites/, on the port `serve --port 0` got) and archives it (the page gone); a
request for changes rewrites the named lesson (revision 2); a waiting outline is re-planned, then
approved. Argument errors and the API's 400s exit 2 in one line; no serve, a 404, 409 or 5xx exit 1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from coursegen_local.cli import main
from coursegen_local.load import call, free_port
from coursegen_local.runner import LocalRunner
from coursegen_local.server import make_server
from coursegen_local.template import PROJECT_ROOT

REQUEST = {"query": "Learn DCF valuation", "hours": 1, "review": True}


@pytest.fixture
def serve(clean_courses, embedder):
    """`coursegen serve` in-process (the HTTP server in front of the offline runner), on a free port,
    its staged and published sites' URLs at that port as `coursegen serve --port 0` sets them."""
    with LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder) as runner:
        server = make_server(runner, port=0)
        served = f"http://127.0.0.1:{server.server_port}/"
        runner.container.settings = runner.container.settings.model_copy(
            update={"staging_base_url": f"{served}staging/", "site_base_url": f"{served}sites/"})
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield served.rstrip("/")
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def cli(capsys, monkeypatch):
    """`coursegen ...` in-process: (exit code, stdout, stderr)."""
    monkeypatch.delenv("COURSEGEN_SERVER", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def waiting_for(base: str, course_id: str, what: str = "review", timeout: float = 180) -> dict:
    """GET /courses/{id}/review until the course's execution waits for that (review, outline_approval);
    a 404 until the course is stored."""
    deadline, view = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        status, view = call(base, f"/courses/{course_id}/review")
        if status == 200 and view["waiting_for"] == what:
            return view
        _, progress = call(base, f"/courses/{course_id}/status")
        assert progress.get("status") != "error", progress
        time.sleep(0.1)
    raise AssertionError(f"course {course_id} never waited for {what}: {view}")


def requested_for_review(base: str) -> str:
    status, accepted = call(base, "/courses", REQUEST)
    assert status == 202, accepted
    waiting_for(base, accepted["course_id"])
    return accepted["course_id"]


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def one_line(text: str) -> bool:
    return text.strip() != "" and text.strip().count("\n") == 0 and "Traceback" not in text


def test_review_approve_publish_archive_through_the_cli(serve, cli):
    course_id = requested_for_review(serve)
    server = ("--server", serve)

    code, out, err = cli("review", course_id, *server)
    assert code == 0, err
    assert f"Course {course_id}: REVIEW, waiting for a reviewer's decision" in out
    assert f"coursegen review {course_id} --approve" in out and "Lessons (" in out and "rev 1" in out
    assert "DRAFT -> REVIEW" in out
    code, out, err = cli("review", course_id, *server, "--json")
    assert code == 0 and json.loads(out)["workflow_state"] == "REVIEW" and json.loads(out)["lessons"]

    code, out, err = cli("review", course_id, "--approve", "--note", "Reads well", *server)
    assert code == 0, err
    assert "approve: REVIEW -> PUBLISH_READY (Reads well)" in out and f"coursegen publish {course_id}" in out
    code, again, err = cli("review", course_id, "--approve", "--note", "Reads well", *server)
    assert code == 0 and again == out, err  # the same decision again: the same outcome

    code, out, err = cli("review", course_id, "--reject", *server)
    assert code == 1 and out == "" and one_line(err), err
    assert err.startswith("coursegen: ") and "PUBLISH_READY" in err
    assert f"Allowed decisions now: publish (coursegen publish {course_id}), archive (coursegen archive {course_id})" in err

    code, out, err = cli("publish", course_id, *server)
    assert code == 0, err
    assert "publish: PUBLISH_READY -> PUBLISHED" in out
    url = next(line.removeprefix("Published at ") for line in out.splitlines() if line.startswith("Published at "))
    assert url == f"{serve}/sites/{course_id}/index.html"
    status, media_type, body = get(url)
    assert status == 200 and media_type.startswith("text/html") and b"<html" in body.lower()
    assert get(f"{serve}/sites/{course_id}/")[0] == 200  # a folder: its index.html
    code, again, err = cli("publish", course_id, *server)
    assert code == 0 and again == out, err

    code, out, err = cli("archive", course_id, *server, "--json")
    assert code == 0, err
    assert json.loads(out)["workflow_state"] == "ARCHIVED"
    status, _, body = get(url)
    assert status == 404 and "coursegen publish" in json.loads(body)["message"]
    code, out, err = cli("review", course_id, *server)
    assert code == 0 and f"Course {course_id}: ARCHIVED, nothing waits" in out and "PUBLISHED -> ARCHIVED" in out


def test_published_sites_serve_nothing_outside_a_course_folder(serve):
    for outside in ("/sites/../courses", "/sites/nope/index.html", "/sites/nope/../../pgdata", "/sites/a/%2e%2e/x.html",
                    "/sites/", "/staging/sites/nope/index.html"):
        status, media_type, body = get(serve + outside)
        assert status == 404 and media_type.startswith("application/json"), outside


def test_a_decision_the_api_refuses_as_bad_exits_2_with_its_field(serve, cli):
    course_id = requested_for_review(serve)
    code, out, err = cli("review", course_id, "--request-changes", "no-such-lesson", "--feedback", "More", "--server", serve)
    assert code == 2 and out == "" and one_line(err), err
    assert "lessons[0].lesson_id" in err and "not a current lesson" in err


def test_another_tenant_gets_404_and_exit_1(serve, cli):
    course_id = requested_for_review(serve)
    code, out, err = cli("review", course_id, "--server", serve, "--tenant", "mallory")
    assert code == 1 and out == "" and one_line(err) and f"No course {course_id}" in err, err


def test_request_changes_rewrites_the_named_lesson_to_revision_2(serve, cli):
    course_id = requested_for_review(serve)
    code, out, err = cli("review", course_id, "--json", "--server", serve)
    lessons = json.loads(out)["lessons"]
    named = lessons[1]
    code, out, err = cli("review", course_id, "--request-changes", named["lesson_id"], "--feedback", "Add a worked example",
                         "--server", serve)
    assert code == 0, err
    assert "request_changes: REVIEW -> REVIEW" in out and "being rewritten" in out
    waiting_for(serve, course_id)
    code, out, err = cli("review", course_id, "--json", "--server", serve)
    after = json.loads(out)["lessons"]
    # a revision is a lesson of its own (a new lesson id, the earlier revision kept): found by its place
    place = {(lesson["part_index"], lesson["section_index"]): lesson for lesson in after}
    rewritten = place[(named["part_index"], named["section_index"])]
    assert rewritten["revision"] == 2 and rewritten["is_revision"] and rewritten["title"] == named["title"]
    assert [(lesson["lesson_id"], lesson["revision"]) for lesson in after if lesson is not rewritten] == \
        [(lesson["lesson_id"], 1) for lesson in lessons if lesson["lesson_id"] != named["lesson_id"]]
    code, out, err = cli("review", course_id, "--server", serve)
    assert code == 0 and any(rewritten["lesson_id"] in line and "rev 2" in line for line in out.splitlines()), out
    assert "changes requested 1 time(s)" in out and "REVIEW -> REVIEW  request_changes" in out


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["review", "c1", "--approve", "--reject"], "one decision at a time, not --approve and --reject"),
        (["review", "c1", "--submit", "--request-changes", "L1", "--feedback", "x"], "one decision at a time"),
        (["review", "c1", "--request-changes", "L1"], "--request-changes L1 needs --feedback TEXT after it"),
        (["review", "c1", "--request-changes", "L1", "--feedback", "x", "--request-changes", "L2"],
         "--request-changes L2 needs --feedback TEXT after it"),
        (["review", "c1", "--feedback", "x"], "--feedback goes with --request-changes"),
        (["review", "c1", "--feedback", "x", "--request-changes", "L1"], "each --feedback follows the --request-changes it is for"),
        (["review", "c1", "--request-changes", "L1", "--feedback", "x", "--request-changes", "--feedback", "y"],
         "not both"),
        (["review", "c1", "--reject", "--outline", "outline.txt"], "--outline goes with --approve"),
        (["review", "c1", "--approve", "--outline", "no-such-outline.txt"], "--outline no-such-outline.txt: cannot read it"),
        (["review", "c1", "--note", "hi"], "--note goes with a decision"),
        (["review", "bad/../id"], "argument course_id: must be 1-80 letters"),
        (["publish", "c1", "--server", "ftp://example.org"], "not the http:// address of a coursegen serve"),
        (["archive", "c1", "--tenant", "a\nb"], "--tenant: must be 1-200 printable ASCII characters"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_call_nothing(cli, argv, reason, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*argv, *(["--server", f"http://127.0.0.1:{free_port()}"] if "--server" not in argv else []))
    assert code == 2 and out == "" and one_line(err), err
    assert reason in err


def test_an_outline_file_that_is_not_utf8_exits_2(cli, tmp_path):
    outline = tmp_path / "outline.txt"
    outline.write_bytes(b"\xff\xfe Part 1")
    code, out, err = cli("review", "c1", "--approve", "--outline", str(outline), "--server", "http://127.0.0.1:9")
    assert code == 2 and one_line(err) and "not UTF-8" in err


@pytest.mark.parametrize("argv", [["review", "c1"], ["review", "c1", "--approve"], ["publish", "c1"], ["archive", "c1"]])
def test_no_serve_exits_1_saying_how_to_start_it(cli, argv, monkeypatch):
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("COURSEGEN_SERVER", closed)  # the environment's server, without --server
    code, out, err = cli(*argv)
    assert code == 1 and out == "" and one_line(err), err
    assert err.strip() == f"coursegen: no coursegen serve at {closed} (start it with: coursegen serve)"


def test_serve_on_port_0_publishes_under_the_port_it_got(cli, tmp_path):
    """`coursegen serve --port 0` (a separate process, its own data folder): the published URL names
    the port the server got, and that URL serves the site."""
    coursegen = str(Path(sys.executable).parent / "coursegen")
    env = os.environ | {"COURSEGEN_HOME": str(tmp_path / "home"), "LLM_PROVIDER": "simulated", "DATABASE_URL": "",
                        "SIMULATED_LLM_FIRST_TOKEN_SECONDS": "0", "SIMULATED_LLM_SECONDS_PER_TOKEN": "0"}
    subprocess.run([coursegen, "books", "import", str(PROJECT_ROOT / "data/books/sample_library.jsonl")], env=env,
                   check=True, capture_output=True, timeout=300)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([coursegen, "serve", "--port", "0"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline, found = time.monotonic() + 120, None
        while found is None and time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"coursegen API on (http://127\.0\.0\.1:(\d+))", log.read_text(errors="replace"))
            time.sleep(0.2)
        assert found, log.read_text(errors="replace")
        base = found.group(1)
        course_id = requested_for_review(base)
        assert cli("review", course_id, "--approve", "--server", base)[0] == 0
        code, out, err = cli("publish", course_id, "--server", base, "--json")
        assert code == 0, err
        url = json.loads(out)["url"]
        assert url == f"{base}/sites/{course_id}/index.html" and found.group(2) != "0"
        status, media_type, _ = get(url)
        assert status == 200 and media_type.startswith("text/html")
    finally:
        for grace in (10, 30):  # SIGTERM: serve stops its embedded PostgreSQL on the way out
            process.terminate()
            try:
                process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            process.kill()
            process.wait()


def test_a_waiting_outline_is_re_planned_with_feedback_then_approved(serve, cli):
    status, accepted = call(serve, "/courses", {"query": "Learn DCF valuation", "hours": 1, "review_outline": True})
    assert status == 202, accepted
    course_id = accepted["course_id"]
    waiting_for(serve, course_id, "outline_approval")
    code, out, err = cli("review", course_id, "--server", serve)
    assert code == 0, err
    assert "waiting for its outline to be approved" in out and "--request-changes --feedback TEXT (a re-plan)" in out
    code, out, err = cli("review", course_id, "--request-changes", "--feedback", "Fewer parts, more on WACC",
                         "--server", serve)
    assert code == 0, err
    assert "generation goes on" in out
    waiting_for(serve, course_id, "outline_approval")
    code, out, err = cli("review", course_id, "--approve", "--server", serve)
    assert code == 0, err
    deadline = time.monotonic() + 180
    while call(serve, f"/courses/{course_id}/status")[1]["status"] == "processing" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert call(serve, f"/courses/{course_id}/status")[1]["status"] == "complete"


@pytest.fixture
def stub():
    """A server that answers every request with the (status, body) the test sets."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answer = {"status": 503, "body": b'{"message": "Step Functions refused the start: retry", "errors": []}'}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(answer["status"])
            self.send_header("Content-Length", str(len(answer["body"])))
            self.end_headers()
            self.wfile.write(answer["body"])

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", answer
    server.shutdown()
    server.server_close()


def test_a_5xx_or_an_answer_that_is_not_the_api_exits_1_with_one_line(cli, stub):
    base, answer = stub
    code, out, err = cli("publish", "c1", "--server", base)
    assert code == 1 and out == "" and err == "coursegen: Step Functions refused the start: retry\n"
    answer.update(status=200, body=b"<html>someone else's server</html>")
    code, out, err = cli("review", "c1", "--server", base)
    assert code == 1 and out == "" and one_line(err) and "not coursegen's API" in err
