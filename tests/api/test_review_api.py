"""Review and publish over the API (seed 004's lifecycle): GET/POST /courses/{id}/review,
POST /courses/{id}/publish and /courses/{id}/archive, as a client calls them. A 400 names the
field and the reason and changes nothing; a 409 names where the course is and what it allows;
another tenant's course is a 404; the same decision again is the same answer.

The ASL runs for real on the offline runner (tests/workflow/test_review_workflow.py pins the
stages themselves); every test here generates its own one-hour course, since each test's
PostgreSQL starts empty (clean_courses)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.api.conftest import Client

ROOT = Path(__file__).resolve().parents[2]
REVIEWED = {"query": "Learn DCF valuation", "hours": 1, "review": True}
PLAIN = {"query": "Learn DCF valuation", "hours": 1}
REVIEW_DECISIONS = ["approve", "request_changes", "reject"]


def generated(client: Client, body: dict) -> str:
    status, accepted, _ = client.request("POST", "/courses", body)
    assert status == 202, accepted
    final = client.wait_until_done(accepted["course_id"], timeout=300)[-1]
    assert final["status"] == "complete", final
    return accepted["course_id"]


def waiting_for_review(client: Client) -> tuple[str, dict]:
    """A course generated with review: true, once its review waits: (course_id, GET review)."""
    course_id = generated(client, REVIEWED)
    return course_id, client.wait_until_waiting(course_id, "review")


def review_of(client: Client, course_id: str) -> dict:
    status, review, _ = client.request("GET", f"/courses/{course_id}/review")
    assert status == 200, review
    return review


def moves(review: dict) -> list[tuple[str, str]]:
    return [(t["from_state"], t["to_state"]) for t in review["transitions"]]


# --- reaching review -----------------------------------------------------------------------------

def test_a_course_asked_with_review_completes_and_waits_in_review_with_its_lessons_listed(client):
    course_id, review = waiting_for_review(client)

    status, course_status, _ = client.request("GET", f"/courses/{course_id}/status")
    assert status == 200
    assert (course_status["status"], course_status["workflow_state"], course_status["waiting_for"]) == (
        "complete", "REVIEW", "review")

    assert review["course_id"] == course_id
    assert (review["workflow_state"], review["waiting_for"]) == ("REVIEW", "review")
    assert review["allowed_decisions"] == REVIEW_DECISIONS
    assert review["review_rounds"] == 0
    _, listing, _ = client.request("GET", f"/courses/{course_id}/lessons")
    assert [lesson["lesson_id"] for lesson in review["lessons"]] == [lesson["lesson_id"] for lesson in listing["lessons"]]
    assert review["lessons"] and all(
        (lesson["revision"], lesson["is_revision"]) == (1, False) for lesson in review["lessons"])
    [entered] = review["transitions"]
    assert {k: entered[k] for k in ("seq", "from_state", "to_state", "decision", "transitioned_by")} == {
        "seq": 1, "from_state": "DRAFT", "to_state": "REVIEW", "decision": "submit", "transitioned_by": "system"}
    assert entered["at"] and "review" in entered["note"]


# --- 400: the field and the reason, and nothing changed --------------------------------------------

OTHER_LESSON = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        pytest.param({"decision": "request_changes"}, "lessons", "at least one", id="request_changes-without-lessons"),
        pytest.param({"decision": "request_changes", "lessons": []}, "lessons", "at least one", id="empty-lessons"),
        pytest.param({"decision": "request_changes", "lessons": [{"lesson_id": OTHER_LESSON, "feedback": "More numbers."}]},
                     "lessons[0].lesson_id", "not a current lesson of this course", id="lesson-not-of-this-course"),
        pytest.param({"decision": "request_changes", "lessons": [{"lesson_id": "FIRST", "feedback": "x" * 2001}]},
                     "lessons[0].feedback", "at most 2000 characters", id="feedback-too-long"),
        pytest.param({"decision": "request_changes", "lessons": [{"lesson_id": "FIRST", "feedback": ""}]},
                     "lessons[0].feedback", "non-empty", id="feedback-empty"),
        pytest.param({"decision": "request_changes", "lessons": [{"lesson_id": "FIRST", "feedback": "   "}]},
                     "lessons[0].feedback", "non-empty", id="feedback-blank"),
        pytest.param({"decision": "request_changes", "lessons": [{"lesson_id": "FIRST", "feedback": "bell\u0007"}]},
                     "lessons[0].feedback", "control characters", id="feedback-control-character"),
        pytest.param({"decision": "request_changes", "lessons": [{"lesson_id": "FIRST", "feedback": "Once."},
                                                                 {"lesson_id": "FIRST", "feedback": "Twice."}]},
                     "lessons[1].lesson_id", "named twice", id="lesson-named-twice"),
        pytest.param({"decision": "maybe"}, "decision", "'approve'", id="unknown-decision"),
        pytest.param({"decision": 1}, "decision", "Input should be", id="decision-not-a-string"),
        pytest.param({}, "decision", "required", id="no-decision"),
        pytest.param({"decision": "request_changes", "lessons": "all of them"}, "lessons", "valid list",
                     id="lessons-not-a-list"),
        # pydantic's own errors drop the list index (see _bad_request); the service's name it: either is taken here
        pytest.param({"decision": "request_changes", "lessons": [{"lesson_id": 5, "feedback": "x"}]},
                     ("lessons.lesson_id", "lessons[0].lesson_id"), "valid string", id="lesson-id-not-a-string"),
        pytest.param({"decision": "request_changes", "lessons": [{"lesson_id": "FIRST"}]},
                     ("lessons.feedback", "lessons[0].feedback"), "required", id="lesson-without-feedback"),
        pytest.param({"decision": "approve", "outline": 3}, "outline", "valid string", id="outline-not-a-string"),
        pytest.param(None, "body", "required", id="no-body"),
        pytest.param({"decision": "request_changes", "lessons": [{"lesson_id": "FIRST", "feedback": f"n{i}"} for i in range(11)]},
                     "lessons", "at most 10", id="too-many-lessons"),
        pytest.param('{"decision": "approve"', "body", "not valid JSON", id="not-json"),
        pytest.param("[]", "body", "valid dictionary", id="json-not-an-object"),
    ],
)
def test_a_decision_that_cannot_be_taken_is_a_400_naming_the_field_and_the_reason_and_changes_nothing(
        client, body, field, reason):
    course_id, before = waiting_for_review(client)
    first = before["lessons"][0]["lesson_id"]
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace('"FIRST"', json.dumps(first)))

    fields = field if isinstance(field, tuple) else (field,)

    status, problem, _ = client.request("POST", f"/courses/{course_id}/review", body)
    assert status == 400, problem
    assert problem["message"].startswith("Invalid request") and any(f in problem["message"] for f in fields), problem
    assert any(e["field"] in fields and reason in e["reason"] for e in problem["errors"]), problem

    after = review_of(client, course_id)
    assert after == before  # same state, still waiting, same lessons, same transitions
    assert client.wait_until_waiting(course_id, "review")["transitions"] == before["transitions"]


# --- 409: where the course is and what it allows ---------------------------------------------------

def test_approving_a_course_generated_without_review_is_a_409_naming_draft_and_its_decisions(client):
    course_id = generated(client, PLAIN)
    before = review_of(client, course_id)
    assert (before["workflow_state"], before["waiting_for"], before["allowed_decisions"]) == (
        "DRAFT", None, ["submit", "archive"])

    status, problem, _ = client.request("POST", f"/courses/{course_id}/review", {"decision": "approve"})
    assert status == 409, problem
    assert (problem["workflow_state"], problem["allowed_decisions"], problem["errors"]) == (
        "DRAFT", ["submit", "archive"], [])
    assert "DRAFT" in problem["message"] and "approve" in problem["message"]

    status, problem, _ = client.request("POST", f"/courses/{course_id}/publish")
    assert status == 409 and (problem["workflow_state"], problem["allowed_decisions"]) == ("DRAFT", ["submit", "archive"])
    assert review_of(client, course_id) == before


def test_publish_before_approval_and_archive_while_waiting_are_409s_and_the_review_still_waits(client):
    course_id, before = waiting_for_review(client)

    status, problem, _ = client.request("POST", f"/courses/{course_id}/publish")
    assert status == 409, problem
    assert (problem["workflow_state"], problem["allowed_decisions"]) == ("REVIEW", REVIEW_DECISIONS)
    assert "publish" in problem["message"]

    status, problem, _ = client.request("POST", f"/courses/{course_id}/archive")
    assert status == 409, problem
    assert (problem["workflow_state"], problem["allowed_decisions"]) == ("REVIEW", REVIEW_DECISIONS)
    assert "review" in problem["message"] and "decide first" in problem["message"]

    status, problem, _ = client.request("POST", f"/courses/{course_id}/review", {"decision": "submit"})
    assert status == 409 and problem["workflow_state"] == "REVIEW", problem  # in review already

    assert review_of(client, course_id) == before


# --- 404: not yours, or no such course -------------------------------------------------------------

def test_another_tenants_course_is_a_404_for_every_review_route_and_stays_untouched(client, runner):
    course_id, before = waiting_for_review(client)
    mallory = Client(runner, tenant="mallory")
    calls = [("GET", f"/courses/{course_id}/review", None),
             ("POST", f"/courses/{course_id}/review", {"decision": "approve"}),
             ("POST", f"/courses/{course_id}/review", {"decision": "reject"}),
             ("POST", f"/courses/{course_id}/publish", None),
             ("POST", f"/courses/{course_id}/archive", None)]
    for method, path, body in calls:
        status, problem, _ = mallory.request(method, path, body)
        assert status == 404 and course_id in problem["message"], (method, path, problem)
        assert "workflow_state" not in problem  # nothing about the course leaks
    assert review_of(client, course_id) == before


def test_an_unknown_course_is_a_404_for_every_review_route(client):
    missing = str(uuid.uuid4())
    for method, path, body in [("GET", f"/courses/{missing}/review", None),
                               ("POST", f"/courses/{missing}/review", {"decision": "approve"}),
                               ("POST", f"/courses/{missing}/publish", None),
                               ("POST", f"/courses/{missing}/archive", None)]:
        status, problem, _ = client.request(method, path, body)
        assert status == 404 and f"No course {missing}" in problem["message"], (method, path, problem)
    assert client.request("GET", "/courses/not%20an%20id/review")[0] == 400  # the path pattern, before any lookup


# --- the lifecycle, each decision repeatable ---------------------------------------------------------

def test_approve_twice_publish_twice_then_archive_and_the_review_lists_every_move(client):
    course_id, _ = waiting_for_review(client)

    first = client.request("POST", f"/courses/{course_id}/review", {"decision": "approve"})
    second = client.request("POST", f"/courses/{course_id}/review", {"decision": "approve"})
    assert first[0] == second[0] == 200, (first, second)
    assert first[1] == second[1]
    assert (first[1]["workflow_state"], first[1]["waiting_for"], first[1]["decision"]) == ("PUBLISH_READY", None, "approve")
    assert (first[1]["transition"]["from_state"], first[1]["transition"]["to_state"]) == ("REVIEW", "PUBLISH_READY")
    assert review_of(client, course_id)["allowed_decisions"] == ["publish", "archive"]

    status, problem, _ = client.request("POST", f"/courses/{course_id}/review", {"decision": "reject"})
    assert status == 409 and (problem["workflow_state"], problem["allowed_decisions"]) == ("PUBLISH_READY",
                                                                                           ["publish", "archive"])

    first = client.request("POST", f"/courses/{course_id}/publish")
    second = client.request("POST", f"/courses/{course_id}/publish")
    assert first[0] == second[0] == 200, (first, second)
    assert first[1] == second[1]
    assert first[1]["workflow_state"] == "PUBLISHED" and first[1]["url"].endswith(f"/sites/{course_id}/index.html")

    first = client.request("POST", f"/courses/{course_id}/archive")
    second = client.request("POST", f"/courses/{course_id}/archive")
    assert first[0] == second[0] == 200, (first, second)
    assert first[1] == second[1] and first[1]["workflow_state"] == "ARCHIVED"

    review = review_of(client, course_id)
    assert (review["workflow_state"], review["waiting_for"], review["allowed_decisions"]) == ("ARCHIVED", None, [])
    assert moves(review) == [("DRAFT", "REVIEW"), ("REVIEW", "PUBLISH_READY"), ("PUBLISH_READY", "PUBLISHED"),
                             ("PUBLISHED", "ARCHIVED")]
    assert [t["decision"] for t in review["transitions"]] == ["submit", "approve", "publish", "archive"]
    assert [t["seq"] for t in review["transitions"]] == [1, 2, 3, 4]
    assert client.request("GET", f"/courses/{course_id}/status")[1]["workflow_state"] == "ARCHIVED"

    status, problem, _ = client.request("POST", f"/courses/{course_id}/publish")
    assert status == 409 and (problem["workflow_state"], problem["allowed_decisions"]) == ("ARCHIVED", [])


# --- outline approval ------------------------------------------------------------------------------

def status_once_phase_is(client: Client, course_id: str, phase: str, seconds: float = 10) -> dict:
    """GET status until its phase is that one. (The wait is recorded in PostgreSQL a moment before
    the phase is written to the course's state: the two are separate writes.)"""
    deadline = time.monotonic() + seconds
    while True:
        _, status, _ = client.request("GET", f"/courses/{course_id}/status")
        if status["phase"] == phase or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_an_outline_waiting_for_approval_takes_approve_only_refuses_a_bad_edit_and_then_completes(client):
    status, accepted, _ = client.request("POST", "/courses", {**PLAIN, "review_outline": True})
    assert status == 202, accepted
    course_id = accepted["course_id"]
    before = client.wait_until_waiting(course_id, "outline_approval")

    course_status = status_once_phase_is(client, course_id, "awaiting_outline_approval")
    assert (course_status["status"], course_status["phase"], course_status["waiting_for"]) == (
        "processing", "awaiting_outline_approval", "outline_approval")
    assert (before["workflow_state"], before["allowed_decisions"], before["transitions"]) == (
        "DRAFT", ["approve", "request_changes"], [])
    assert before["lessons"] == []  # nothing is written before the outline is approved

    status, problem, _ = client.request("POST", f"/courses/{course_id}/review", {"decision": "reject"})
    assert status == 409, problem
    assert (problem["workflow_state"], problem["allowed_decisions"]) == ("DRAFT", ["approve", "request_changes"])
    assert "outline" in problem["message"]

    status, problem, _ = client.request("POST", f"/courses/{course_id}/review",
                                        {"decision": "approve", "outline": "Part 1: nonsense"})
    assert status == 400, problem
    [error] = problem["errors"]
    assert error["field"] == "outline" and error["reason"], problem
    assert "outline" in problem["message"]

    status, problem, _ = client.request("POST", f"/courses/{course_id}/review", {"decision": "request_changes"})
    assert status == 400 and problem["errors"][0]["field"] == "feedback", problem  # a re-plan needs feedback

    assert review_of(client, course_id) == before  # still waiting, nothing recorded

    status, outcome, _ = client.request("POST", f"/courses/{course_id}/review", {"decision": "approve"})
    assert status == 200, outcome
    assert (outcome["decision"], outcome["transition"]["from_state"], outcome["transition"]["to_state"]) == (
        "approve", "DRAFT", "DRAFT")
    final = client.wait_until_done(course_id, timeout=300)[-1]
    assert final["status"] == "complete", final
    review = review_of(client, course_id)
    assert (review["workflow_state"], review["waiting_for"]) == ("DRAFT", None) and review["lessons"]
    assert [t["decision"] for t in review["transitions"]] == ["approve"]


# --- the OpenAPI document ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("get", "/courses/{course_id}/review", {"200", "400", "404"}),
        ("post", "/courses/{course_id}/review", {"200", "400", "404", "409"}),
        ("post", "/courses/{course_id}/publish", {"200", "400", "404", "409"}),
        ("post", "/courses/{course_id}/archive", {"200", "400", "404", "409"}),
    ],
)
def test_openapi_documents_the_review_operations_and_their_refusals(method, path, statuses):
    document = json.loads((ROOT / "openapi.json").read_text())
    operation = document["paths"][path][method]
    assert statuses <= set(operation["responses"]), sorted(operation["responses"])
    for code in statuses - {"200"}:
        schema = operation["responses"][code]["content"]["application/json"]["schema"]
        # a 409 of the lifecycle says where the course is and what it allows (Conflict: a Problem and those)
        expected = "Conflict" if code == "409" else "Problem"
        assert schema == {"$ref": f"#/components/schemas/{expected}"}, (code, schema)
    conflict = document["components"]["schemas"]["Conflict"]["properties"]
    assert {"message", "errors", "workflow_state", "allowed_decisions"} <= set(conflict)
    assert operation["summary"]
    if (method, path) == ("post", "/courses/{course_id}/review"):
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/DecisionRequest"} and operation["requestBody"]["required"]
        decision = document["components"]["schemas"]["DecisionRequest"]
        assert decision["required"] == ["decision"]
        assert decision["properties"]["decision"]["enum"] == ["submit", *REVIEW_DECISIONS]
        assert decision["properties"]["lessons"]["maxItems"] == 10

