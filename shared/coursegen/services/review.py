"""Review and publish (seed 004's lifecycle): the API's decisions, and the review stage's steps.

ReviewService is what the API calls: read what waits (GET /courses/{id}/review), decide
(POST /courses/{id}/review), publish, archive. A decision that answers a waiting execution is
recorded and sent (SendTaskSuccess) in one PostgreSQL transaction: if the execution no longer
waits, nothing is recorded. ReviewWorkflow is the steps of statemachine/course_review.asl.json
(and the outline approval of course_generation.asl.json): open a wait, keep its token, end a
review nobody decided in time, and carry a request for changes out.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, Field

from coursegen.domain.lifecycle import (
    MAX_LESSONS_PER_REQUEST, MAX_OUTLINE_REPLANS, MAX_REVIEW_ROUNDS, OUTLINE_DECISIONS, SYSTEM, allowed_decisions,
    Decision, LessonFeedback, Transition, WaitingFor, Workflow, WorkflowState, feedback_problem, new_approval_id,
    next_state,
)
from coursegen.domain.artifacts import site_prefix
from coursegen.errors import CourseNotFound, CourseNotReady, DecisionInvalid, StateMissing, TransitionNotAllowed, WaitEnded
from coursegen.models import COURSE_ID_PATTERN, CourseState, Phase, Status
from coursegen.ports import (
    CourseRepository, DecisionSender, EventPublisher, LessonRepository, PayloadStore, SiteHost, StateStore, TaskTokens,
    WorkflowRepository, WorkflowStarter,
)

log = logging.getLogger(__name__)
TRANSITIONED = "course.workflow.transitioned"
DAY_SECONDS = 24 * 60 * 60


class LessonChange(BaseModel):
    lesson_id: str = Field(description="A lesson id GET /courses/{course_id}/review lists")
    feedback: str = Field(description="What to change, for the writer (at most 2,000 characters)")


class DecisionRequest(BaseModel):
    """POST /courses/{id}/review. submit: ask for a review (DRAFT). On a waiting review: approve,
    request_changes (lessons with feedback), reject. On a waiting outline: approve (with `outline`,
    an edited outline, to replace it) or request_changes (with `feedback`, to re-plan it)."""

    decision: Literal["submit", "approve", "request_changes", "reject"]
    lessons: list[LessonChange] = Field(default_factory=list, max_length=MAX_LESSONS_PER_REQUEST)
    outline: str | None = Field(None, description="An edited outline, in the outline's own text format")
    feedback: str | None = Field(None, description="For a re-plan of the outline, or a note with the decision")


class ReviewService:
    def __init__(
        self, *, courses: CourseRepository, lessons: LessonRepository, workflow: WorkflowRepository, states: StateStore,
        tokens: TaskTokens, decisions: DecisionSender, review_starter: WorkflowStarter, events: EventPublisher,
        sites: SiteHost, payloads: PayloadStore, check_outline: Callable[[str, CourseState], Any],
    ) -> None:
        """check_outline(text, state): the edited outline parsed and within the time budget, or DecisionInvalid."""
        self.courses = courses
        self.lessons = lessons
        self.workflow = workflow
        self.states = states
        self.tokens = tokens
        self.decisions = decisions
        self.review_starter = review_starter
        self.events = events
        self.sites = sites
        self.payloads = payloads
        self.check_outline = check_outline

    # -- reads -------------------------------------------------------------------------------
    def view(self, course_id: str, owner: str | None) -> dict:
        """What waits for whom, the lessons with their revisions, and the transitions so far."""
        self._stored(course_id, owner)
        workflow = self.workflow.get_workflow(course_id)
        if workflow.waiting_for is not None and self._failed(course_id):  # its wait ended with it; a resume waits again
            workflow = replace(workflow, waiting_for=None, approval_id=None)
        lessons = self.lessons.list_lessons(course_id)
        revisions = self.lessons.lesson_revisions(course_id)
        return {
            "course_id": course_id,
            "workflow_state": workflow.state.value,
            "waiting_for": workflow.waiting_for.value if workflow.waiting_for else None,
            "allowed_decisions": self._allowed(workflow),
            "review_rounds": workflow.review_rounds,
            # each lesson as readers see it (its latest revision), and every revision of it (each readable by its id)
            "lessons": [lesson.summary() | {"is_revision": lesson.revision > 1,
                                            "revisions": revisions.get((lesson.part_index, lesson.section_index), [])}
                        for lesson in lessons],
            "transitions": [t.summary() for t in self.workflow.list_transitions(course_id)],
        }

    # -- decisions ---------------------------------------------------------------------------
    def decide(self, course_id: str, owner: str | None, by: str, body: DecisionRequest) -> dict:
        """owner: whose courses the caller may decide on (None: a reviewer, any course); by: who decides."""
        self._stored(course_id, owner)
        decision = Decision(body.decision)
        request = _digest(body.model_dump(mode="json"))
        if body.feedback is not None and (problem := feedback_problem(body.feedback)) is not None:
            raise DecisionInvalid("feedback", problem)
        if body.lessons and decision != Decision.request_changes:
            raise DecisionInvalid("lessons", "only with request_changes (the lessons to rewrite)")
        if body.outline is not None and decision != Decision.approve:
            raise DecisionInvalid("outline", "only with approve (an edited outline to approve)")
        with self.workflow.deciding(course_id) as txn:
            workflow = txn.workflow
            if (same := self._same_request(txn, decision, by, request)) is not None:
                return self._outcome(course_id, same)
            self._not_failed(course_id, workflow)
            if workflow.waiting_for == WaitingFor.outline_approval:
                transition = self._decide_outline(txn, decision, by, body, request)
            elif decision == Decision.submit:
                transition = self._submit(txn, by, body, request)
            else:
                transition = self._decide_review(txn, decision, by, body, request)
        if transition.seq and not transition.details.get("repeated"):
            self._announce(transition)
        return self._outcome(course_id, transition)

    def publish(self, course_id: str, owner: str | None, by: str) -> dict:
        """PUBLISH_READY -> PUBLISHED: the built site goes live under its published prefix."""
        self._stored(course_id, owner)
        with self.workflow.deciding(course_id) as txn:
            if (same := self._repeated(txn, Decision.publish, by)) is not None:
                return self._outcome(course_id, same)
            to = next_state(txn.workflow.state, Decision.publish)
            prefix = site_prefix(course_id)
            files = {key.removeprefix(prefix): self.payloads.get_bytes(key) for key in self.payloads.list_keys(prefix)}
            if "index.html" not in files:
                raise CourseNotReady(f"Course {course_id} has no built site to publish (no {prefix}index.html): "
                                     f"resume or regenerate it.")
            site = self.sites.deploy(course_id, files)  # inside the transaction: a failed upload records nothing
            transition = txn.record(self._transition(txn.workflow, to, Decision.publish, by, "published",
                                                     {"url": site.url}), self._after(txn.workflow, to))
        self._announce(transition)
        return self._outcome(course_id, transition)

    def archive(self, course_id: str, owner: str | None, by: str) -> dict:
        """-> ARCHIVED: no longer published; its content (outline, lessons, quiz, packages) is kept."""
        self._stored(course_id, owner)
        with self.workflow.deciding(course_id) as txn:
            if (same := self._repeated(txn, Decision.archive, by)) is not None:
                return self._outcome(course_id, same)
            if txn.workflow.waiting_for is not None:
                raise TransitionNotAllowed(
                    f"Course {course_id} waits for {txn.workflow.waiting_for.value}: decide first "
                    f"(allowed: {', '.join(self._allowed(txn.workflow))}).", current=txn.workflow.state.value,
                    allowed=self._allowed(txn.workflow))
            to = next_state(txn.workflow.state, Decision.archive)
            self.sites.remove(course_id)
            transition = txn.record(self._transition(txn.workflow, to, Decision.archive, by, "unpublished; content kept"),
                                    self._after(txn.workflow, to))
        self._announce(transition)
        return self._outcome(course_id, transition)

    # -- the three kinds of decision ---------------------------------------------------------
    def _submit(self, txn, by: str, body: DecisionRequest, request: str) -> Transition:
        workflow = txn.workflow
        self._generated(workflow.course_id)
        to = next_state(workflow.state, Decision.submit)
        approval_id = new_approval_id()
        transition = txn.record(
            self._transition(workflow, to, Decision.submit, by, _note(body.feedback, "submitted for review"),
                             {"request": request}, approval_id=approval_id),
            self._after(workflow, to, approval_id=approval_id))
        # Started inside the transaction: if it cannot start, nothing is recorded and the submit can be retried.
        self.review_starter.start(f"{workflow.course_id}-review-{transition.seq}",
                                  json.dumps({"course_id": workflow.course_id}))
        return transition

    def _decide_review(self, txn, decision: Decision, by: str, body: DecisionRequest, request: str) -> Transition:
        workflow = txn.workflow
        if body.outline is not None:
            raise DecisionInvalid("outline", "only while the course waits for its outline's approval")
        to = next_state(workflow.state, decision)  # 409 unless REVIEW
        if decision == Decision.approve and self._site_behind_its_lessons(workflow.course_id):
            raise TransitionNotAllowed(
                f"Course {workflow.course_id}'s site was not rebuilt after its last rewrite (RepublishCourse failed: GET "
                f"/courses/{workflow.course_id}/review has the cause), so approving it would publish the lessons as they "
                "were: request changes again (which rebuilds it) or reject it.", current=workflow.state.value,
                allowed=["request_changes", "reject"])
        details = self._review_details(workflow, decision, body) | {"request": request}
        if workflow.waiting_for != WaitingFor.review:
            raise TransitionNotAllowed(
                f"Course {workflow.course_id} is in REVIEW but its review is not open yet (the lessons are being "
                f"rewritten, or the review is starting): poll GET /courses/{workflow.course_id}/review and decide when "
                "waiting_for is review.", current=workflow.state.value, allowed=[])
        answered = workflow.approval_id
        # request_changes opens the next wait (REVIEW again once the lessons are rewritten)
        approval_id = new_approval_id() if decision == Decision.request_changes else None
        transition = self._transition(workflow, to, decision, by, _note(body.feedback, decision.value.replace("_", " ")),
                                      details | {"answers": answered}, approval_id=approval_id)
        after = self._after(workflow, to, approval_id=approval_id,
                            review_rounds=workflow.review_rounds + (decision == Decision.request_changes))
        recorded = txn.record(transition, after)
        self._send(workflow, {"decision": decision.value, "approval_id": answered})
        return recorded

    def _decide_outline(self, txn, decision: Decision, by: str, body: DecisionRequest, request: str) -> Transition:
        workflow = txn.workflow
        if body.lessons:
            raise DecisionInvalid("lessons", "the course waits for its outline: no lesson is written yet")
        if decision not in OUTLINE_DECISIONS:
            raise TransitionNotAllowed(
                f"Course {workflow.course_id} waits for its outline to be approved: approve it (with `outline` to "
                "replace it by an edited one) or request_changes with `feedback` to re-plan it.",
                current=workflow.state.value, allowed=[d.value for d in sorted(OUTLINE_DECISIONS)])
        details: dict[str, Any] = {"outline_decision": True, "request": request}
        if decision == Decision.request_changes:
            if (problem := feedback_problem(body.feedback)) is not None:
                raise DecisionInvalid("feedback", problem)
            if workflow.outline_replans >= MAX_OUTLINE_REPLANS:
                raise TransitionNotAllowed(
                    f"The outline was re-planned {MAX_OUTLINE_REPLANS} times already: approve it, or approve an edited "
                    "`outline`.", current=workflow.state.value, allowed=["approve"])
            details["feedback"] = body.feedback
        elif body.outline is not None:
            state = self.states.load(workflow.course_id)  # with its text: the course's books, which an edit may cite
            self.check_outline(body.outline, state)  # DecisionInvalid (a 400) says what is wrong
            details["outline"] = body.outline
        answered = workflow.approval_id
        note = {"request_changes": "outline re-plan asked", "approve": "outline approved"}[decision.value]
        if "outline" in details:
            note = "edited outline approved"
        transition = self._transition(workflow, workflow.state, decision, by, note, details | {"answers": answered})
        after = self._after(workflow, workflow.state,
                            outline_replans=workflow.outline_replans + (decision == Decision.request_changes))
        recorded = txn.record(transition, after)
        self._send(workflow, {"decision": decision.value, "approval_id": answered, "edited": "outline" in details})
        return recorded

    # -- helpers -----------------------------------------------------------------------------
    def _review_details(self, workflow: Workflow, decision: Decision, body: DecisionRequest) -> dict:
        if decision != Decision.request_changes:
            return {}
        if not body.lessons:
            raise DecisionInvalid("lessons", "request_changes needs at least one {lesson_id, feedback}")
        if workflow.review_rounds >= MAX_REVIEW_ROUNDS:
            raise TransitionNotAllowed(
                f"Changes were requested {MAX_REVIEW_ROUNDS} times already: approve or reject the course.",
                current=workflow.state.value, allowed=["approve", "reject"])
        try:
            self.states.load(workflow.course_id, include_text=False)
        except StateMissing:
            raise TransitionNotAllowed(
                f"Course {workflow.course_id}'s working record expired (7 days after its last step): its lessons cannot "
                "be rewritten any more; approve or reject it.", current=workflow.state.value,
                allowed=["approve", "reject"]) from None
        current = {lesson.lesson_id: lesson for lesson in self.lessons.list_lessons(workflow.course_id)}
        seen: set[str] = set()
        for i, change in enumerate(body.lessons):
            if change.lesson_id not in current:
                raise DecisionInvalid(f"lessons[{i}].lesson_id", f"{change.lesson_id[:40]!r} is not a current lesson of "
                                      f"this course (GET /courses/{workflow.course_id}/review lists them)")
            if change.lesson_id in seen:
                raise DecisionInvalid(f"lessons[{i}].lesson_id", "named twice")
            if current[change.lesson_id].status != "full":
                raise DecisionInvalid(f"lessons[{i}].lesson_id", "a placeholder (not written in full: the course was "
                                      "requested with full_lessons_count); only written lessons can be rewritten")
            seen.add(change.lesson_id)
            if (problem := feedback_problem(change.feedback)) is not None:
                raise DecisionInvalid(f"lessons[{i}].feedback", problem)
        return {"lessons": [{"lesson_id": c.lesson_id, "feedback": c.feedback} for c in body.lessons]}

    def _send(self, workflow: Workflow, output: dict) -> None:
        """The decision to the waiting execution (inside the decision's transaction: if it cannot be
        sent, nothing is recorded)."""
        where = f"GET /courses/{workflow.course_id}/review says where the course is now."
        approval_id = workflow.approval_id
        token = self.tokens.task_token(approval_id) if approval_id else None
        if token is None:
            raise TransitionNotAllowed(f"The wait for this decision has ended (the review timed out, or its execution "
                                       f"stopped): {where}", current=workflow.state.value)
        try:
            self.decisions.send(token, output)
        except WaitEnded as error:
            raise TransitionNotAllowed(f"{error} {where}", current=workflow.state.value) from None
        try:  # sent: the decision stands; a token left behind is refused by Step Functions and expires with its record
            self.tokens.drop_task_token(approval_id)
        except Exception as error:  # noqa: BLE001 - never undo a decision the execution already has
            log.warning("task token not dropped", extra={"course_id": workflow.course_id, "error": type(error).__name__})

    def _same_request(self, txn, decision: Decision, by: str, request: str) -> Transition | None:
        """The very same request again, by the same caller, as the last one recorded, with no wait
        opened since (a new wait makes it a new decision): its outcome, recorded once."""
        last = txn.last_transition()
        if (last is None or last.decision != decision or last.transitioned_by != by
                or last.details.get("request") != request or txn.workflow.waiting_for is not None):
            return None
        return replace(last, details={**last.details, "repeated": True})

    def _site_behind_its_lessons(self, course_id: str) -> bool:
        """A rewrite whose rebuild of the site failed, with no request for changes since (which rebuilds it)."""
        transitions = self.workflow.list_transitions(course_id)
        failed = max((t.seq for t in transitions if t.details.get("failed") == "RepublishCourse"), default=0)
        asked = max((t.seq for t in transitions if t.decision == Decision.request_changes and t.transitioned_by != SYSTEM),
                    default=0)
        return failed > asked

    def _failed(self, course_id: str) -> CourseState | None:
        try:
            state = self.states.load(course_id, include_text=False)
        except StateMissing:
            return None
        return state if state.status == Status.error else None

    def _not_failed(self, course_id: str, workflow: Workflow) -> None:
        """A wait of a course that failed (its outline approval timed out, its execution stopped) is over."""
        if workflow.waiting_for != WaitingFor.outline_approval:
            return
        if (state := self._failed(course_id)) is not None:
            raise CourseNotReady(f"Course {course_id} failed while it waited for its outline's approval "
                                 f"({state.error_type or 'an error'}): resume it with POST /courses/{course_id}/resume, "
                                 "and it waits for the approval again.")

    def _repeated(self, txn, decision: Decision, by: str) -> Transition | None:
        """publish or archive again, by the same caller, with the course where the first left it: its outcome."""
        last = txn.last_transition()
        if last is None or last.decision != decision or last.transitioned_by != by or last.to_state != txn.workflow.state:
            return None
        return replace(last, details={**last.details, "repeated": True})

    def _generated(self, course_id: str) -> None:
        """A course can go to review once it is written: not while generating, failed, or a dry run."""
        try:
            state = self.states.load(course_id, include_text=False)
        except StateMissing:
            return  # expired after 7 days: PostgreSQL holds the whole course
        if state.dry_run:
            raise CourseNotReady(f"Course {course_id} is a dry run: nothing is written to review.")
        if state.status != Status.complete:
            raise CourseNotReady(f"Course {course_id} is {state.status.value} (phase {state.phase.value}): it can be "
                                 "submitted for review once it is complete.")

    def _stored(self, course_id: str, owner: str | None) -> None:
        if self.courses.get_course(course_id, owner=owner) is None:
            raise CourseNotFound(f"No course {course_id}.")

    @staticmethod
    def _allowed(workflow: Workflow) -> list[str]:
        if workflow.waiting_for == WaitingFor.outline_approval:
            return [d.value for d in sorted(OUTLINE_DECISIONS)]
        if workflow.state == WorkflowState.REVIEW and workflow.waiting_for is None:
            return []  # its lessons are being rewritten, or the review is starting
        return [d.value for d in allowed_decisions(workflow.state)]

    @staticmethod
    def _transition(workflow: Workflow, to: WorkflowState, decision: Decision, by: str, note: str,
                    details: dict | None = None, approval_id: str | None = None) -> Transition:
        return Transition(course_id=workflow.course_id, from_state=workflow.state, to_state=to, decision=decision,
                          transitioned_by=by, note=note, approval_id=approval_id, details=details or {})

    @staticmethod
    def _after(workflow: Workflow, to: WorkflowState, *, approval_id: str | None = None, **changes) -> Workflow:
        """The workflow after a decision: nothing waits (a new wait opens when its execution gets there)."""
        return replace(workflow, state=to, waiting_for=None, approval_id=approval_id, **changes)

    def _announce(self, transition: Transition) -> None:
        announce(self.events, transition)

    def _outcome(self, course_id: str, transition: Transition) -> dict:
        workflow = self.workflow.get_workflow(course_id)
        return {"course_id": course_id, "workflow_state": workflow.state.value,
                "waiting_for": workflow.waiting_for.value if workflow.waiting_for else None,
                "decision": transition.decision.value, "transition": transition.summary(),
                **({"url": transition.details["url"]} if "url" in transition.details else {})}


_AS_THEY_WERE = "The lessons are as they were; decide again."
_AFTER_FAILURE = {  # what a failed step of a request for changes left, in its note
    "RewriteLessons": _AS_THEY_WERE,
    "RepublishCourse": "The lessons are rewritten but the site and packages are not rebuilt: request changes again to "
                       "rebuild them (approving is refused until then), or reject.",
}


def announce(events: EventPublisher, transition: Transition) -> None:
    """course.workflow.transitioned, after the commit. A failed publish is logged and never undoes
    the decision (PostgreSQL's course_transitions is the record)."""
    try:
        events.publish(TRANSITIONED, transition.event_payload())
    except Exception as error:  # noqa: BLE001 - the decision stands
        log.warning("course.workflow.transitioned not published", extra={"course_id": transition.course_id,
                                                                         "seq": transition.seq, "error": str(error)})


def _note(text: str | None, default: str) -> str:
    """The decision's note: the caller's feedback (checked before), else what was decided."""
    return text.strip() if text else default


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


# -- the review stage's steps (statemachine/course_review.asl.json) --------------------------------
class ReviewStep(BaseModel):
    course_id: str = Field(pattern=COURSE_ID_PATTERN)


class AwaitInput(ReviewStep):
    waiting_for: WaitingFor
    timeout_seconds: int = Field(gt=0, le=30 * DAY_SECONDS)
    execution_id: str = Field(min_length=1, max_length=400)  # $$.Execution.Id: whose wait this is
    task_token: str = Field(min_length=1, max_length=4096)


class ExpireInput(ReviewStep):
    timeout_seconds: int = Field(gt=0, le=30 * DAY_SECONDS)
    execution_id: str = Field(min_length=1, max_length=400)


class FailureStep(ReviewStep):
    errors: dict[str, dict] = Field(default_factory=dict, description="{FailedStateName: {Error, Cause}}")


class DecisionStep(ReviewStep):
    approval_id: str = Field(min_length=1, max_length=64)


class ReviewEnd(BaseModel):
    """The "Step Functions Execution Status Change" event of a review stage that ended without its own
    path (FAILED, TIMED_OUT, ABORTED): its detail's input names the course."""

    detail: dict[str, Any]

    @property
    def course_id(self) -> str:
        from coursegen.domain.execution_end import course_id_of

        return course_id_of(self.detail.get("input"), str(self.detail.get("name", "")))


class ReviewWorkflow:
    def __init__(self, *, workflow: WorkflowRepository, states: StateStore, tokens: TaskTokens, events: EventPublisher,
                 revisions: Any = None, outline: Any = None) -> None:
        """revisions: the lesson rewriter (services/revisions.py); outline: the outline workflow (re-plan, edit)."""
        self.workflow = workflow
        self.states = states
        self.tokens = tokens
        self.events = events
        self.revisions = revisions
        self.outline = outline

    def enter_review(self, step: ReviewStep) -> dict:
        """EnterReview: the course is in REVIEW (a course requested with review: true arrives here in
        DRAFT and moves, by the system; a submitted one is there already)."""
        with self.workflow.deciding(step.course_id) as txn:
            workflow = txn.workflow
            transition = None
            if workflow.state == WorkflowState.DRAFT and workflow.waiting_for is None:
                approval_id = new_approval_id()
                transition = txn.record(
                    Transition(course_id=step.course_id, from_state=workflow.state, to_state=WorkflowState.REVIEW,
                               decision=Decision.submit, transitioned_by=SYSTEM, note="generated with review: true",
                               approval_id=approval_id),
                    replace(workflow, state=WorkflowState.REVIEW, approval_id=approval_id))
            elif workflow.state != WorkflowState.REVIEW:
                raise TransitionNotAllowed(f"Course {step.course_id} is {workflow.state.value}: there is nothing to review.",
                                           current=workflow.state.value)
        if transition is not None:
            announce(self.events, transition)
        return {"workflow_state": WorkflowState.REVIEW.value}

    def await_decision(self, step: AwaitInput) -> dict:
        """The `.waitForTaskToken` task: keep the token (the state store, never an event or a log) under
        the wait's opaque id, and say what the course waits for. Returns at once; the execution waits."""
        request = self._request(step.course_id)
        self._touch(step.course_id, step.waiting_for)  # the phase first: a status that says it waits says why
        with self.workflow.deciding(step.course_id) as txn:
            workflow = txn.workflow
            if step.waiting_for == WaitingFor.review and workflow.state != WorkflowState.REVIEW:
                raise TransitionNotAllowed(f"Course {step.course_id} is {workflow.state.value}, not in REVIEW.",
                                           current=workflow.state.value)
            approval_id = workflow.approval_id or new_approval_id()
            # kept a day longer than the wait: a decision at its last moment still finds it
            self.tokens.keep_task_token(approval_id, step.course_id, step.task_token, step.timeout_seconds + DAY_SECONDS)
            txn.update(replace(workflow, waiting_for=step.waiting_for, approval_id=approval_id,
                               execution_id=step.execution_id), request)
        return {"approval_id": approval_id, "waiting_for": step.waiting_for.value}

    def expire_review(self, step: ExpireInput) -> dict:
        """ExpireReview: nobody decided within ReviewTimeoutDays. REVIEW -> DRAFT, by the system, recorded."""
        with self.workflow.deciding(step.course_id) as txn:
            workflow = txn.workflow
            if workflow.waiting_for is None or workflow.execution_id not in (None, step.execution_id):
                return {"expired": False}  # decided at the last moment (that decision stands), or another's wait
            if workflow.approval_id:
                self.tokens.drop_task_token(workflow.approval_id)
            to = WorkflowState.DRAFT if workflow.state == WorkflowState.REVIEW else workflow.state
            note = f"not decided within {step.timeout_seconds / DAY_SECONDS:g} days (ReviewTimeoutDays)"
            transition = txn.record(
                Transition(course_id=step.course_id, from_state=workflow.state, to_state=to, decision=Decision.expire,
                           transitioned_by=SYSTEM, note=note, details={"answers": workflow.approval_id,
                                                                        "waited_for": workflow.waiting_for.value}),
                replace(workflow, state=to, waiting_for=None, approval_id=None))
        announce(self.events, transition)
        return {"expired": True, "workflow_state": to.value}

    def note_failure(self, step: FailureStep) -> dict:
        """NoteReviewFailure: a rewrite that failed for good, recorded (a transition that keeps REVIEW,
        by the system, with the cause); the lessons are as they were and the review opens again."""
        from coursegen.domain.status import one_readable_line, underlying_error

        state_name, error = next(iter(step.errors.items()), ("", {}))
        name = underlying_error(error.get("Error", ""), error.get("Cause", "")) or "an unknown error"
        cause = one_readable_line(error.get("Cause", "")) or "no cause given"
        with self.workflow.deciding(step.course_id) as txn:
            workflow = txn.workflow
            last = txn.last_transition()
            if last and last.details.get("failed") == state_name and last.approval_id == workflow.approval_id:
                return {"noted": state_name}  # a retry: noted once
            transition = txn.record(
                Transition(course_id=step.course_id, from_state=workflow.state, to_state=workflow.state,
                           decision=Decision.request_changes, transitioned_by=SYSTEM,
                           note=f"{state_name} failed ({name}): {cause} {_AFTER_FAILURE.get(state_name, _AS_THEY_WERE)}",
                           approval_id=workflow.approval_id, details={"failed": state_name}),
                workflow)
        announce(self.events, transition)
        return {"noted": state_name}

    def review_ended(self, end: ReviewEnd) -> dict:
        """ReviewEnded (the safety net, as RecordExecutionEnd is the course workflow's): a review stage
        that failed, timed out or was stopped leaves its course in REVIEW with nothing waiting. The
        system moves it back to DRAFT with the cause, so it can be submitted again. Idempotent."""
        status = str(end.detail.get("status", ""))
        if status not in ("FAILED", "TIMED_OUT", "ABORTED"):
            return {"recorded": False}
        with self.workflow.deciding(end.course_id) as txn:
            workflow = txn.workflow
            if workflow.state != WorkflowState.REVIEW:
                return {"recorded": False}  # decided (or ended) already
            if workflow.execution_id and workflow.execution_id != end.detail.get("executionArn"):
                return {"recorded": False}  # an earlier review stage: the course's wait is another's
            if workflow.approval_id:
                self.tokens.drop_task_token(workflow.approval_id)
            from coursegen.domain.status import one_readable_line

            cause = one_readable_line(str(end.detail.get("cause") or "")) or "no cause given"
            transition = txn.record(
                Transition(course_id=end.course_id, from_state=workflow.state, to_state=WorkflowState.DRAFT,
                           decision=Decision.expire, transitioned_by=SYSTEM,
                           note=f"the review stage ended {status} ({end.detail.get('error') or 'no error'}: {cause}); "
                                "submit the course again to review it", details={"answers": workflow.approval_id}),
                replace(workflow, state=WorkflowState.DRAFT, waiting_for=None, approval_id=None))
        announce(self.events, transition)
        return {"recorded": True}

    def rewrite_lessons(self, step: DecisionStep) -> dict:
        """RewriteLessons: the lessons a request for changes named, rewritten with their feedback."""
        decision = self._decision(step)
        if decision is None or decision.decision != Decision.request_changes:
            raise DecisionInvalid("approval_id", "no request for changes answered this wait")
        requests = [LessonFeedback(item["lesson_id"], item["feedback"]) for item in decision.details.get("lessons", [])]
        report = self.revisions.rewrite_lessons(step.course_id, requests)
        # reported where the reviewer reads (GET /courses/{id}/review): which lessons, at what cost
        self.workflow.annotate_decision(step.course_id, step.approval_id, {"rewrite": {
            "lessons": report.get("lessons", []), "cost": report.get("cost", {}),
            "questions_rewritten": report.get("questions_rewritten", 0)}})
        return report

    def take_outline_decision(self, step: DecisionStep) -> dict:
        """ApplyOutlineDecision: an edited outline replaces the stored one; a re-plan takes the feedback."""
        decision = self._decision(step)
        if decision is None:
            raise DecisionInvalid("approval_id", "no decision answered this wait")
        if "outline" in decision.details:
            return {"replan": False} | self.outline.apply_outline_edit(step.course_id, decision.details["outline"])
        if decision.decision == Decision.request_changes:
            return {"replan": True} | self.outline.replan_with_feedback(step.course_id, decision.details["feedback"])
        return {"replan": False}

    def _decision(self, step: DecisionStep) -> Transition | None:
        """The decision that answered the wait. The API records it and sends the token in one
        transaction, so the execution can go on a moment before the commit: taking the course's row
        lock first waits for it."""
        with self.workflow.deciding(step.course_id):
            return self.workflow.decision_on(step.course_id, step.approval_id)

    def _request(self, course_id: str) -> dict | None:
        """The course's request as it was (to re-enter the wait after coursegen serve restarts)."""
        try:
            state = self.states.load(course_id, include_text=False)
        except StateMissing:
            return None
        return {"owner": state.owner, **state.original_request().model_dump(mode="json")}

    def _touch(self, course_id: str, waiting_for: WaitingFor) -> None:
        """The course's record lives 7 days from its last write: a wait writes it, so it outlives the
        wait (ReviewTimeoutDays is at most 6). An outline approval is the course's phase while it waits."""
        try:
            state = self.states.load(course_id)
        except StateMissing:
            return
        if waiting_for == WaitingFor.outline_approval:
            state.phase = Phase.awaiting_outline_approval
        self.states.save(state)
