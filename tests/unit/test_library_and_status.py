"""Library lines are validated one by one; a poller gets a readable status."""

import json

from coursegen.domain.status import course_status, readable_cause
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
