"""A dry run (the request's dry_run) through both state machines: the outline is planned and
stored, the lessons are planned and batched, none is written, and the course answers with an
estimate of what writing them would take."""

from coursegen.errors import CourseNotReady
from coursegen.models import CourseRequest

import pytest


def test_a_dry_run_plans_the_lessons_writes_none_and_records_an_estimate(run_workflow, clean_courses):
    result, runner = run_workflow(CourseRequest(query="Learn DCF valuation", hours=2, dry_run=True))

    assert result.execution_status == "SUCCEEDED", result.status
    assert result.status["status"] == "complete" and result.status["dry_run"] is True
    planned = result.status["progress"]["lessons_total"]
    assert planned == result.course.outline.section_count > 0
    estimate = result.status["estimate"]
    assert estimate["lessons_planned"] == estimate["lessons_in_full"] == planned
    assert estimate["model_calls"] == 2 * planned  # each lesson, then whether it needs a diagram
    assert estimate["input_tokens"] > 0 and estimate["output_tokens"] > 0 and estimate["cost_usd"] > 0
    assert 0 < estimate["wall_seconds"] <= estimate["sequential_seconds"]
    assert "not an LLM" in estimate["basis"]  # the offline writer says what it is
    # no lesson was written: no batch step ran, no lesson row, no lesson event
    assert "GenerateBatchContent" not in runner.invocations and "BuildBook" not in runner.invocations
    assert clean_courses.list_lessons(result.course_id) == []
    events = [e["detail-type"] for e in runner.published_events()]
    assert "course.lesson.generated" not in events and events[-1] == "course.generation.completed"
    completed = runner.published_events()[-1]["detail"]["payload"]
    assert completed["full_lessons_generated"] == 0 and completed["dry_run"] is True  # consumers can tell
    with pytest.raises(CourseNotReady, match="dry run"):
        runner.container.course_service.lessons(result.course_id, owner=result.status.get("owner", "local"))


def test_a_dry_run_prices_only_the_lessons_it_would_write_in_full(run_workflow):
    result, _ = run_workflow(CourseRequest(query="Learn DCF valuation", hours=2, dry_run=True, full_lessons_count=2))

    estimate = result.status["estimate"]
    assert estimate["lessons_in_full"] == 2 and estimate["model_calls"] == 4
    assert estimate["lessons_planned"] == result.status["progress"]["lessons_total"] > 2


def test_a_dry_run_with_labs_counts_one_lab_a_part(run_workflow):
    request = CourseRequest(query="Learn DCF valuation", hours=2, dry_run=True, content_mode="theory_and_labs")
    result, runner = run_workflow(request)

    estimate = result.status["estimate"]
    assert estimate["labs"] == len(result.course.outline.parts)
    assert estimate["model_calls"] == 2 * estimate["lessons_in_full"] + estimate["labs"]
    assert "WriteLab" not in runner.invocations
