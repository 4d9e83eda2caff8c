"""Outline approval's service side (issue 15, point 4) on the real stores: a course generated
offline (the ASL on moto, DynamoDB and S3 in moto, PostgreSQL), then the reviewer's two answers
other than "approve", called as the approval's Lambda functions call them:

- replan_with_feedback: the next PlanParts plans again, the feedback in its prompt, and no step
  reuses the plan before it;
- apply_outline_edit: the edited outline replaces the stored course (PostgreSQL and the state the
  lessons are written from); a bad edit is refused, with its reason, and changes nothing.
"""

from __future__ import annotations

import re

import pytest

from coursegen.adapters.offline import OfflinePlanner
from coursegen.domain.context import format_course_outline
from coursegen.errors import DecisionInvalid
from coursegen.models import CourseOutline, CourseRequest
from coursegen.services.outline import PartInput, StepInput, part_key, stored_outline
from coursegen_local.runner import LocalRunner
from tests.conftest import course_rows, section_rows
from tests.fakes import ScriptedLlm

pytestmark = pytest.mark.workflow

# A dry run stores the outline and plans the lessons, writes none: the state a course is in when
# it waits for its outline's approval, as fast as a course gets.
DCF = CourseRequest(query="Learn DCF valuation", hours=2, dry_run=True)
FEEDBACK = "Please spend more time on the equity risk premium"


@pytest.fixture
def generated(clean_courses, embedder):
    """(runner, llm, course_id): one course generated and stored; the model records every prompt."""
    llm = ScriptedLlm()
    with LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder, llm=llm) as runner:
        result = runner.run(DCF, timeout_seconds=120)
        assert result.execution_status == "SUCCEEDED", result.status
        yield runner, llm, result.course_id


def outline_steps(workflow, course_id: str) -> dict:
    """What the execution does after PlanParts, step by step: expand, assemble (and review), store."""
    state = workflow.states.load(course_id)
    for part in state.parts:
        assert workflow.expand_part(PartInput(course_id=course_id, part_index=part.index))["reused"] is False
    measured = workflow.assemble_outline(StepInput(course_id=course_id))
    while not measured["within_tolerance"] and measured["review_attempts"] < 2:
        workflow.review_outline(StepInput(course_id=course_id))
        measured = workflow.assemble_outline(StepInput(course_id=course_id))
    return workflow.store_course(StepInput(course_id=course_id))


def test_a_replan_plans_again_with_the_feedback_and_reuses_nothing_of_the_plan_before(generated, clean_courses):
    runner, llm, course_id = generated
    workflow = runner.container.outline_workflow
    before = clean_courses.get_course(course_id)
    first = workflow.states.load(course_id)
    old_keys = {part_key(first, part.index) for part in first.parts}
    assert len(llm.calls["courses.generate_parts"]) == 1
    assert llm.calls["courses.generate_parts"][0].variables["reviewer_feedback"] == "none"

    assert workflow.replan_with_feedback(course_id, f"  {FEEDBACK}  ") == {"course_id": course_id, "replans": 1}
    cleared = workflow.states.load(course_id)
    assert cleared.outline_feedback == [FEEDBACK]
    assert cleared.parts_list == [] and cleared.outline_text == "" and not cleared.outline_complete
    assert cleared.review_attempts == 0 and cleared.total_minutes is None and cleared.variance_percent is None
    assert cleared.time_warning == "" and cleared.course_outline_context == ""

    planned = workflow.plan_parts(StepInput(course_id=course_id))
    assert planned["reused"] is False and len(llm.calls["courses.generate_parts"]) == 2
    prompt = llm.calls["courses.generate_parts"][1]
    assert prompt.variables["reviewer_feedback"] == f"Feedback 1: {FEEDBACK}"
    assert f"<reviewer_feedback>\nFeedback 1: {FEEDBACK}\n</reviewer_feedback>" in prompt.text
    replanned = workflow.states.load(course_id)
    assert not old_keys & {part_key(replanned, part.index) for part in replanned.parts}  # every part written anew

    stored = outline_steps(workflow, course_id)
    after = clean_courses.get_course(course_id)
    assert course_rows(clean_courses) == 1 and section_rows(clean_courses, course_id) == stored["sections"]
    assert [p.title for p in after.outline.parts] != [p.title for p in before.outline.parts]
    assert any(p.title.startswith("Review focus: ") and "risk premium" in p.title.lower() for p in after.outline.parts)
    # the planner's answer says so (the outline keeps only parts and sections: there, the part's title says it)
    assert "Re-planned after review feedback" in OfflinePlanner().complete(prompt).text
    assert abs(after.total_minutes - 120) <= 6

    # a second re-plan: the planner sees every piece of feedback, oldest first
    assert workflow.replan_with_feedback(course_id, "More on terminal value")["replans"] == 2
    workflow.plan_parts(StepInput(course_id=course_id))
    assert llm.calls["courses.generate_parts"][2].variables["reviewer_feedback"] == (
        f"Feedback 1: {FEEDBACK}\nFeedback 2: More on terminal value")


def test_a_replan_without_feedback_is_refused_and_changes_nothing(generated):
    runner, _, course_id = generated
    workflow = runner.container.outline_workflow
    before = workflow.states.load(course_id)
    with pytest.raises(DecisionInvalid) as raised:
        workflow.replan_with_feedback(course_id, "   ")
    assert raised.value.field == "feedback"
    after = workflow.states.load(course_id)
    assert after.parts_list == before.parts_list and after.outline_text == before.outline_text and after.outline_feedback == []


def edited(outline: CourseOutline) -> CourseOutline:
    """A reviewer's edit: the first section renamed, the last section of the last part dropped and
    its minutes given to the first (the total stays), the books as they were."""
    edit = outline.model_copy(deep=True)
    dropped = edit.parts[-1].sections.pop()
    if not edit.parts[-1].sections:
        edit.parts.pop()
    edit.parts[0].sections[0].title = "Edited: what a DCF answers"
    edit.parts[0].sections[0].minutes += dropped.minutes
    for part in edit.parts:
        part.minutes = sum(s.minutes for s in part.sections)
    return edit


def test_an_edited_outline_replaces_the_stored_course_and_the_outline_the_lessons_are_written_from(generated, clean_courses):
    runner, _, course_id = generated
    workflow = runner.container.outline_workflow
    before = clean_courses.get_course(course_id)
    edit = edited(before.outline)

    answer = workflow.apply_outline_edit(course_id, format_course_outline(edit))
    assert answer == {"course_id": course_id, "title": before.outline.title, "parts": len(edit.parts),
                      "sections": edit.section_count, "total_minutes": edit.total_minutes, "target_minutes": 120,
                      "variance_percent": round((edit.total_minutes - 120) / 120 * 100, 2)}
    after = clean_courses.get_course(course_id)
    assert after.outline == edit  # titles, minutes, objectives and the books each section cites
    assert section_rows(clean_courses, course_id) == before.outline.section_count - 1
    state = workflow.states.load(course_id)
    assert stored_outline(state) == edit and state.outline_complete
    assert "Edited: what a DCF answers" in state.course_outline_context  # what the lessons are written from
    assert state.progress.stored_sections == edit.section_count

    # the same edit again: one course, as it was
    assert workflow.apply_outline_edit(course_id, format_course_outline(edit)) == answer
    assert course_rows(clean_courses) == 1 and clean_courses.get_course(course_id).outline == edit


def longer_first_section(text: str, minutes: int) -> str:
    """The first section `minutes` longer, and no Total line (the sections count)."""
    text = re.sub(r"^Total: .*$", "", text, flags=re.M)
    return re.sub(r"^(### Section [^\n]*\()(\d+)( minutes\))", lambda m: f"{m[1]}{int(m[2]) + minutes}{m[3]}",
                  text, count=1, flags=re.M)


@pytest.mark.parametrize("spoil, reason", [
    (lambda text: longer_first_section(text, 60), "the budget allows 114-126 min"),
    (lambda text: text.replace("Sources: [", "Sources: [fin-999], [", 1), "[fin-999], not among the course's books"),
    (lambda text: "", "the edited outline is empty"),
    (lambda text: text.replace("## Part", "Part", 1).replace("\n", "\x00\n", 1), "control character (U+0000)"),
], ids=["over the budget", "a book the course did not find", "empty", "a control character"])
def test_a_bad_edit_says_what_is_wrong_and_changes_nothing(generated, clean_courses, spoil, reason):
    runner, _, course_id = generated
    workflow = runner.container.outline_workflow
    before, state_before = clean_courses.get_course(course_id), workflow.states.load(course_id)
    with pytest.raises(DecisionInvalid) as raised:
        workflow.apply_outline_edit(course_id, spoil(format_course_outline(edited(before.outline))))
    assert raised.value.field == "outline" and reason in raised.value.reason
    after, state_after = clean_courses.get_course(course_id), workflow.states.load(course_id)
    assert after.outline == before.outline and after.total_minutes == before.total_minutes
    assert state_after.outline_text == state_before.outline_text
    assert state_after.course_outline_context == state_before.course_outline_context
