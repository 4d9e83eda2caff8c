"""What the end of an execution means for its course's status record (pure).

The state machine records its own ends (RecordComplete, RecordFailure), but some ends never
reach those states: the machine's TimeoutSeconds, a StopExecution, a States.Runtime error (which
no Catch takes), or the status write itself failing for good. Step Functions announces every end
on EventBridge ("Step Functions Execution Status Change"); RecordExecutionEnd reconciles the record
with it, and this module decides what to write. The rules:

- an execution that is no longer the course's (a resume started a newer one) changes nothing;
- `complete` is never overwritten; a whole course (outline, lessons and what the publishing
  stage makes, its evidence pack last: CourseState.is_whole) or a SUCCEEDED execution means complete;
- an `error` the failure path recorded stays as it is (its cause is the better one);
- otherwise a course still `processing` gets `error` with the execution's error and cause.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from coursegen.domain.status import one_readable_line
from coursegen.models import CourseState, Status

# NOT_STARTED is ours, not Step Functions': no execution by the course's name exists (the start
# was refused), found by the status read of a course that stopped moving.
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "NOT_STARTED")
# The errors no Catch takes (AWS: States.ALL does not match them): the failure path never ran.
UNCATCHABLE = ("States.Runtime", "States.DataLimitExceeded")
_NAMED_ENDS = {"TIMED_OUT": "ExecutionTimedOut", "ABORTED": "ExecutionAborted", "NOT_STARTED": "ExecutionNotStarted"}
_EXPLAINED_ENDS = {
    "TIMED_OUT": "The course did not finish within the workflow's time limit",
    "ABORTED": "The course's execution was stopped before it finished",
    "FAILED": "The course's execution failed outside its failure path",
}


@dataclass(frozen=True)
class ExecutionEnd:
    """One execution's end, as the Execution Status Change event (or DescribeExecution) gives it."""

    execution_arn: str
    course_id: str
    status: str  # one of ENDED
    error: str = ""
    cause: str = ""


@dataclass(frozen=True)
class Reconciliation:
    write: Status | None  # what to write on the record; None: leave it as it is
    reason: str
    error_type: str = ""
    error_message: str = ""
    # course.generation.failed is published by the state machine's PublishFailed whenever its
    # failure path ran; an end that skipped that path (timeout, stop, an uncatchable error) owes
    # one. True: publish it now (written as owed first, so a failed publish is retried, not lost).
    publish_failed: bool = False


def course_id_of(execution_input: str | None, execution_name: str) -> str:
    """The course an execution works on: its input's course_id, else its name (executions are
    named by the course id; a resume is `<course_id>-resume-<n>`)."""
    try:
        course_id = json.loads(execution_input or "{}").get("course_id")
    except (ValueError, AttributeError):
        course_id = None
    return course_id if isinstance(course_id, str) and course_id else execution_name.split("-resume-")[0]


def reconcile(state: CourseState, end: ExecutionEnd) -> Reconciliation:
    if end.status not in ENDED:
        return Reconciliation(None, f"the execution has not ended ({end.status})")
    if state.execution_arn and state.execution_arn != end.execution_arn:
        return Reconciliation(None, "a newer execution owns this course")
    if state.status == Status.complete:
        return Reconciliation(None, "the course is complete")
    if end.status == "SUCCEEDED" or state.is_whole:
        return Reconciliation(Status.complete, "the course is stored; the completion was not recorded")
    if state.status == Status.error:
        # An earlier delivery (or the status read, which publishes nothing) wrote the error but
        # the event it owes is still unpublished.
        return Reconciliation(None, "the error is recorded", publish_failed=state.failed_event_owed)
    if end.status == "NOT_STARTED":
        return Reconciliation(Status.error, "no execution was started", _NAMED_ENDS["NOT_STARTED"],
                              "The workflow never started this course (Step Functions refused the start): request it "
                              "again; with the same Idempotency-Key that is safe.")
    error_type = _NAMED_ENDS.get(end.status) or end.error or "States.Runtime"
    cause = one_readable_line(end.cause)
    if end.status == "FAILED" and error_type not in UNCATCHABLE:
        # The failure path ran (its Fail state carries ExplainFailure's name and line) but its
        # status write did not land: write what RecordFailure would have written.
        return Reconciliation(Status.error, "the failure path's status write did not land", error_type,
                              cause or _EXPLAINED_ENDS["FAILED"] + ".")
    explained = _EXPLAINED_ENDS[end.status] + (f" ({cause.rstrip('.')})" if cause else "")
    message = one_readable_line(f"{explained}. Resume it with POST /courses/{state.course_id}/resume.")
    return Reconciliation(Status.error, f"the execution ended {end.status} without its failure path", error_type,
                          message, publish_failed=True)
