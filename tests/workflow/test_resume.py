"""Resume: a failed course runs again under its id and continues from the artifacts in S3,
asking the model only for what is missing."""

from __future__ import annotations

import pytest

from coursegen_local.faults import FAULT_CASES
from tests.conftest import course_rows
from tests.fakes import ScriptedLlm

pytestmark = pytest.mark.workflow


def test_a_resumed_course_reuses_the_plan_and_the_parts_it_already_has(run_workflow, clean_courses):
    llm = ScriptedLlm()
    failed, runner = run_workflow(llm=llm, faults=FAULT_CASES["s3-object-missing"].faults())
    assert failed.status["status"] == "error" and failed.status["error"]["type"] == "PayloadMissing"
    parts = failed.status["progress"]["parts_total"]
    assert len(llm.calls["courses.expand_part"]) == parts and len(llm.calls["courses.generate_parts"]) == 1

    owner = runner.container.states.load(failed.course_id).owner
    accepted = runner.container.course_service.resume(failed.course_id, owner)
    resumed = runner.wait(failed.course_id, execution_name=accepted.execution_name)

    assert resumed.execution_status == "SUCCEEDED" and resumed.status["status"] == "complete"
    assert len(llm.calls["courses.generate_parts"]) == 1  # the plan was reused
    assert len(llm.calls["courses.expand_part"]) == parts + 1  # only the part whose sections vanished
    assert course_rows(clean_courses) == 1 and len(resumed.course.outline.parts) == parts


def test_a_resume_after_a_lost_lesson_writes_only_that_lesson(run_workflow, clean_courses):
    from tests.conftest import lesson_rows

    llm = ScriptedLlm()
    failed, runner = run_workflow(llm=llm, faults=FAULT_CASES["lesson-artifact-missing"].faults())
    assert failed.status["status"] == "error", failed.status
    assert failed.status["error"]["type"] == "PayloadMissing" and failed.status["phase"] == "building_book"
    assert "was not written" in failed.status["error"]["message"]
    total = failed.status["progress"]["lessons_total"]
    assert total > 1 and len(llm.calls["lessons.write_lesson"]) == total
    parts = len(llm.calls["courses.expand_part"])

    owner = runner.container.states.load(failed.course_id).owner
    accepted = runner.container.course_service.resume(failed.course_id, owner)
    resumed = runner.wait(failed.course_id, execution_name=accepted.execution_name)

    assert resumed.execution_status == "SUCCEEDED" and resumed.status["status"] == "complete", resumed.status
    assert len(llm.calls["lessons.write_lesson"]) == total + 1  # only the lesson whose artifact vanished
    assert len(llm.calls["courses.expand_part"]) == parts and len(llm.calls["courses.generate_parts"]) == 1
    progress = resumed.status["progress"]
    assert progress["lessons_done"] == progress["lessons_total"] == total
    assert course_rows(clean_courses) == 1 and lesson_rows(clean_courses, failed.course_id) == total
    assert [lesson.lesson_index for lesson in clean_courses.list_lessons(failed.course_id)] == list(range(total))
    announced = [e["detail"]["payload"]["lesson_index"] for e in runner.published_events()
                 if e["detail-type"] == "course.lesson.generated"]
    assert sorted(announced) == sorted([*range(1, total + 1), 2])  # the lost lesson (the second) announced again


def test_only_a_failed_course_can_be_resumed(run_workflow):
    from coursegen.errors import NotResumable

    done, runner = run_workflow()
    owner = runner.container.states.load(done.course_id).owner
    with pytest.raises(NotResumable, match="is complete"):
        runner.container.course_service.resume(done.course_id, owner)


def test_the_same_course_id_with_another_request_reuses_nothing(run_workflow):
    from coursegen.models import CourseRequest

    llm = ScriptedLlm()
    first, runner = run_workflow(llm=llm, course_id="reused-id")
    runner.start(CourseRequest(query="Learn DCF valuation", hours=3), course_id="reused-id", execution_name="other-request")
    second = runner.wait("reused-id", execution_name="other-request")
    assert second.execution_status == "SUCCEEDED"
    assert len(llm.calls["courses.generate_parts"]) == 2 and second.course.target_minutes == 180


def test_two_resumes_at_once_start_one_execution(run_workflow):
    from coursegen.errors import NotResumable

    failed, runner = run_workflow(faults=FAULT_CASES["s3-object-missing"].faults())
    owner = runner.container.states.load(failed.course_id).owner
    service = runner.container.course_service
    first = service.resume(failed.course_id, owner)
    with pytest.raises(NotResumable):
        service.resume(failed.course_id, owner)
    assert first.execution_name == f"{failed.course_id}-resume-1"
    assert runner.wait(failed.course_id, execution_name=first.execution_name).status["status"] == "complete"


def test_part_sections_belong_to_their_plan():
    from coursegen.models import CourseState
    from coursegen.services.outline import part_key

    state = CourseState(session_id="c", request_fingerprint="f" * 64, parts_list=[{"index": 0, "title": "A", "minutes": 20}])
    replanned = state.model_copy(update={"parts_list": [{"index": 0, "title": "B", "minutes": 20}]})
    assert part_key(state, 0) != part_key(replanned, 0)
