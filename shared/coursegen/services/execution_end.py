"""RecordExecutionEnd: every course ends in a recorded state, whatever ended its execution.

Called with each Step Functions "Execution Status Change" event of the course workflow (an
EventBridge rule in AWS; the offline runner delivers the same event), and by the status read for
a course that has been processing longer than any step may run. Idempotent: a second delivery
finds the record already written and changes nothing.
"""

from __future__ import annotations

import logging

from coursegen.domain.events import clipped
from coursegen.domain.execution_end import ExecutionEnd, reconcile
from coursegen.errors import StateMissing
from coursegen.models import CourseState
from coursegen.ports import EventPublisher, StateStore, WorkflowStarter
from coursegen.services.outline import seconds_since

log = logging.getLogger(__name__)


class ExecutionEndService:
    def __init__(self, *, states: StateStore, events: EventPublisher, executions: WorkflowStarter) -> None:
        self.states = states
        self.events = events
        self.executions = executions

    def record(self, end: ExecutionEnd, *, publish: bool = True) -> dict:
        """publish: False from the status read, which writes the record and leaves the event it
        owes to RecordExecutionEnd's delivery (the API has no EventBridge access: one VPC endpoint
        less)."""
        try:
            state = self.states.load(end.course_id, include_text=False)
        except StateMissing:  # InvalidInput ends before RecordRequest: there is nothing to record
            return {"course_id": end.course_id, "execution_status": end.status, "written": None,
                    "reason": "no status record: the execution ended before RecordRequest"}
        decision = reconcile(state, end)
        written = decision.write is not None and self.states.record_end(
            end.course_id, end.execution_arn, decision.write.value, decision.error_type, decision.error_message,
            failed_event_owed=decision.publish_failed,
        )
        owed = decision.publish_failed and (written or decision.write is None)
        if owed and publish:
            # Written as owed before publishing: a failed publish is retried with the delivery
            # (at least once; consumers deduplicate by course_id), never lost.
            self.events.publish("course.generation.failed", {
                "course_id": state.course_id,
                "title": clipped(state.pending_course_query),
                "error_type": (decision.error_type or state.error_type)[:100],
                "error_message": decision.error_message or state.error_message,
                "phase": state.phase.value,
                "execution_time_seconds": seconds_since(state.created_at),
            })
            self.states.failed_event_published(end.course_id)
        log.info("execution end of course %s: %s; %s", end.course_id, end.status,
                 f"recorded {decision.write.value}" if written else f"left as it was ({decision.reason})")
        return {"course_id": end.course_id, "execution_status": end.status,
                "written": decision.write.value if written else None, "reason": decision.reason,
                "failed_event": "published" if owed and publish else ("owed" if owed else None)}

    def check(self, state: CourseState) -> CourseState:
        """The record of a course that stopped moving, brought in line with its execution's end
        (unchanged while the execution runs)."""
        # A record no execution claimed yet is the one named by the course id (or it was never started).
        end = self.executions.end_of(state.execution_arn or self.executions.execution_arn(state.course_id))
        if end is None or self.record(end, publish=False)["written"] is None:
            return state
        return self.states.load(state.course_id, include_text=False)
