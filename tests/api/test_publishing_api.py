"""The quiz and the packages over the API: GET /courses/{id}/quiz and /courses/{id}/exports/{format}
(the file offline), 409 while the course is not published (generating, failed, a dry run), 404 for
another owner's course or a package a course has not, 400 for a format that is none."""

from __future__ import annotations

import io
import threading
import zipfile

from coursegen_local.faults import Fault
from coursegen_local.runner import LocalRunner
from tests.api.conftest import Client
from tests.api.test_course_api import DCF


def test_a_published_course_serves_its_quiz_and_its_three_packages(client, runner):
    _, body, _ = client.request("POST", "/courses", DCF)
    course_id = body["course_id"]
    assert client.wait_until_done(course_id)[-1]["status"] == "complete"

    status, quiz, _ = client.request("GET", f"/courses/{course_id}/quiz")
    assert status == 200 and 10 <= len(quiz["questions"]) <= 15
    question = quiz["questions"][0]
    assert set(question) == {"question_id", "kind", "stem", "options", "correct_index", "explanation", "lesson_id", "objective_id"}
    status, scorm, headers = client.request("GET", f"/courses/{course_id}/exports/scorm")
    assert status == 200 and headers["Content-Type"] == "application/zip"
    assert "imsmanifest.xml" in zipfile.ZipFile(io.BytesIO(scorm)).namelist()
    status, gift, headers = client.request("GET", f"/courses/{course_id}/exports/gift")
    assert status == 200 and headers["Content-Type"].startswith("text/plain") and gift.count(b"::") >= 2 * len(quiz["questions"])
    assert client.request("GET", f"/courses/{course_id}/exports/qti")[0] == 200
    assert client.request("GET", f"/courses/{course_id}/exports/pdf")[0] == 400

    mallory = Client(runner, tenant="mallory")
    for path in (f"/courses/{course_id}/quiz", f"/courses/{course_id}/exports/scorm"):
        assert mallory.request("GET", path)[0] == 404, path


def test_a_course_without_a_quiz_has_a_scorm_package_and_no_qti_or_gift(client):
    _, body, _ = client.request("POST", "/courses", {**DCF, "generate_quiz": False})
    course_id = body["course_id"]
    assert client.wait_until_done(course_id)[-1]["status"] == "complete"
    assert client.request("GET", f"/courses/{course_id}/exports/scorm")[0] == 200
    for path in ("quiz", "exports/qti", "exports/gift"):
        status, problem, _ = client.request("GET", f"/courses/{course_id}/{path}")
        assert status == 404 and "quiz" in problem["message"], path


def test_an_export_of_a_course_still_generating_is_a_409_that_says_to_poll(clean_courses, embedder):
    held, release = threading.Event(), threading.Event()

    def hold(runner, payload):  # the course waits in its publishing stage while the export is asked for
        held.set()
        release.wait(30)

    faults = [Fault(step="BuildSite", error="", before=hold)]
    with LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder, faults=faults) as runner:
        client = Client(runner)
        _, body, _ = client.request("POST", "/courses", DCF)
        assert held.wait(60)
        try:
            status, problem, _ = client.request("GET", f"/courses/{body['course_id']}/exports/scorm")
            assert status == 409 and "still generating" in problem["message"] and "/status" in problem["message"], problem
            assert client.request("GET", f"/courses/{body['course_id']}/lessons")[0] == 200  # its lessons are readable
        finally:
            release.set()
        assert client.wait_until_done(body["course_id"])[-1]["status"] == "complete"
        assert client.request("GET", f"/courses/{body['course_id']}/exports/scorm")[0] == 200


def test_a_dry_run_has_nothing_to_export(client):
    _, body, _ = client.request("POST", "/courses", {**DCF, "dry_run": True})
    assert client.wait_until_done(body["course_id"])[-1]["status"] == "complete"
    status, problem, _ = client.request("GET", f"/courses/{body['course_id']}/exports/scorm")
    assert status == 409 and "dry run" in problem["message"]
