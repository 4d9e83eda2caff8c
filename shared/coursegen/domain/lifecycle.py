"""The course lifecycle of seed 004: DRAFT -> REVIEW -> PUBLISH_READY -> PUBLISHED -> ARCHIVED.

One table says which decision moves a course from which state to which; every other move is
refused with the current state and the moves it allows. Pure: PostgreSQL records the
transitions (adapters/postgres), the review stage waits for the decisions
(statemachine/course_review.asl.json), services/review.py applies them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from coursegen.errors import TransitionNotAllowed


class WorkflowState(str, Enum):
    DRAFT = "DRAFT"
    REVIEW = "REVIEW"
    PUBLISH_READY = "PUBLISH_READY"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class WaitingFor(str, Enum):
    """What a paused execution waits for (the status's waiting_for)."""

    outline_approval = "outline_approval"  # the outline is stored, no lesson is written yet
    review = "review"  # the course is written and waits for a reviewer's decision


class Decision(str, Enum):
    submit = "submit"  # DRAFT -> REVIEW: ask for a review
    approve = "approve"
    request_changes = "request_changes"  # named lessons rewritten with feedback, then REVIEW again
    reject = "reject"
    publish = "publish"
    archive = "archive"
    expire = "expire"  # the system's: a review not decided in time


# The lifecycle, whole. (from, decision) -> to.
TRANSITIONS: dict[tuple[WorkflowState, Decision], WorkflowState] = {
    (WorkflowState.DRAFT, Decision.submit): WorkflowState.REVIEW,
    (WorkflowState.REVIEW, Decision.approve): WorkflowState.PUBLISH_READY,
    (WorkflowState.REVIEW, Decision.request_changes): WorkflowState.REVIEW,
    (WorkflowState.REVIEW, Decision.reject): WorkflowState.DRAFT,
    (WorkflowState.REVIEW, Decision.expire): WorkflowState.DRAFT,
    (WorkflowState.PUBLISH_READY, Decision.publish): WorkflowState.PUBLISHED,
    (WorkflowState.DRAFT, Decision.archive): WorkflowState.ARCHIVED,
    (WorkflowState.PUBLISH_READY, Decision.archive): WorkflowState.ARCHIVED,
    (WorkflowState.PUBLISHED, Decision.archive): WorkflowState.ARCHIVED,
}
SYSTEM_DECISIONS = frozenset({Decision.expire})
# Decisions that answer a waiting review (the execution's task token), not a request of their own.
REVIEW_DECISIONS = frozenset({Decision.approve, Decision.request_changes, Decision.reject})
# What an outline approval takes: approve (as it is, or an edited outline), or a re-plan with feedback.
OUTLINE_DECISIONS = frozenset({Decision.approve, Decision.request_changes})
SYSTEM = "system"  # transitioned_by for the workflow's own moves

MAX_REVIEW_ROUNDS = 5  # requests for changes per course: then approve or reject (bounds the review machine's timeout)
MAX_OUTLINE_REPLANS = 2  # re-plans per course: then approve or edit (bounds the course machine's timeout)
MAX_FEEDBACK_CHARS = 2000
MAX_LESSONS_PER_REQUEST = 10


def allowed_decisions(current: WorkflowState) -> list[Decision]:
    """What a user may decide in this state (the system's own moves left out), in table order."""
    return [decision for (state, decision) in TRANSITIONS if state == current and decision not in SYSTEM_DECISIONS]


def next_state(current: WorkflowState, decision: Decision) -> WorkflowState:
    """Where the decision takes the course; TransitionNotAllowed (a 409) naming the state and its moves."""
    try:
        return TRANSITIONS[(current, decision)]
    except KeyError:
        allowed = ", ".join(d.value for d in allowed_decisions(current)) or "none"
        raise TransitionNotAllowed(
            f"Course is {current.value}: '{decision.value}' is not allowed there; allowed: {allowed}.",
            current=current.value, allowed=[d.value for d in allowed_decisions(current)],
        ) from None


def requires_approval(to_state: WorkflowState) -> bool:
    """A transition into REVIEW opens a wait for a reviewer's decision."""
    return to_state == WorkflowState.REVIEW


def new_approval_id() -> str:
    """The opaque id of one wait for a decision: what events and the API show, never the task token."""
    return str(uuid.uuid4())


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def feedback_problem(text: Any) -> str | None:
    """Why a reviewer's feedback cannot be taken (None: it can): it reaches a prompt, so it is
    plain text of a bounded size."""
    if not isinstance(text, str) or not text.strip():
        return "must be a non-empty string"
    if len(text) > MAX_FEEDBACK_CHARS:
        return f"at most {MAX_FEEDBACK_CHARS} characters"
    if _CONTROL.search(text):
        return "must not contain control characters"
    return None


@dataclass(frozen=True)
class LessonFeedback:
    lesson_id: str
    feedback: str


@dataclass(frozen=True)
class Transition:
    """One recorded move of a course's lifecycle (or a decision on a wait that keeps its state)."""

    course_id: str
    from_state: WorkflowState
    to_state: WorkflowState
    decision: Decision
    transitioned_by: str  # an opaque owner id, or "system"
    note: str = ""
    approval_id: str | None = None  # the wait this transition opens (into REVIEW) or answers
    details: dict[str, Any] = field(default_factory=dict)  # what the decision carried (lessons, feedback)
    at: str = ""
    seq: int = 0

    def event_payload(self) -> dict[str, Any]:
        """course.workflow.transitioned (seed 004): ids and states only, never feedback or a token."""
        return {
            "course_id": self.course_id,
            "from_state": self.from_state.value,
            "to_state": self.to_state.value,
            "transitioned_by": self.transitioned_by,
            "requires_approval": requires_approval(self.to_state),
            "approval_token": self.approval_id if requires_approval(self.to_state) else None,
        }

    def summary(self) -> dict[str, Any]:
        """The transition as GET /courses/{id}/review lists it."""
        summary = {"seq": self.seq, "from_state": self.from_state.value, "to_state": self.to_state.value,
                   "decision": self.decision.value, "transitioned_by": self.transitioned_by, "note": self.note,
                   "at": self.at}
        if "rewrite" in self.details:  # a request for changes, carried out: the lessons rewritten and what it cost
            summary["rewrite"] = self.details["rewrite"]
        return summary


@dataclass(frozen=True)
class Workflow:
    """Where a course is in its lifecycle, and what (if anything) its execution waits for."""

    course_id: str
    state: WorkflowState = WorkflowState.DRAFT
    waiting_for: WaitingFor | None = None
    approval_id: str | None = None  # the open wait's id (None when nothing waits)
    review_rounds: int = 0  # requests for changes so far
    outline_replans: int = 0
    execution_id: str | None = None  # the execution that holds the open wait
    version: int = 0  # bumped by every write: two deciders at once, one wins
