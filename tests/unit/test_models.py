"""Requests are validated at the edge; the course state keeps every field the seeds list."""

import pytest
from pydantic import ValidationError

from coursegen.models import CourseRequest, CourseState, WorkflowInput, describe_validation_error

# Seed 000, "DynamoDB Table ... Attributes: All fields from CourseState" (course_id is session_id).
SEED_STATE_FIELDS = """session_id pending_course_query pending_course_hours pending_course_prefs book_summaries_json
parts_list current_part_index outline_text outline_complete current_course current_section current_section_draft
selected_lecture_figures covered_objectives previous_lectures_context course_outline_context is_revision status
error_message created_at updated_at ttl""".split()


def test_course_state_keeps_every_seed_field():
    assert set(SEED_STATE_FIELDS) <= set(CourseState.model_fields)


def test_course_state_round_trips_through_json_without_loss():
    state = CourseState(session_id="c1", pending_course_query="Learn DCF", pending_course_hours=2,
                        parts_list=[{"index": 0, "title": "A", "minutes": 30, "description": ""}],
                        covered_objectives=["x"], selected_lecture_figures=[{"figure": 1}],
                        current_section={"title": "s"}, is_revision=True)
    assert CourseState.model_validate_json(state.model_dump_json()) == state
    assert state.target_minutes == 120 and state.parts[0].title == "A"


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"query": "Learn DCF", "hours": 0}, "hours", "greater than 0"),
        ({"query": "Learn DCF", "hours": 1000}, "hours", "between 0.25 and 100"),
        ({"query": "  ", "hours": 2}, "query", "at least 3"),
        ({"query": "x" * 501, "hours": 2}, "query", "at most 500"),
        ({"query": "Learn\x00DCF", "hours": 2}, "query", "control characters"),
        ({"query": "Learn DCF\x7f\x85 valuation", "hours": 2}, "query", "control characters"),  # DEL and C1 too
        ({"query": "Learn DCF", "hours": "2"}, "hours", "valid number"),  # a number, not a string that looks like one
        ({"query": "Learn DCF", "hours": True}, "hours", "valid number"),
        ({"query": "Learn DCF", "hours": 2, "preferences": {"depth": "abyssal"}}, "preferences.depth", "overview"),
        ({"query": "Learn DCF", "hours": 2, "surprise": 1}, "surprise", "not permitted"),
    ],
)
def test_bad_requests_name_the_field_and_the_reason(body, field, reason):
    with pytest.raises(ValidationError) as caught:
        CourseRequest.model_validate(body)
    message = describe_validation_error(caught.value)
    assert message.startswith(f"{field}:") and reason in message


def test_the_execution_input_ignores_what_the_state_machine_adds():
    parsed = WorkflowInput.model_validate(
        {"course_id": "abc", "query": "Learn DCF", "hours": 2, "settings": {"max_concurrency": 4}, "embedding": {}}
    )
    assert parsed.course_id == "abc"


def test_a_request_that_sets_none_of_the_new_fields_keeps_its_fingerprint():
    from coursegen.models import CourseRequest

    # computed by the code before content_mode and dry_run existed (git show a83a915:shared/coursegen/models.py)
    before = "8a61870e4e4d95523a154facec03f2e7b7fac8e403bfe578ce40209c52b3dc1b"
    assert CourseRequest(query="Learn DCF valuation", hours=2, full_lessons_count=3).fingerprint() == before
    plain = CourseRequest(query="Learn DCF valuation", hours=2).fingerprint()
    assert CourseRequest(query="Learn DCF valuation", hours=2, dry_run=True).fingerprint() != plain
    assert CourseRequest(query="Learn DCF valuation", hours=2, content_mode="theory_and_labs").fingerprint() != plain


def test_the_requested_event_stays_under_1_kb_whatever_the_request_escapes_to():
    import json

    from coursegen.domain.events import requested_fields

    request = CourseRequest(query='"' * 500, hours=2, preferences={"audience": "\\" * 200, "focus": "é\"" * 100})
    detail = {"payload": {"course_id": "c" * 80, "tenant_id": "t" * 80, "language": "en", "hours": 100.0, **requested_fields(request)},
              "meta": {"schema_version": 1, "producer": "course_generation_state_machine", "source_module": "course_factory"}}
    assert len(json.dumps(detail).encode()) < 1024
    assert requested_fields(request)["title"].endswith("…")


def test_control_characters_in_the_audience_or_focus_are_refused():
    import pytest
    from pydantic import ValidationError

    for field in ("audience", "focus"):
        with pytest.raises(ValidationError, match="control characters"):
            CourseRequest(query="Learn DCF", hours=2, preferences={field: "a\x01b"})
