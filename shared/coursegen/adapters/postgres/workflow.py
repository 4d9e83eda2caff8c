"""The course lifecycle in PostgreSQL (migration 008): each course's workflow row and its transitions.

A decision reads the row FOR UPDATE and writes the transition and the new row in the same
transaction, so two reviewers deciding at once are one after the other: the second sees what the
first did (and is refused, or is the same decision again). The caller may do one more thing
inside that transaction - send the task token - so a decision the execution never heard of is
never recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from coursegen.domain.lifecycle import Decision, Transition, WaitingFor, Workflow, WorkflowState


class WorkflowTransaction:
    """One course's workflow, locked, for the length of a `deciding` block."""

    def __init__(self, conn: Any, workflow: Workflow) -> None:
        self._conn = conn
        self.workflow = workflow

    def last_transition(self) -> Transition | None:
        row = self._conn.execute("SELECT * FROM course_transitions WHERE course_id = %s ORDER BY seq DESC LIMIT 1",
                                 (self.workflow.course_id,)).fetchone()
        return None if row is None else _transition(row)

    def record(self, transition: Transition, after: Workflow, request: dict | None = None) -> Transition:
        """The transition (numbered next) and the workflow as it is after it."""
        row = self._conn.execute(
            """INSERT INTO course_transitions (course_id, seq, from_state, to_state, decision, transitioned_by, note,
                                               approval_id, details)
               SELECT %(course_id)s, COALESCE(MAX(seq), 0) + 1, %(from_state)s, %(to_state)s, %(decision)s, %(by)s,
                      %(note)s, %(approval_id)s, %(details)s
               FROM course_transitions WHERE course_id = %(course_id)s
               RETURNING seq, at""",
            {"course_id": transition.course_id, "from_state": transition.from_state.value,
             "to_state": transition.to_state.value, "decision": transition.decision.value,
             "by": transition.transitioned_by, "note": transition.note, "approval_id": transition.approval_id,
             "details": json.dumps(transition.details)},
        ).fetchone()
        self.update(after, request)
        return replace(transition, seq=row["seq"], at=row["at"].isoformat(timespec="seconds"))

    def update(self, after: Workflow, request: dict | None = None) -> None:
        self._conn.execute(
            """UPDATE course_workflow SET workflow_state = %s, waiting_for = %s, approval_id = %s, review_rounds = %s,
                      outline_replans = %s, execution_id = %s, request = COALESCE(%s, request), version = version + 1,
                      updated_at = now()
               WHERE course_id = %s""",
            (after.state.value, after.waiting_for.value if after.waiting_for else None, after.approval_id,
             after.review_rounds, after.outline_replans, after.execution_id,
             json.dumps(request) if request is not None else None, after.course_id),
        )
        self.workflow = replace(after, version=self.workflow.version + 1)


class WorkflowTables:
    """WorkflowRepository, mixed into PostgresRepository (its `_connection`)."""

    @contextmanager
    def deciding(self, course_id: str) -> Iterator[WorkflowTransaction]:
        """The course's workflow locked until the block ends; committed if it ends normally,
        rolled back if it raises. The course must be stored (its row hangs off courses)."""
        with self._connection() as conn, conn.transaction():
            conn.execute("INSERT INTO course_workflow (course_id) SELECT course_id FROM courses WHERE course_id = %s "
                         "ON CONFLICT (course_id) DO NOTHING", (course_id,))
            row = conn.execute("SELECT * FROM course_workflow WHERE course_id = %s FOR UPDATE", (course_id,)).fetchone()
            if row is None:
                raise LookupError(f"Course {course_id} is not stored.")
            yield WorkflowTransaction(conn, _workflow(row))

    def get_workflow(self, course_id: str) -> Workflow:
        """The course's workflow; a DRAFT with nothing waiting when none is recorded."""
        with self._connection() as conn:
            row = conn.execute("SELECT * FROM course_workflow WHERE course_id = %s", (course_id,)).fetchone()
        return Workflow(course_id=course_id) if row is None else _workflow(row)

    def list_transitions(self, course_id: str) -> list[Transition]:
        with self._connection() as conn:
            rows = conn.execute("SELECT * FROM course_transitions WHERE course_id = %s ORDER BY seq", (course_id,)).fetchall()
        return [_transition(row) for row in rows]

    def decision_on(self, course_id: str, approval_id: str) -> Transition | None:
        """The decision that answered this wait (what the execution goes on with), or None."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT * FROM course_transitions WHERE course_id = %s AND details->>'answers' = %s ORDER BY seq DESC LIMIT 1",
                (course_id, str(approval_id))).fetchone()
        return None if row is None else _transition(row)

    def annotate_decision(self, course_id: str, approval_id: str, details: dict) -> None:
        """Add what carrying the decision out gave (a rewrite's lessons and cost) to its record."""
        with self._connection() as conn:
            conn.execute("UPDATE course_transitions SET details = details || %s::jsonb "
                         "WHERE course_id = %s AND details->>'answers' = %s", (json.dumps(details), course_id, str(approval_id)))

    def waiting_courses(self) -> list[tuple[Workflow, dict | None]]:
        """Every course whose execution waits for a decision, or is in REVIEW on its way to one (its
        lessons being rewritten), with its request (to re-enter the wait)."""
        with self._connection() as conn:
            rows = conn.execute("SELECT * FROM course_workflow WHERE waiting_for IS NOT NULL OR workflow_state = 'REVIEW' "
                                "ORDER BY updated_at").fetchall()
        return [(_workflow(row), row["request"]) for row in rows]


def _workflow(row: dict) -> Workflow:
    return Workflow(
        course_id=row["course_id"], state=WorkflowState(row["workflow_state"]),
        waiting_for=WaitingFor(row["waiting_for"]) if row["waiting_for"] else None,
        approval_id=str(row["approval_id"]) if row["approval_id"] else None,
        review_rounds=row["review_rounds"], outline_replans=row["outline_replans"], execution_id=row["execution_id"],
        version=row["version"],
    )


def _transition(row: dict) -> Transition:
    return Transition(
        course_id=row["course_id"], from_state=WorkflowState(row["from_state"]), to_state=WorkflowState(row["to_state"]),
        decision=Decision(row["decision"]), transitioned_by=row["transitioned_by"], note=row["note"],
        approval_id=str(row["approval_id"]) if row["approval_id"] else None, details=row["details"] or {},
        at=row["at"].isoformat(timespec="seconds"), seq=row["seq"],
    )
