"""The labs over the API: content_mode on POST /courses; GET /courses/{id}/labs and
/courses/{id}/labs/{lab_id}, shown like lessons (409 until the course is whole, 404 for another's)."""

from __future__ import annotations

from coursegen_local.faults import UnreachableLlm
from coursegen_local.runner import LocalRunner
from tests.api.conftest import Client
from tests.api.test_course_api import DCF

WITH_LABS = {**DCF, "content_mode": "theory_and_labs"}
NO_SUCH_LAB = "00000000-0000-4000-8000-000000000000"


def test_a_course_with_labs_lists_one_lab_per_part_readable_in_full(client, runner):
    _, body, _ = client.request("POST", "/courses", WITH_LABS)
    course_id = body["course_id"]
    assert client.wait_until_done(course_id)[-1]["status"] == "complete"
    course = client.request("GET", f"/courses/{course_id}")[1]
    lessons = client.request("GET", f"/courses/{course_id}/lessons")[1]["lessons"]

    status, listing, _ = client.request("GET", f"/courses/{course_id}/labs")
    assert status == 200
    assert [(lab["part_index"], lab["title"]) for lab in listing["labs"]] == list(enumerate(p["title"] for p in course["parts"]))
    first = listing["labs"][0]
    status, lab, _ = client.request("GET", f"/courses/{course_id}/labs/{first['lab_id']}")
    assert status == 200 and lab["markdown"].startswith("# Lab 1: ") and "## Steps" in lab["markdown"]
    assert "not an LLM" in lab["markdown"]  # the offline writer says what it is
    lesson_objectives = {lesson["lesson_id"]: runner.container.database.get_lesson(course_id, lesson["lesson_id"]).objective_ids
                         for lesson in lessons if lesson["part_index"] == 0}
    assert lab["objective_ids"] == [o for ids in lesson_objectives.values() for o in ids]
    assert client.request("GET", f"/courses/{course_id}/labs/{NO_SUCH_LAB}")[0] == 404
    assert client.request("GET", f"/courses/{course_id}/labs/not-a-uuid")[0] == 400

    mallory = Client(runner, tenant="mallory")
    for path in (f"/courses/{course_id}/labs", f"/courses/{course_id}/labs/{first['lab_id']}"):
        status, problem, _ = mallory.request("GET", path)
        assert status == 404 and "No " in problem["message"], path


def test_a_theory_course_has_no_labs(client):
    _, body, _ = client.request("POST", "/courses", DCF)
    assert client.wait_until_done(body["course_id"])[-1]["status"] == "complete"
    status, listing, _ = client.request("GET", f"/courses/{body['course_id']}/labs")
    assert (status, listing) == (200, {"course_id": body["course_id"], "labs": []})


def test_a_content_mode_that_is_not_one_of_the_two_is_a_400_naming_the_field(client):
    status, problem, _ = client.request("POST", "/courses", {**DCF, "content_mode": "labs_only"})
    assert status == 400
    assert any(e["field"] == "content_mode" and "theory_and_labs" in e["reason"] for e in problem["errors"]), problem


def test_the_labs_of_a_course_whose_lab_failed_are_a_409_that_says_how_to_resume(clean_courses, embedder):
    llm = UnreachableLlm("labs.write_lab", lambda variables: variables["part_number"] == "1")
    with LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder, llm=llm) as runner:
        client = Client(runner)
        _, body, _ = client.request("POST", "/courses", WITH_LABS)
        final = client.wait_until_done(body["course_id"])[-1]
        assert final["status"] == "error" and final["error"]["phase"] == "writing_labs", final
        assert client.request("GET", f"/courses/{body['course_id']}")[0] == 200  # the outline is stored
        status, problem, _ = client.request("GET", f"/courses/{body['course_id']}/labs")
        assert status == 409 and f"POST /courses/{body['course_id']}/resume" in problem["message"], problem
