"""The lifecycle in PostgreSQL (adapters/postgres/workflow.py): one locked row per course, its
transitions numbered in order, a decision that raises recorded not at all, two deciders one after
the other."""

import threading
import time
from dataclasses import replace

import pytest

from coursegen.domain.lifecycle import Decision, Transition, WaitingFor, Workflow, WorkflowState
from tests.adapters.test_lessons_store import stored_course

S = WorkflowState


def submit(workflow: Workflow, by: str = "owner-1") -> tuple[Transition, Workflow]:
    transition = Transition(course_id=workflow.course_id, from_state=workflow.state, to_state=S.REVIEW,
                            decision=Decision.submit, transitioned_by=by, approval_id="00000000-0000-4000-8000-000000000001")
    return transition, replace(workflow, state=S.REVIEW, approval_id=transition.approval_id)


def test_a_course_without_a_row_is_a_draft_with_nothing_waiting(clean_courses):
    course_id = stored_course(clean_courses, "c-flow-draft")
    assert clean_courses.get_workflow(course_id) == Workflow(course_id=course_id)
    assert clean_courses.list_transitions(course_id) == []


def test_a_recorded_transition_reads_back_numbered_with_the_workflow_after_it(clean_courses):
    course_id = stored_course(clean_courses, "c-flow-record")
    with clean_courses.deciding(course_id) as txn:
        recorded = txn.record(*submit(txn.workflow), request={"query": "Learn DCF valuation"})
    assert recorded.seq == 1 and recorded.at
    workflow = clean_courses.get_workflow(course_id)
    assert (workflow.state, workflow.approval_id, workflow.version) == (S.REVIEW, recorded.approval_id, 1)
    with clean_courses.deciding(course_id) as txn:
        approve = Transition(course_id=course_id, from_state=S.REVIEW, to_state=S.PUBLISH_READY, decision=Decision.approve,
                             transitioned_by="owner-1", details={"answers": recorded.approval_id})
        txn.record(approve, Workflow(course_id=course_id, state=S.PUBLISH_READY))
    assert [(t.seq, t.from_state, t.to_state) for t in clean_courses.list_transitions(course_id)] == [
        (1, S.DRAFT, S.REVIEW), (2, S.REVIEW, S.PUBLISH_READY)]
    assert clean_courses.decision_on(course_id, recorded.approval_id).decision == Decision.approve


def test_a_decision_that_raises_inside_the_block_records_nothing(clean_courses):
    course_id = stored_course(clean_courses, "c-flow-rollback")
    with pytest.raises(RuntimeError), clean_courses.deciding(course_id) as txn:
        txn.record(*submit(txn.workflow))
        raise RuntimeError("SendTaskSuccess failed")  # what ReviewService does inside the block
    assert clean_courses.get_workflow(course_id).state == S.DRAFT
    assert clean_courses.list_transitions(course_id) == []


def test_two_deciders_at_once_go_one_after_the_other_and_the_second_sees_the_first(clean_courses):
    course_id = stored_course(clean_courses, "c-flow-race")
    seen: list[WorkflowState] = []
    inside = threading.Event()

    def decide(hold: float) -> None:
        with clean_courses.deciding(course_id) as txn:
            seen.append(txn.workflow.state)
            inside.set()
            if txn.workflow.state == S.DRAFT:
                time.sleep(hold)  # the other decider waits for this lock meanwhile
                txn.record(*submit(txn.workflow))

    first = threading.Thread(target=decide, args=(0.3,))
    first.start()
    inside.wait(5)
    second = threading.Thread(target=decide, args=(0,))
    second.start()
    first.join(10)
    second.join(10)
    assert seen == [S.DRAFT, S.REVIEW]  # the second read the row only once the first had committed
    assert len(clean_courses.list_transitions(course_id)) == 1


def test_the_waiting_courses_are_listed_with_their_requests(clean_courses):
    waiting, idle = stored_course(clean_courses, "c-flow-waits"), stored_course(clean_courses, "c-flow-idle")
    with clean_courses.deciding(waiting) as txn:
        txn.update(Workflow(course_id=waiting, waiting_for=WaitingFor.outline_approval,
                            approval_id="00000000-0000-4000-8000-000000000002"), request={"query": "q", "owner": "o"})
    with clean_courses.deciding(idle) as txn:
        txn.update(Workflow(course_id=idle))
    assert [(w.course_id, w.waiting_for, r) for w, r in clean_courses.waiting_courses()] == [
        (waiting, WaitingFor.outline_approval, {"query": "q", "owner": "o"})]


def test_a_wait_without_its_approval_id_is_refused_by_the_table(clean_courses):
    import psycopg

    course_id = stored_course(clean_courses, "c-flow-check")
    with pytest.raises(psycopg.errors.CheckViolation), clean_courses.deciding(course_id) as txn:
        txn.update(Workflow(course_id=course_id, waiting_for=WaitingFor.review, approval_id=None))


def test_a_course_that_is_not_stored_has_no_workflow_to_decide_on(clean_courses):
    with pytest.raises(LookupError), clean_courses.deciding("c-flow-missing"):
        pass
