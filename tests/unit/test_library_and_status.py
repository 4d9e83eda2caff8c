"""Library lines are validated one by one; a poller gets a readable status."""

import json

from coursegen.domain.status import course_status, one_readable_line, readable_cause, underlying_error
from coursegen.models import CourseState, Phase, Progress, Status
from coursegen.services.library import parse_library_lines

GOOD = {"book_id": "fin-001", "title": "Valuation", "summary": "A long enough summary of a valuation book.",
        "key_topics": ["DCF"]}


def test_bad_lines_are_reported_by_number_and_the_rest_kept():
    lines = [
        json.dumps(GOOD),
        "{not json",
        json.dumps({**GOOD, "book_id": "fin-002", "summary": "short"}),
        "",
        json.dumps(GOOD),
        json.dumps({**GOOD, "book_id": "has space"}),
    ]
    books, rejected = parse_library_lines(lines)
    assert [(n, b.book_id) for n, b in books] == [(1, "fin-001")]
    assert [n for n, _ in rejected] == [2, 3, 5, 6]
    reasons = dict(rejected)
    assert "not JSON" in reasons[2]
    assert reasons[3].startswith("summary:")
    assert "repeats line 1" in reasons[5]
    assert reasons[6].startswith("book_id:")


def test_lines_json_cannot_read_or_postgresql_cannot_store_are_rejected_alone():
    lines = [
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        '{"year": ' + "9" * 5000 + "}",
        json.dumps({**GOOD, "title": "Valu\u0000ation"}),
        json.dumps({**GOOD, "book_id": "fin-009", "key_topics": ["D\x7fCF"]}),
        "[1, 2]",
        json.dumps(GOOD),
    ]
    books, rejected = parse_library_lines(lines)
    assert [(n, b.book_id) for n, b in books] == [(6, "fin-001")]
    reasons = dict(rejected)
    assert reasons[1].endswith("nested too deeply") and reasons[2].endswith("a number too long")
    assert reasons[3] == "title: must not contain control characters"
    assert reasons[4] == "key_topics: must not contain control characters"
    assert reasons[5].startswith("line: ")


def test_a_lambda_failure_cause_becomes_its_message_without_the_stack():
    cause = json.dumps({"errorType": "LlmUnavailable", "errorMessage": "model down", "stackTrace": ["File x"]})
    assert readable_cause(cause) == "model down"
    assert readable_cause("plain words") == "plain words"


def _child_failed(error: str, cause: str, *, aws_spelling: bool = True) -> str:
    """The Cause of a states:startExecution.sync:2 task whose child execution failed: the child's
    DescribeExecution answer (AWS spells its keys in PascalCase, moto in camelCase)."""
    keys = ("ExecutionArn", "Status", "Error", "Cause") if aws_spelling else ("executionArn", "status", "error", "cause")
    return json.dumps(dict(zip(keys, ("arn:aws:states:us-east-1:1:execution:content:c1-content", "FAILED", error, cause))))


def test_a_failed_child_execution_is_read_down_to_its_own_error_and_message():
    lambda_cause = json.dumps({"errorType": "LlmUnavailable", "errorMessage": "Lesson 2.1 (Perpetuities): model down",
                               "stackTrace": ["File x"]})
    for spelling in (True, False):
        cause = _child_failed("LlmUnavailable", lambda_cause, aws_spelling=spelling)
        assert readable_cause(cause) == "Lesson 2.1 (Perpetuities): model down"
        assert one_readable_line(cause) == "Lesson 2.1 (Perpetuities): model down"
        assert underlying_error("States.TaskFailed", cause) == "LlmUnavailable"
    grandchild = _child_failed("States.TaskFailed", _child_failed("KeyError", json.dumps({"errorMessage": "'x'"})))
    assert readable_cause(grandchild) == "'x'" and underlying_error("States.TaskFailed", grandchild) == "KeyError"
    assert readable_cause(_child_failed("States.Timeout", "")) == "States.Timeout"  # no cause: its error's name
    # not a child execution's answer: left as it is
    assert underlying_error("LlmUnavailable", lambda_cause) == "LlmUnavailable"
    assert underlying_error("States.TaskFailed", "plain words") == "States.TaskFailed"
    assert readable_cause(json.dumps({"status": "FAILED", "error": "X"})) == json.dumps({"status": "FAILED", "error": "X"})


def test_explain_failure_of_the_content_stage_reports_the_lessons_error_and_phase():
    from coursegen.services.outline import FailureInput, OutlineWorkflow

    class States:
        def load(self, course_id, include_text=True):
            return CourseState(session_id=course_id, phase=Phase.writing_lessons, created_at="2026-01-01T00:00:00Z")

    workflow = OutlineWorkflow(llm=None, embedder=None, books=None, courses=None, states=States(), payloads=None)
    cause = _child_failed("LlmUnavailable", json.dumps({"errorType": "LlmUnavailable",
                                                        "errorMessage": "Lesson 2.1 (Perpetuities): model down"}))
    explained = workflow.explain_failure(FailureInput(
        course_id="c1", errors={"WriteLessons": {"Error": "States.TaskFailed", "Cause": cause}}))
    assert explained["error_type"] == "LlmUnavailable"
    assert explained["error_message"] == "Lesson 2.1 (Perpetuities): model down"
    assert explained["phase"] == "writing_lessons" and explained["stored"] is None


def test_status_of_a_failed_course_names_type_message_and_phase():
    state = CourseState(session_id="c1", status=Status.error, phase=Phase.generating_sections,
                        error_type="LlmUnavailable", error_message=json.dumps({"errorMessage": "model down"}),
                        progress=Progress(parts_total=4, part_sections={"0": 3, "1": 2}))
    view = course_status(state)
    assert view["status"] == "error"
    assert view["error"] == {"type": "LlmUnavailable", "message": "model down", "phase": "generating_sections"}
    assert view["progress"]["percent"] == 20  # half the sections of the outline's 8-32%


def test_status_of_a_complete_course_is_100_percent():
    view = course_status(CourseState(session_id="c1", status=Status.complete, phase=Phase.storing))
    assert view["phase"] == "complete" and view["progress"]["percent"] == 100
