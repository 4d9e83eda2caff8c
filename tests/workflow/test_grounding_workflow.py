"""A request the library cannot teach is refused through the state machine: the course ends
`error` with NoBooksFound, what the library covers and how to add books, and nothing is planned."""

import pytest

from coursegen.models import CourseRequest
from tests.conftest import course_rows

pytestmark = pytest.mark.workflow


@pytest.mark.parametrize("query", ["asdf qwer zxcv", "Learn to play the violin"])
def test_an_off_topic_request_ends_no_books_found_with_the_library_subjects(run_workflow, clean_courses, query):
    result, runner = run_workflow(CourseRequest(query=query, hours=1))
    assert result.execution_status == "FAILED"
    assert result.status["status"] == "error"
    error = result.status["error"]
    assert error["type"] == "NoBooksFound" and error["phase"] == "searching_books"
    assert "The library covers: finance, accounting," in error["message"] and "culinary" in error["message"]
    assert "coursegen books import FILE.jsonl" in error["message"]
    assert query not in error["message"]  # the line goes into events, which never carry the query
    assert "PlanParts" not in runner.invocations
    assert course_rows(clean_courses) == 0


def test_a_request_the_library_covers_is_still_grounded(run_workflow):
    result, _ = run_workflow(CourseRequest(query="Learn accounting", hours=1))  # searched whole, it matched psychology first
    assert result.execution_status == "SUCCEEDED", result.status
    cited = {b for part in result.course.outline.parts for s in part.sections for b in s.book_ids}
    assert cited and all(book_id.startswith("acc-") for book_id in cited)
