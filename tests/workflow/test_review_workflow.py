"""The review stage (statemachine/course_review.asl.json) and the outline approval of the course
workflow, through the real ASL on the offline runner: the waits are moto's .waitForTaskToken tasks,
a decision sends the token. Named faults: a review nobody decides, a rewrite that fails, a review
stage that crashes, a restart of the runner while a course waits."""

from __future__ import annotations

import json
import threading
import time

import pytest

from coursegen.domain.lifecycle import WaitingFor, WorkflowState
from coursegen.errors import CourseNotFound, TransitionNotAllowed
from coursegen.models import CourseRequest
from coursegen.services.review import DecisionRequest
from coursegen_local.faults import Fault
from coursegen_local.runner import LocalRunner
from tests.conftest import event_problems, lesson_rows

pytestmark = pytest.mark.workflow
REVIEWED = CourseRequest(query="Learn DCF valuation", hours=1, review=True)
S = WorkflowState


@pytest.fixture
def open_runner(clean_courses, embedder):
    """open_runner(**options) -> an open LocalRunner on the test's PostgreSQL (closed after the test)."""
    opened = []

    def make(**options) -> LocalRunner:
        runner = LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder, **options)
        runner.__enter__()
        opened.append(runner)
        return runner

    yield make
    for runner in reversed(opened):
        runner.__exit__(None, None, None)


def waits_for(runner: LocalRunner, course_id: str, waiting_for: WaitingFor | None, state: S | None = None,
              seconds: float = 120):
    """The course's workflow once it waits for that (and is in that state); fails the test after `seconds`."""
    database = runner.container.database
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        workflow = database.get_workflow(course_id)
        if workflow.waiting_for == waiting_for and (state is None or workflow.state == state):
            return workflow
        time.sleep(0.05)
    raise AssertionError(f"course {course_id} never waited for {waiting_for} in {state}: {database.get_workflow(course_id)}")


def review_executions(runner: LocalRunner) -> dict[str, str]:
    arn = runner.container.settings.review_state_machine_arn
    return {e["name"]: e["status"] for e in runner.sfn.list_executions(stateMachineArn=arn)["executions"]}


def ended(runner: LocalRunner, name: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = review_executions(runner).get(name)
        if status and status != "RUNNING":
            runner._end_recorded(runner.container.settings.review_state_machine_arn.replace(
                ":stateMachine:", ":execution:") + f":{name}").wait(30)
            return status
        time.sleep(0.05)
    raise AssertionError(f"review execution {name} still running: {review_executions(runner)}")


def decide(runner: LocalRunner, course_id: str, decision: str, owner: str | None = None, by: str = "reviewer-1", **body):
    return runner.container.review_service.decide(course_id, owner, by, DecisionRequest(decision=decision, **body))


def transitions(runner: LocalRunner, course_id: str) -> list[tuple[str, str, str, str]]:
    return [(t.from_state.value, t.to_state.value, t.decision.value, t.transitioned_by)
            for t in runner.container.database.list_transitions(course_id)]


def generated_for_review(open_runner, **options) -> tuple[LocalRunner, str]:
    runner = open_runner(**options)
    result = runner.run(REVIEWED, timeout_seconds=300)
    assert result.status["status"] == "complete", result.status
    waits_for(runner, result.course_id, WaitingFor.review, S.REVIEW)
    return runner, result.course_id


def test_a_course_asked_with_review_reaches_review_and_waits_its_token_kept_out_of_every_event(open_runner):
    runner, course_id = generated_for_review(open_runner)
    workflow = runner.container.database.get_workflow(course_id)
    assert review_executions(runner) == {f"{course_id}-review": "RUNNING"}
    assert transitions(runner, course_id) == [("DRAFT", "REVIEW", "submit", "system")]
    events = runner.published_events()
    transitioned = [e["detail"]["payload"] for e in events if e["detail-type"] == "course.workflow.transitioned"]
    assert transitioned == [{"course_id": course_id, "from_state": "DRAFT", "to_state": "REVIEW", "transitioned_by": "system",
                             "requires_approval": True, "approval_token": workflow.approval_id}]
    token = runner.container.states.task_token(workflow.approval_id)
    assert token and token not in json.dumps(events) and token != workflow.approval_id
    status = runner.container.course_service.status(course_id, "local")
    assert (status["status"], status["workflow_state"], status["waiting_for"]) == ("complete", "REVIEW", "review")
    assert not runner.invalid_events


def test_approve_then_publish_then_archive_each_move_with_an_event(open_runner):
    runner, course_id = generated_for_review(open_runner)
    assert decide(runner, course_id, "approve")["workflow_state"] == "PUBLISH_READY"
    assert ended(runner, f"{course_id}-review") == "SUCCEEDED"
    service = runner.container.review_service
    published = service.publish(course_id, None, "reviewer-1")
    assert published["workflow_state"] == "PUBLISHED" and published["url"].endswith(f"/sites/{course_id}/index.html")
    page = runner.container.published_sites.s3.get_object(Bucket=runner.container.settings.staging_bucket,
                                                          Key=f"sites/{course_id}/index.html")["Body"].read()
    assert b"<html" in page.lower()
    assert service.archive(course_id, None, "reviewer-1")["workflow_state"] == "ARCHIVED"
    assert runner.container.payloads.list_keys(f"published/{course_id}/site/")  # content kept
    assert not runner.container.published_sites._keys(f"sites/{course_id}/")  # unpublished
    moves = [(f, t) for f, t, _, _ in transitions(runner, course_id)]
    assert moves == [("DRAFT", "REVIEW"), ("REVIEW", "PUBLISH_READY"), ("PUBLISH_READY", "PUBLISHED"), ("PUBLISHED", "ARCHIVED")]
    events = [e for e in runner.published_events() if e["detail-type"] == "course.workflow.transitioned"]
    assert [(e["detail"]["payload"]["from_state"], e["detail"]["payload"]["to_state"]) for e in events] == moves
    assert all(not event_problems(e) for e in events)


def test_reject_goes_back_to_draft_and_a_submit_opens_a_new_review(open_runner):
    runner, course_id = generated_for_review(open_runner)
    assert decide(runner, course_id, "reject", feedback="Not yet.")["workflow_state"] == "DRAFT"
    assert ended(runner, f"{course_id}-review") == "SUCCEEDED"
    submitted = decide(runner, course_id, "submit", by="owner-1")
    assert submitted["workflow_state"] == "REVIEW"
    waits_for(runner, course_id, WaitingFor.review, S.REVIEW)
    assert review_executions(runner)[f"{course_id}-review-3"] == "RUNNING"
    assert decide(runner, course_id, "approve")["workflow_state"] == "PUBLISH_READY"


def test_the_same_decision_twice_is_the_same_outcome_and_a_conflicting_one_is_refused(open_runner):
    runner, course_id = generated_for_review(open_runner)
    first = decide(runner, course_id, "approve")
    assert decide(runner, course_id, "approve") == first
    with pytest.raises(TransitionNotAllowed) as refused:
        decide(runner, course_id, "reject")
    assert refused.value.current == "PUBLISH_READY" and refused.value.allowed == ["publish", "archive"]
    assert len(transitions(runner, course_id)) == 2
    service = runner.container.review_service
    assert service.publish(course_id, None, "reviewer-1") == service.publish(course_id, None, "reviewer-1")
    assert len(transitions(runner, course_id)) == 3


def test_two_reviewers_deciding_at_once_one_wins_the_other_is_refused(open_runner):
    runner, course_id = generated_for_review(open_runner)
    outcomes: dict[str, object] = {}

    def reviewer(decision: str, by: str) -> None:
        try:
            outcomes[by] = decide(runner, course_id, decision, by=by)["workflow_state"]
        except TransitionNotAllowed as refused:
            outcomes[by] = refused

    threads = [threading.Thread(target=reviewer, args=a) for a in (("approve", "r-1"), ("reject", "r-2"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    won = [by for by, outcome in outcomes.items() if isinstance(outcome, str)]
    assert len(won) == 1 and isinstance(outcomes[({"r-1", "r-2"} - set(won)).pop()], TransitionNotAllowed)
    assert len(transitions(runner, course_id)) == 2


def test_a_decision_on_another_owners_course_or_on_a_course_that_waits_for_nothing(open_runner):
    runner, course_id = generated_for_review(open_runner)
    with pytest.raises(CourseNotFound):
        decide(runner, course_id, "approve", owner="someone-else")
    plain = runner.run(CourseRequest(query="Learn DCF valuation", hours=1), timeout_seconds=300).course_id
    with pytest.raises(TransitionNotAllowed) as refused:
        decide(runner, plain, "approve")
    assert refused.value.current == "DRAFT" and refused.value.allowed == ["submit", "archive"]
    assert runner.container.database.get_workflow(course_id).waiting_for == WaitingFor.review  # untouched


def test_fault_review_not_decided_in_time_ends_recorded_as_a_draft(open_runner):
    runner, course_id = generated_for_review(open_runner, review_timeout_seconds=1)
    assert ended(runner, f"{course_id}-review") == "SUCCEEDED"
    workflow = runner.container.database.get_workflow(course_id)
    assert (workflow.state, workflow.waiting_for) == (S.DRAFT, None)
    last = runner.container.database.list_transitions(course_id)[-1]
    assert (last.decision.value, last.transitioned_by) == ("expire", "system") and "not decided within" in last.note
    with pytest.raises(TransitionNotAllowed):
        decide(runner, course_id, "approve")  # the wait is over


def test_fault_a_review_stage_that_crashes_puts_the_course_back_to_draft_with_the_cause(open_runner):
    runner = open_runner(faults=[Fault("AwaitDecision", "DatabaseUnavailable", "database down", times=-1)])
    result = runner.run(REVIEWED, timeout_seconds=300)
    assert ended(runner, f"{result.course_id}-review") == "FAILED"
    workflow = runner.container.database.get_workflow(result.course_id)
    assert (workflow.state, workflow.waiting_for) == (S.DRAFT, None)
    last = runner.container.database.list_transitions(result.course_id)[-1]
    assert last.transitioned_by == "system" and "ended FAILED" in last.note and "submit" in last.note
    assert result.status["status"] == "complete"  # the course itself stays whole


def test_fault_a_rewrite_that_fails_is_noted_and_the_review_opens_again(open_runner):
    runner = open_runner(faults=[Fault("RewriteLessons", "LlmUnavailable", "model down", times=-1)])
    result = runner.run(REVIEWED, timeout_seconds=300)
    course_id = result.course_id
    waits_for(runner, course_id, WaitingFor.review, S.REVIEW)
    before = {lesson.lesson_id: lesson.markdown for lesson in runner.container.database.list_lessons(course_id)}
    lesson_id = next(iter(before))
    decide(runner, course_id, "request_changes", lessons=[{"lesson_id": lesson_id, "feedback": "Add a worked example."}])
    waits_for(runner, course_id, WaitingFor.review, S.REVIEW)
    last = runner.container.database.list_transitions(course_id)[-1]
    assert last.transitioned_by == "system" and "RewriteLessons failed (LlmUnavailable)" in last.note
    assert {lesson.lesson_id: lesson.markdown for lesson in runner.container.database.list_lessons(course_id)} == before
    assert decide(runner, course_id, "approve")["workflow_state"] == "PUBLISH_READY"


def test_review_outline_pauses_after_the_outline_before_any_lesson_is_written(open_runner, clean_courses):
    runner = open_runner()
    course_id = runner.start(CourseRequest(query="Learn DCF valuation", hours=1, review_outline=True))
    waits_for(runner, course_id, WaitingFor.outline_approval, S.DRAFT)
    status = runner.container.course_service.status(course_id, "local")
    assert (status["status"], status["phase"], status["waiting_for"]) == ("processing", "awaiting_outline_approval",
                                                                          "outline_approval")
    assert runner.container.courses.get_course(course_id) is not None and lesson_rows(clean_courses, course_id) == 0
    decide(runner, course_id, "approve")
    result = runner.wait(course_id, timeout_seconds=300)
    assert result.status["status"] == "complete" and lesson_rows(clean_courses, course_id) == result.status["progress"]["lessons_total"]


def test_fault_a_restart_while_a_course_waits_loses_nothing_and_duplicates_nothing(open_runner, clean_courses, embedder):
    first = open_runner()
    course_id = first.start(CourseRequest(query="Learn DCF valuation", hours=1, review=True, review_outline=True),
                            owner="tenant-x")
    waits_for(first, course_id, WaitingFor.outline_approval)
    first.__exit__(None, None, None)  # the process goes, and its waiting execution with it

    second = open_runner()
    assert second.reenter_waits() == [course_id]
    waits_for(second, course_id, WaitingFor.outline_approval)
    decide(second, course_id, "approve")
    waits_for(second, course_id, WaitingFor.review, S.REVIEW, seconds=300)
    assert clean_courses.list_courses(owner="tenant-x")[0].course_id == course_id
    assert len(clean_courses.list_courses()) == 1
    assert [m for m in transitions(second, course_id)] == [("DRAFT", "DRAFT", "approve", "reviewer-1"),
                                                            ("DRAFT", "REVIEW", "submit", "system")]
    generation = [e["name"] for e in second.sfn.list_executions(stateMachineArn=second.state_machine_arn)["executions"]]
    assert generation == [f"{course_id}-reentered"]  # one execution: the course ran again once, under its id


def outline_waiting(open_runner) -> tuple[LocalRunner, str]:
    runner = open_runner()
    course_id = runner.start(CourseRequest(query="Learn DCF valuation", hours=1, review_outline=True))
    waits_for(runner, course_id, WaitingFor.outline_approval, S.DRAFT)
    return runner, course_id


def test_an_edited_outline_replaces_the_stored_one_and_the_lessons_follow_it(open_runner):
    runner, course_id = outline_waiting(open_runner)
    text = runner.container.states.load(course_id).outline_text
    first = runner.container.courses.get_course(course_id).outline.parts[0].sections[0].title
    edited = text.replace(first, "Cash flows, edited by the reviewer", 1)
    decide(runner, course_id, "approve", outline=edited)
    result = runner.wait(course_id, timeout_seconds=300)
    assert result.status["status"] == "complete"
    stored = runner.container.courses.get_course(course_id)
    assert stored.outline.parts[0].sections[0].title == "Cash flows, edited by the reviewer"
    titles = [lesson.title for lesson in runner.container.database.list_lessons(course_id)]
    assert titles[0] == "Cash flows, edited by the reviewer"
    assert transitions(runner, course_id)[-1][2] == "approve"


def test_a_bad_outline_edit_is_refused_with_what_is_wrong_and_changes_nothing(open_runner):
    from coursegen.errors import DecisionInvalid

    runner, course_id = outline_waiting(open_runner)
    before = runner.container.courses.get_course(course_id)
    text = runner.container.states.load(course_id).outline_text
    halved = "\n".join(line for i, line in enumerate(text.splitlines()) if i < len(text.splitlines()) // 2)
    with pytest.raises(DecisionInvalid) as refused:
        decide(runner, course_id, "approve", outline=halved)
    assert refused.value.field == "outline" and refused.value.reason
    assert runner.container.courses.get_course(course_id) == before
    assert runner.container.database.get_workflow(course_id).waiting_for == WaitingFor.outline_approval
    assert transitions(runner, course_id) == []


def test_a_replan_with_feedback_reaches_the_planner_and_waits_for_approval_again(open_runner):
    runner, course_id = outline_waiting(open_runner)
    before = [part.title for part in runner.container.courses.get_course(course_id).outline.parts]
    decide(runner, course_id, "request_changes", feedback="More on the terminal value and the discount rate, please.")
    waits_for(runner, course_id, WaitingFor.outline_approval, S.DRAFT)
    deadline = time.monotonic() + 60
    while runner.container.database.get_workflow(course_id).outline_replans != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    after = [part.title for part in runner.container.courses.get_course(course_id).outline.parts]
    assert after != before and any(title.startswith("Review focus") for title in after)
    assert runner.container.states.load(course_id).outline_feedback == [
        "More on the terminal value and the discount rate, please."]
    decide(runner, course_id, "approve")
    assert runner.wait(course_id, timeout_seconds=300).status["status"] == "complete"


def test_request_changes_rewrites_exactly_the_named_lesson_and_republishes_the_site(open_runner):
    runner, course_id = generated_for_review(open_runner)
    database = runner.container.database
    before = {lesson.lesson_id: lesson for lesson in database.list_lessons(course_id)}
    outline_before = runner.container.courses.get_course(course_id)
    named = list(before.values())[1]
    decide(runner, course_id, "request_changes",
           lessons=[{"lesson_id": named.lesson_id, "feedback": "Add a worked example with numbers."}])
    waits_for(runner, course_id, WaitingFor.review, S.REVIEW, seconds=300)
    after = {lesson.section_index + 100 * lesson.part_index: lesson for lesson in database.list_lessons(course_id)}
    rewritten = after[named.section_index + 100 * named.part_index]
    assert (rewritten.revision, rewritten.lesson_id != named.lesson_id) == (2, True), runner.container.database.list_transitions(course_id)[-1]
    assert rewritten.markdown != named.markdown
    untouched = {k: (v.lesson_id, v.markdown, v.revision) for k, v in after.items() if v.lesson_id != rewritten.lesson_id}
    assert untouched == {l.section_index + 100 * l.part_index: (l.lesson_id, l.markdown, l.revision)
                         for l in before.values() if l.lesson_id != named.lesson_id}
    assert database.get_lesson(course_id, named.lesson_id).markdown == named.markdown  # the earlier revision kept
    assert runner.container.courses.get_course(course_id) == outline_before
    review = runner.container.review_service.view(course_id, None)
    assert [l["is_revision"] for l in review["lessons"]].count(True) == 1
    listed = next(l for l in review["lessons"] if l["is_revision"])
    assert listed["revisions"] == [{"lesson_id": named.lesson_id, "revision": 1},
                                   {"lesson_id": rewritten.lesson_id, "revision": 2}]
    rewrite = next(t["rewrite"] for t in review["transitions"] if "rewrite" in t)  # the cost, reported where one reviews
    assert rewrite["lessons"] == [{"lesson_id": named.lesson_id, "new_lesson_id": rewritten.lesson_id, "revision": 2}]
    assert rewrite["cost"]["model_calls"] >= 1 and rewrite["cost"]["output_tokens"] > 0
    site = runner.container.payloads.get_text(f"published/{course_id}/site/index.html")
    assert site  # rebuilt by the publishing stage the review stage ran again
    publishing = runner.template.state_machine_arn("CoursePublishingStateMachine", "us-east-1")
    names = [e["name"] for e in runner.sfn.list_executions(stateMachineArn=publishing)["executions"]]
    approval = runner.container.database.list_transitions(course_id)[1].details["answers"]
    assert f"rv-{approval}" in names, names  # the publishing stage again, named by the wait it answered
    assert not runner.invalid_events


def test_fault_a_restart_while_a_review_waits_keeps_the_rewritten_lesson_and_its_earlier_revision(open_runner, clean_courses):
    first, course_id = generated_for_review(open_runner)
    named = first.container.database.list_lessons(course_id)[0]
    decide(first, course_id, "request_changes", lessons=[{"lesson_id": named.lesson_id, "feedback": "Shorter intro."}])
    waits_for(first, course_id, WaitingFor.review, S.REVIEW, seconds=300)
    rewritten = first.container.database.list_lessons(course_id)[0]
    assert rewritten.revision == 2
    first.__exit__(None, None, None)  # the process goes: the waiting review execution and every S3 artifact with it

    second = open_runner()
    assert second.reenter_waits() == [course_id]
    waits_for(second, course_id, WaitingFor.review, S.REVIEW, seconds=300)
    lessons = second.container.database.list_lessons(course_id)
    assert (lessons[0].lesson_id, lessons[0].markdown) == (rewritten.lesson_id, rewritten.markdown)
    assert second.container.database.get_lesson(course_id, named.lesson_id).markdown == named.markdown
    assert len(clean_courses.list_courses()) == 1
    assert [t[2] for t in transitions(second, course_id)] == ["submit", "request_changes"]  # nothing recorded twice
    assert decide(second, course_id, "approve")["workflow_state"] == "PUBLISH_READY"


def test_a_course_whose_outline_needed_a_review_pass_still_goes_to_review(open_runner):
    """ReviewOutline's answer once overwrote the request's `review` field: the course never reached REVIEW."""
    from tests.fakes import ScriptedLlm
    from tests.workflow.test_outline_workflow import inflate

    llm = ScriptedLlm(fallback=lambda p: inflate(1.5) if p.name == "courses.expand_part" else None)
    runner = open_runner(llm=llm)
    result = runner.run(REVIEWED, timeout_seconds=300)
    assert result.status["status"] == "complete" and runner.invocations["ReviewOutline"] >= 1
    waits_for(runner, result.course_id, WaitingFor.review, S.REVIEW)


def test_a_submitted_course_rewrites_a_lesson_and_rebuilds_its_site(open_runner):
    """A submitted review's execution name is the longest (<id>-review-<seq>): its publishing stage is
    named by the wait it answers, under Step Functions' 80 characters."""
    runner = open_runner()
    course_id = runner.run(CourseRequest(query="Learn DCF valuation", hours=1), timeout_seconds=300).course_id
    decide(runner, course_id, "submit", by="owner-1")
    waits_for(runner, course_id, WaitingFor.review, S.REVIEW)
    named = runner.container.database.list_lessons(course_id)[0]
    decide(runner, course_id, "request_changes", lessons=[{"lesson_id": named.lesson_id, "feedback": "Shorter intro."}])
    waits_for(runner, course_id, WaitingFor.review, S.REVIEW, seconds=300)
    assert runner.container.database.list_lessons(course_id)[0].revision == 2
    assert not [t for t in runner.container.database.list_transitions(course_id) if t.details.get("failed")]


def test_fault_a_site_not_rebuilt_after_a_rewrite_cannot_be_approved_until_rebuilt(open_runner):
    runner, course_id = generated_for_review(open_runner)
    # the rebuild after the rewrite fails for good (its first step, PlanPublishing, every attempt)
    runner.faults.append(Fault("PlanPublishing", "DatabaseUnavailable", "database down", times=-1))
    named = runner.container.database.list_lessons(course_id)[0]
    decide(runner, course_id, "request_changes", lessons=[{"lesson_id": named.lesson_id, "feedback": "Shorter intro."}])
    waits_for(runner, course_id, WaitingFor.review, S.REVIEW, seconds=300)
    assert runner.container.database.list_transitions(course_id)[-1].details.get("failed") == "RepublishCourse"
    with pytest.raises(TransitionNotAllowed) as refused:
        decide(runner, course_id, "approve")
    assert refused.value.allowed == ["request_changes", "reject"]
    runner.faults.clear()
    rewritten = runner.container.database.list_lessons(course_id)[0]
    decide(runner, course_id, "request_changes", lessons=[{"lesson_id": rewritten.lesson_id, "feedback": "Shorter still."}])
    waits_for(runner, course_id, WaitingFor.review, S.REVIEW, seconds=300)
    assert decide(runner, course_id, "approve")["workflow_state"] == "PUBLISH_READY"
