"""Labs (seed 003's theory-and-labs mode) through the content stage's ASL on the local runner: one lab
per part after the lessons, stored and in the book; none for a theory course; a lab failing for good
fails the course in writing_labs, naming the lab; a resume writes only the lab that is missing."""

from __future__ import annotations

import pytest

from coursegen.domain.labs import plan_labs
from coursegen.models import ContentMode, CourseRequest
from coursegen.services.labs import lab_key
from coursegen.services.lessons import book_keys, lesson_plans
from coursegen_local.faults import Fault, UnreachableLlm
from coursegen_local.runner import REGION
from tests.fakes import ScriptedLlm

pytestmark = pytest.mark.workflow

WITH_LABS = CourseRequest(query="Learn DCF valuation", hours=2, content_mode=ContentMode.theory_and_labs)


def lab_rows(repository, course_id: str) -> int:
    with repository.pool.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM labs WHERE course_id = %s", (course_id,)).fetchone()["n"]


def book_markdown(runner, course_id: str) -> str:
    s3 = runner.container._aws("s3")
    return s3.get_object(Bucket=runner.container.settings.payload_bucket, Key=book_keys(course_id)["md"])["Body"].read().decode()


def test_a_theory_and_labs_course_gets_one_stored_lab_per_part_after_its_lessons(run_workflow, clean_courses):
    llm = ScriptedLlm()
    result, runner = run_workflow(WITH_LABS, llm=llm)
    assert result.execution_status == "SUCCEEDED" and result.status["status"] == "complete", result.status

    parts = result.course.outline.parts
    labs = clean_courses.list_labs(result.course_id)
    assert [lab.part_index for lab in labs] == list(range(len(parts))) and lab_rows(clean_courses, result.course_id) == len(parts)
    assert runner.invocations["WriteLab"] == len(parts) and len(llm.calls["labs.write_lab"]) == len(parts)
    lessons = clean_courses.list_lessons(result.course_id)
    for lab, part in zip(labs, parts):
        assert lab.title == part.title and lab.status == "full"
        # the objectives of its part's lessons, and only theirs
        assert lab.objective_ids == [o for lesson in lessons if lesson.part_index == lab.part_index for o in lesson.objective_ids]
        assert lab.book_ids and set(lab.book_ids) <= {b for s in part.sections for b in s.book_ids}
        for heading in ("## Goal", "## Setup", "## Steps", "## Expected result", "## Solution", "## Self-check"):
            assert heading in lab.markdown, (lab.part_index, heading)
    # the content stage's payloads carry part indexes, never lab text
    content = runner.template.state_machine_arn("CourseContentStateMachine", REGION).replace(":stateMachine:", ":execution:")
    history = str(runner.history(f"{content}:{result.course_id}-content"))
    assert "WriteLabs" in history and not any(lab.markdown.splitlines()[0] in history for lab in labs)
    # the book: each part's lab right after that part's lessons, before the next part
    book = book_markdown(runner, result.course_id)
    for number, part in enumerate(parts, start=1):  # headings are Markdown-escaped: '### Lab 1\\: ...', '### 1\\.2 ...'
        lab_at = book.index(f"### Lab {number}\\: ")
        assert book.rindex(f"### {number}\\.", 0, lab_at) < lab_at
        if number < len(parts):
            assert lab_at < book.index(f"## Part {number + 1}")
    assert result.status["progress"]["percent"] == 100


def test_a_theory_course_writes_no_lab(run_workflow, clean_courses):
    result, runner = run_workflow(CourseRequest(query="Learn DCF valuation", hours=2))
    assert result.status["status"] == "complete", result.status
    assert "WriteLab" not in runner.invocations
    assert clean_courses.list_labs(result.course_id) == [] and lab_rows(clean_courses, result.course_id) == 0
    assert "### Lab " not in book_markdown(runner, result.course_id)


def test_a_part_whose_lessons_are_all_placeholders_gets_a_placeholder_lab_and_asks_no_model(run_workflow, clean_courses):
    llm = ScriptedLlm()
    preview = WITH_LABS.model_copy(update={"full_lessons_count": 1})  # only the first lesson (of part 1) in full
    result, runner = run_workflow(preview, llm=llm)
    assert result.status["status"] == "complete", result.status
    labs = clean_courses.list_labs(result.course_id)
    assert [lab.status for lab in labs] == ["full"] + ["placeholder"] * (len(labs) - 1)
    assert [p.variables["part_number"] for p in llm.calls["labs.write_lab"]] == ["1"]
    assert "Placeholder" in labs[-1].markdown and all(f"[{o}]" in labs[-1].markdown for o in labs[-1].objective_ids)


def test_a_lab_failing_for_good_ends_the_course_error_in_writing_labs_naming_the_lab(run_workflow, clean_courses):
    llm = UnreachableLlm("labs.write_lab", lambda variables: variables["part_number"] == "2")
    result, runner = run_workflow(WITH_LABS, llm=llm)
    assert result.execution_status == "FAILED" and result.status["status"] == "error", result.status
    error = result.status["error"]
    assert error["phase"] == "writing_labs" and error["type"] == "LlmUnavailable", error
    assert error["message"].startswith("Lab 2 (")
    assert runner.invocations["WriteLab"] > len(runner.container.courses.get_course(result.course_id).outline.parts)  # retried
    assert clean_courses.list_lessons(result.course_id) == [] and lab_rows(clean_courses, result.course_id) == 0


def test_a_resume_writes_only_the_lab_that_is_missing(run_workflow, clean_courses):
    llm = ScriptedLlm()
    lost = Fault("BuildBook", "", before=_delete_lab(1))  # the second part's lab vanishes before BuildBook
    failed, runner = run_workflow(WITH_LABS, llm=llm, faults=[lost])
    assert failed.status["status"] == "error" and failed.status["error"]["type"] == "PayloadMissing", failed.status
    assert failed.status["error"]["message"].startswith("Lab 2 (")
    written = len(llm.calls["labs.write_lab"])
    lessons_written = len(llm.calls["lessons.write_lesson"])

    owner = runner.container.states.load(failed.course_id).owner
    accepted = runner.container.course_service.resume(failed.course_id, owner)
    resumed = runner.wait(failed.course_id, execution_name=accepted.execution_name)

    assert resumed.status["status"] == "complete", resumed.status
    assert len(llm.calls["labs.write_lab"]) == written + 1  # only the lost lab
    assert [p.variables["part_number"] for p in llm.calls["labs.write_lab"][written:]] == ["2"]
    assert len(llm.calls["lessons.write_lesson"]) == lessons_written
    assert lab_rows(clean_courses, failed.course_id) == written == len(resumed.course.outline.parts)


def _delete_lab(part_index: int):
    def delete(runner, payload: dict) -> None:
        state = runner.container.states.load(payload["course_id"])
        [plan] = [lab for lab in plan_labs(lesson_plans(runner.container.payloads, state)) if lab.part_index == part_index]
        runner.delete_payload(lab_key(state, plan))

    return delete
