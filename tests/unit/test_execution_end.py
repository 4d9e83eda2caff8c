"""What an execution's end writes on its course's record: the rules of coursegen.domain.execution_end."""

import pytest

from coursegen.domain.execution_end import ExecutionEnd, course_id_of, reconcile
from coursegen.models import CourseState, Phase, Status

ARN = "arn:aws:states:us-east-1:123456789012:execution:coursegen:c-1"


def state(status=Status.processing, **fields) -> CourseState:
    return CourseState(**{"session_id": "c-1", "status": status, "execution_arn": ARN,
                          "phase": Phase.generating_sections, **fields})


def end(status: str, error: str = "", cause: str = "", arn: str = ARN) -> ExecutionEnd:
    return ExecutionEnd(execution_arn=arn, course_id="c-1", status=status, error=error, cause=cause)


@pytest.mark.parametrize("ended", ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
def test_complete_is_never_overwritten(ended):
    assert reconcile(state(Status.complete), end(ended, "States.Runtime")).write is None


@pytest.mark.parametrize("ended", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_an_error_the_failure_path_recorded_stays(ended):
    assert reconcile(state(Status.error, error_type="LlmUnavailable"), end(ended)).write is None


def test_a_succeeded_execution_whose_completion_was_not_recorded_is_complete():
    decision = reconcile(state(), end("SUCCEEDED"))
    assert decision.write == Status.complete and not decision.publish_failed


def test_a_whole_course_is_complete_even_if_the_execution_then_timed_out():
    whole = state(outline_complete=True, lessons_complete=True, evidence_pack_path="published/c-1/evidence/manifest.json")
    assert reconcile(whole, end("TIMED_OUT")).write == Status.complete


def test_a_course_whose_publishing_stage_did_not_finish_is_not_complete():
    # lessons written, but no evidence pack: the quiz, site or staging step failed or was cut short
    decision = reconcile(state(outline_complete=True, lessons_complete=True), end("FAILED", "LlmUnavailable", "down"))
    assert decision.write == Status.error
    assert reconcile(state(Status.error, outline_complete=True, lessons_complete=True), end("FAILED")).write is None


def test_a_stored_outline_whose_lessons_were_not_all_written_is_not_complete():
    decision = reconcile(state(outline_complete=True), end("TIMED_OUT"))
    assert (decision.write, decision.error_type) == (Status.error, "ExecutionTimedOut")


def test_a_timeout_is_an_error_that_says_what_happened_and_what_to_do():
    decision = reconcile(state(), end("TIMED_OUT"))
    assert decision.write == Status.error and decision.error_type == "ExecutionTimedOut"
    assert "time limit" in decision.error_message and "POST /courses/c-1/resume" in decision.error_message
    assert decision.publish_failed  # the state machine's PublishFailed never ran


def test_a_stop_is_an_error_with_the_stop_reason():
    decision = reconcile(state(), end("ABORTED", "StoppedByOperator", "maintenance window"))
    assert (decision.error_type, decision.publish_failed) == ("ExecutionAborted", True)
    assert "stopped" in decision.error_message and "maintenance window" in decision.error_message


def test_an_uncatchable_runtime_error_is_recorded_with_its_readable_cause():
    cause = "The JSONPath '$.Payload.parts' specified for the field 'parts.$' could not be found in the input"
    decision = reconcile(state(), end("FAILED", "States.Runtime", cause))
    assert decision.error_type == "States.Runtime" and cause in decision.error_message
    assert decision.publish_failed


def test_a_failure_path_whose_status_write_failed_gets_what_record_failure_would_have_written():
    decision = reconcile(state(), end("FAILED", "LlmUnavailable", "ExpandPart: model endpoint unreachable"))
    assert (decision.write, decision.error_type) == (Status.error, "LlmUnavailable")
    assert decision.error_message == "ExpandPart: model endpoint unreachable"
    assert not decision.publish_failed  # PublishFailed ran on the failure path


def test_a_late_end_of_an_older_execution_leaves_the_resumed_course_alone():
    assert reconcile(state(), end("FAILED", "States.Runtime", arn=ARN + "-old")).write is None


def test_a_running_execution_changes_nothing():
    assert reconcile(state(), end("RUNNING")).write is None


def test_the_message_is_one_line_and_bounded():
    decision = reconcile(state(), end("FAILED", "States.Runtime", "x" * 5000 + "\nsecond line"))
    assert "\n" not in decision.error_message and len(decision.error_message) <= 300


def test_the_course_id_comes_from_the_input_or_else_the_execution_name():
    assert course_id_of('{"course_id": "c-9"}', "whatever") == "c-9"
    assert course_id_of(None, "c-1-resume-2") == "c-1"
    assert course_id_of("not json", "c-3") == "c-3"


def test_a_catchable_states_error_came_through_the_failure_path_which_published_already():
    decision = reconcile(state(), end("FAILED", "States.Timeout", "ExpandPart timed out"))
    assert decision.write == Status.error and not decision.publish_failed


@pytest.mark.parametrize("uncatchable", ["States.Runtime", "States.DataLimitExceeded"])
def test_an_uncatchable_error_skipped_the_failure_path_and_owes_the_event(uncatchable):
    assert reconcile(state(), end("FAILED", uncatchable, "x")).publish_failed


def test_an_error_recorded_with_its_event_still_owed_is_published_without_a_write():
    decision = reconcile(state(Status.error, failed_event_owed=True), end("TIMED_OUT"))
    assert decision.write is None and decision.publish_failed


def test_a_course_never_started_is_an_error_that_says_to_ask_again():
    decision = reconcile(state(execution_arn=""), end("NOT_STARTED"))
    assert (decision.write, decision.error_type) == (Status.error, "ExecutionNotStarted")
    assert "request it again" in decision.error_message and not decision.publish_failed
