"""The lifecycle table (seed 004): every allowed move, every forbidden one, and what its event says."""

import itertools

import pytest

from coursegen.domain.lifecycle import (
    MAX_FEEDBACK_CHARS, SYSTEM_DECISIONS, TRANSITIONS, Decision, Transition, WorkflowState, allowed_decisions,
    feedback_problem, next_state, requires_approval,
)
from coursegen.errors import TransitionNotAllowed

S, D = WorkflowState, Decision
ALLOWED = {
    (S.DRAFT, D.submit): S.REVIEW,
    (S.REVIEW, D.approve): S.PUBLISH_READY,
    (S.REVIEW, D.request_changes): S.REVIEW,
    (S.REVIEW, D.reject): S.DRAFT,
    (S.REVIEW, D.expire): S.DRAFT,
    (S.PUBLISH_READY, D.publish): S.PUBLISHED,
    (S.DRAFT, D.archive): S.ARCHIVED,
    (S.PUBLISH_READY, D.archive): S.ARCHIVED,
    (S.PUBLISHED, D.archive): S.ARCHIVED,
}


def test_the_table_is_the_seeds_lifecycle_and_nothing_more():
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize(("state", "decision"), sorted(ALLOWED, key=str))
def test_an_allowed_decision_moves_the_course(state, decision):
    assert next_state(state, decision) == ALLOWED[(state, decision)]


FORBIDDEN = [pair for pair in itertools.product(S, D) if pair not in ALLOWED]


@pytest.mark.parametrize(("state", "decision"), FORBIDDEN, ids=[f"{s.value}-{d.value}" for s, d in FORBIDDEN])
def test_a_forbidden_decision_names_the_state_and_the_moves_it_allows(state, decision):
    with pytest.raises(TransitionNotAllowed) as refused:
        next_state(state, decision)
    assert refused.value.current == state.value
    assert refused.value.allowed == [d.value for d in allowed_decisions(state)]
    assert state.value in str(refused.value) and decision.value in str(refused.value)


def test_archived_is_the_end_and_the_systems_moves_are_not_offered():
    assert allowed_decisions(S.ARCHIVED) == []
    assert all(d not in SYSTEM_DECISIONS for s in S for d in allowed_decisions(s))
    assert allowed_decisions(S.REVIEW) == [D.approve, D.request_changes, D.reject]


def test_the_event_carries_the_opaque_approval_id_only_into_review():
    into_review = Transition(course_id="c1", from_state=S.DRAFT, to_state=S.REVIEW, decision=D.submit,
                             transitioned_by="owner-1", approval_id="a-1", details={"feedback": "secret words"})
    payload = into_review.event_payload()
    assert payload == {"course_id": "c1", "from_state": "DRAFT", "to_state": "REVIEW", "transitioned_by": "owner-1",
                       "requires_approval": True, "approval_token": "a-1"}
    approved = Transition(course_id="c1", from_state=S.REVIEW, to_state=S.PUBLISH_READY, decision=D.approve,
                          transitioned_by="owner-1", approval_id=None, details={"answers": "a-1"})
    assert approved.event_payload()["approval_token"] is None and not approved.event_payload()["requires_approval"]
    assert requires_approval(S.REVIEW) and not requires_approval(S.PUBLISHED)


@pytest.mark.parametrize(("feedback", "problem"), [
    ("", "must be a non-empty string"),
    ("   ", "must be a non-empty string"),
    (None, "must be a non-empty string"),
    ("x" * (MAX_FEEDBACK_CHARS + 1), f"at most {MAX_FEEDBACK_CHARS} characters"),
    ("add\x00more", "must not contain control characters"),
])
def test_feedback_that_cannot_reach_a_prompt_is_refused_with_its_reason(feedback, problem):
    assert feedback_problem(feedback) == problem


def test_plain_feedback_with_newlines_is_taken():
    assert feedback_problem("Add a worked example.\nShorter intro, please.") is None
