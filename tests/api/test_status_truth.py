"""GET status never keeps a course `processing` after its execution ended: when no step has
written for longer than any step may run, it asks Step Functions and records the truth."""

import threading
import time

from coursegen.errors import StoreThrottled
from coursegen_local.faults import Fault, _record_complete
from coursegen_local.runner import LocalRunner
from tests.api.conftest import Client


def test_a_course_whose_end_event_was_lost_gets_its_truth_from_the_execution(clean_courses, embedder, monkeypatch):
    # RecordComplete fails for good and the Execution Status Change event never arrives.
    fault = Fault("DynamoDB", "ProvisionedThroughputExceededException", "slow down", times=-1, when=_record_complete)
    with LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder, faults=[fault]) as runner:
        monkeypatch.setattr(runner, "_deliver_end", lambda arn: runner._end_recorded(arn).set())
        client = Client(runner)
        code, accepted, _ = client.request("POST", "/courses", {"query": "Learn DCF valuation", "hours": 2})
        assert code == 202
        course_id = accepted["course_id"]
        assert runner.wait(course_id).execution_status == "SUCCEEDED"

        service = runner.container.course_service
        service.stale_after_seconds = 3600  # the record moved a moment ago: not asked yet
        assert client.request("GET", f"/courses/{course_id}/status")[1]["status"] == "processing"

        service.stale_after_seconds = 0  # as if it had not moved for longer than any step runs
        code, status, _ = client.request("GET", f"/courses/{course_id}/status")
        assert (code, status["status"], status["progress"]["percent"]) == (200, "complete", 100)
        assert client.request("GET", f"/courses/{course_id}")[0] == 200  # the stored course, not a 409


def test_a_running_course_is_left_processing_when_asked(clean_courses, embedder):
    gate = threading.Event()
    hold = Fault("ExpandPart", "", times=1, before=lambda runner, payload: gate.wait(30))  # one part waits
    with LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder, faults=[hold]) as runner:
        client = Client(runner)
        runner.container.course_service.stale_after_seconds = 0  # ask Step Functions at every GET
        course_id = client.request("POST", "/courses", {"query": "Learn DCF valuation", "hours": 2})[1]["course_id"]
        deadline = time.monotonic() + 30
        while runner.invocations.get("ExpandPart", 0) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.request("GET", f"/courses/{course_id}/status")[1]["status"] == "processing"  # RUNNING: untouched
        gate.set()
        assert runner.wait(course_id).status["status"] == "complete"


def test_a_course_stored_before_its_state_write_failed_completes(clean_courses, embedder, monkeypatch):
    # StoreCourse commits, then the state write that follows fails (DynamoDB down for it).
    with LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder) as runner:
        states, save = runner.container.states, runner.container.states.save

        def failing_after_commit(state):
            if state.outline_complete:
                raise StoreThrottled("ProvisionedThroughputExceededException: slow down")
            save(state)

        monkeypatch.setattr(states, "save", failing_after_commit)
        client = Client(runner)
        course_id = client.request("POST", "/courses", {"query": "Learn DCF valuation", "hours": 2})[1]["course_id"]
        result = runner.wait(course_id)
        assert (result.execution_status, result.status["status"]) == ("SUCCEEDED", "complete")
        assert client.request("GET", f"/courses/{course_id}")[0] == 200
        kinds = [event["detail-type"] for event in runner.published_events()]
        assert "course.generation.completed" in kinds and "course.generation.failed" not in kinds
