"""RecordExecutionEnd: every course ends in a recorded state, whatever ended its execution.

Called with each Step Functions "Execution Status Change" event of the course workflow (an
EventBridge rule in AWS; the offline runner delivers the same event), and by the status read for
a course that has been processing longer than any step may run. Idempotent: a second delivery
finds the record already written and changes nothing.
"""

from __future__ import annotations

import logging

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
        """publish: False from the status read, which writes the record but leaves the event to
        RecordExecutionEnd (the API has no EventBridge access: one VPC endpoint less)."""
        try:
            state = self.states.load(end.course_id, include_text=False)
        except StateMissing:  # InvalidInput ends before RecordRequest: there is nothing to record
            return {"course_id": end.course_id, "execution_status": end.status, "written": None,
                    "reason": "no status record: the execution ended before RecordRequest"}
        decision = reconcile(state, end)
        if decision.write is not None and decision.publish_failed and publish:
            # Before the write: if the write then fails, the retried delivery publishes again
            # (consumers deduplicate by course_id) rather than never.
            self.events.publish("course.generation.failed", {
                "course_id": state.course_id,
                "error_type": decision.error_type[:100],
                "error_message": decision.error_message,
                "phase": state.phase.value,
                "execution_time_seconds": seconds_since(state.created_at),
            })
        written = decision.write is not None and self.states.record_end(
            end.course_id, end.execution_arn, decision.write.value, decision.error_type, decision.error_message
        )
        log.info("execution end of course %s: %s; %s", end.course_id, end.status,
                 f"recorded {decision.write.value}" if written else f"left as it was ({decision.reason})")
        return {"course_id": end.course_id, "execution_status": end.status,
                "written": decision.write.value if written else None, "reason": decision.reason}

    def check(self, state: CourseState) -> CourseState:
        """The record of a course that stopped moving, brought in line with its execution's end
        (unchanged while the execution runs)."""
        end = self.executions.end_of(state.execution_arn) if state.execution_arn else None
        if end is None or self.record(end, publish=False)["written"] is None:
            return state
        return self.states.load(state.course_id, include_text=False)
