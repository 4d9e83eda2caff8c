"""RecordExecutionEnd's service on the real DynamoDB store (moto): what it writes and publishes
across deliveries, the status read's silent write, and a publish that fails."""

import pytest

from coursegen.domain.execution_end import ExecutionEnd
from coursegen.models import CourseRequest, CourseState
from coursegen.services.execution_end import ExecutionEndService
from tests.adapters.test_aws_stores import stores  # noqa: F401 - the moto-backed stores fixture

ARN = "arn:aws:states:us-east-1:123456789012:execution:coursegen-machine:c-1"


class Bus:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict]] = []
        self.down = False

    def publish(self, detail_type: str, payload: dict) -> None:
        if self.down:
            raise ConnectionError("EventBridge unreachable")
        self.published.append((detail_type, payload))


class Executions:
    def __init__(self, end: ExecutionEnd | None) -> None:
        self.end = end

    def execution_arn(self, name: str) -> str:
        return ARN.rsplit(":", 1)[0] + ":" + name

    def end_of(self, arn: str):
        return self.end


@pytest.fixture
def service(stores):  # noqa: F811
    store, *_ = stores
    store.create(CourseState.requested("c-1", CourseRequest(query="Learn DCF valuation", hours=2), "owner-1"))
    store._update("c-1", "SET execution_arn = :arn", {":arn": {"S": ARN}})
    bus = Bus()
    timed_out = ExecutionEnd(execution_arn=ARN, course_id="c-1", status="TIMED_OUT")
    return ExecutionEndService(states=store, events=bus, executions=Executions(timed_out)), store, bus, timed_out


def test_a_timeout_is_recorded_and_its_failed_event_published_once_over_repeated_deliveries(service):
    svc, store, bus, timed_out = service
    assert svc.record(timed_out)["written"] == "error"
    assert svc.record(timed_out)["written"] is None
    assert [kind for kind, _ in bus.published] == ["course.generation.failed"]
    assert bus.published[0][1]["error_type"] == "ExecutionTimedOut"
    assert not store.load("c-1", include_text=False).failed_event_owed


def test_the_status_read_writes_silently_and_the_later_delivery_still_publishes(service):
    svc, store, bus, timed_out = service
    state = svc.check(store.load("c-1", include_text=False))
    assert state.status.value == "error" and state.failed_event_owed and not bus.published
    svc.record(timed_out)  # the Execution Status Change event, arriving late
    assert [kind for kind, _ in bus.published] == ["course.generation.failed"]
    assert not store.load("c-1", include_text=False).failed_event_owed


def test_a_publish_that_fails_is_owed_and_made_by_the_retried_delivery(service):
    svc, store, bus, timed_out = service
    bus.down = True
    with pytest.raises(ConnectionError):
        svc.record(timed_out)
    assert store.load("c-1", include_text=False).failed_event_owed
    bus.down = False
    svc.record(timed_out)  # EventBridge retries the delivery
    assert len(bus.published) == 1 and not store.load("c-1", include_text=False).failed_event_owed


def test_a_course_never_started_is_recorded_by_the_status_read(stores):  # noqa: F811
    store, *_ = stores
    store.create(CourseState.requested("c-2", CourseRequest(query="Learn DCF valuation", hours=2), "owner-1"))
    missing = ExecutionEnd(execution_arn=ARN[:-3] + "c-2", course_id="c-2", status="NOT_STARTED")
    svc = ExecutionEndService(states=store, events=Bus(), executions=Executions(missing))
    state = svc.check(store.load("c-2", include_text=False))
    assert (state.status.value, state.error_type) == ("error", "ExecutionNotStarted")
    assert "request it again" in state.error_message
