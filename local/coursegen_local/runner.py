"""The offline runner: the exact statemachine/course_generation.asl.json, executed in-process by
moto's Step Functions interpreter, with its Lambda tasks dispatched to functions/*/app.py.

DynamoDB and S3 are moto's, created from template.yaml's own definitions; PostgreSQL is the
embedded pgserver (or any DATABASE_URL). Faults can be injected per step and attempt, in the
spirit of Step Functions Local's MockConfigFile.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import logging
import os
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from botocore.exceptions import ClientError

from coursegen import bootstrap
from coursegen.bootstrap import Container
from coursegen.config import Settings
from coursegen.domain.execution_end import course_id_of
from coursegen.domain.status import course_status
from coursegen.errors import StateMissing
from coursegen.models import CourseRequest, CourseState, StoredCourse, WorkflowInput
from coursegen_local import moto_internals as moto
from coursegen_local import events, moto_fixes, moto_speedups
from coursegen_local.faults import Fault
from coursegen_local.template import ACCOUNT, SamTemplate

REGION = "us-east-1"
# moto logs every failed state at ERROR with its internals; the runner reports failures itself.
logging.getLogger("moto").setLevel(logging.CRITICAL)
# A failed step publishes no metrics; Powertools warns about that in every such invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")
# How long wait() gives RecordExecutionEnd to record an execution's end once it has ended.
_END_RECORDED_WITHIN_SECONDS = 30


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass
class RunResult:
    course_id: str
    execution_status: str  # SUCCEEDED | FAILED | ...
    status: dict[str, Any]
    course: StoredCourse | None
    transitions: int
    lambda_invocations: int
    seconds: float
    largest_payload_bytes: int


class LocalRunner:
    def __init__(
        self,
        *,
        database_url: str | None = None,
        parameter_overrides: dict[str, str] | None = None,
        retry_time_scale: float = 1.0,
        faults: list[Fault] | None = None,
        max_running: int | None = None,
        execution_timeout_seconds: int | None = None,
        review_timeout_seconds: int | None = None,
        staging_base_url: str = "http://127.0.0.1:8080/staging/",
        event_log: Path | None = None,
        **adapters: Any,
    ) -> None:
        """adapters: replacements for the container's (llm=..., embedder=..., database=...).
        max_running: how many executions run at once; the others wait, queued (None: no limit).
        execution_timeout_seconds: replaces the machine's TimeoutSeconds (tests of a timeout only).
        review_timeout_seconds: replaces ReviewTimeoutDays' seconds, how long a review waits (tests of a timeout only).
        staging_base_url: where `coursegen serve` serves staged sites (the staging_url a course gets).
        event_log: a JSON Lines file every published event is appended to (`coursegen events` reads it)."""
        self.staging_base_url = staging_base_url
        self.site_base_url = staging_base_url.removesuffix("staging/") + "sites/"  # `coursegen serve`'s /sites/
        self.event_log = event_log
        self.template = SamTemplate(parameter_overrides=parameter_overrides)
        self._adapters = adapters
        self._database_url = database_url
        self.retry_time_scale = retry_time_scale
        self.faults = list(faults or [])
        self.max_running = max_running
        self.execution_timeout_seconds = execution_timeout_seconds
        self.review_timeout_seconds = review_timeout_seconds
        self.closing = threading.Event()  # set when the runner closes: a hung fault lets go
        self._ends_recorded: dict[str, threading.Event] = {}
        self.end_delivery_failures: dict[str, BaseException] = {}  # wait() raises them: a broken safety net is loud
        self.invocations: dict[str, int] = {}
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable] = {}
        self._patched: list[tuple[Any, str, Any]] = []

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> "LocalRunner":
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        passthrough = [s for s in ("bedrock-runtime",) if os.environ.get("LLM_PROVIDER") == "bedrock" or os.environ.get("EMBEDDINGS_PROVIDER") == "bedrock"]
        self._mock = mock_aws(
            config={
                "stepfunctions": {"execute_state_machine": True},
                "core": {"passthrough": {"services": passthrough, "urls": []}},
            }
        )
        self._mock.start()
        try:
            self._create_resources()
            self.container = Container(self._local_settings(), **self._adapters)
            # moto's DynamoDB is not safe under concurrent UpdateItems (real DynamoDB is): the
            # handlers' DynamoDB calls go through one lock here, as parallel Map iterations make them.
            self.container._aws = _serialize_dynamodb(self.container._aws)
            bootstrap.override(self.container)
            for owner, name, replacement in moto_speedups.replacements() + moto_fixes.replacements():
                self._patch(owner, name, replacement)
            self._integration_client = moto_speedups.integration_clients()
            self._patch(*moto.INVOKE_LAMBDA, self._invoke_lambda)
            execution_body = self._announcing_end(moto.original(moto.EXECUTION_BODY))
            if self.max_running:
                execution_body = _admitted(execution_body, self.max_running, self.state_machine_arn)
            self._patch(*moto.EXECUTION_BODY, execution_body)
            self._patch(*moto.DYNAMODB_INTEGRATION_CLIENT, self._dynamodb_integration_client)
            scale = self.retry_time_scale
            self._patch(*moto.RETRY_CLOCK, SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * scale)))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        # What is alive now (moto, botocore's service models, the handlers: millions of objects)
        # stays alive while the runner is open; frozen, full collections stop rescanning it
        # (measured: 0.27-0.29 s of gen-2 collection per course run, 0.03-0.14 s frozen).
        gc.freeze()
        return self

    def __exit__(self, *exc) -> None:
        if self.closing.is_set():
            return  # closed already (a test closes a runner to stand for a restart)
        self.closing.set()
        gc.unfreeze()
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()
        bootstrap.override(None)
        database = getattr(self, "container", None) and self.container.__dict__.get("database")
        if database is not None and "database" not in self._adapters:
            database.close()
        self._mock.stop()

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        self._patched.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def _local_settings(self) -> Settings:
        from coursegen_local.database import embedded_database_url

        settings = Settings.from_env()
        database_url = self._database_url or settings.database_url
        if not database_url and "database" not in self._adapters:
            database_url = embedded_database_url()
        return settings.model_copy(
            update={
                "course_state_table": self.template.physical_name("CourseStateTable"),
                "payload_bucket": self.template.physical_name("PayloadBucket"),
                "staging_bucket": self.template.physical_name("StagingBucket"),
                # the staged sites are served by `coursegen serve` (its address), as CloudFront serves them in AWS
                "staging_base_url": self.staging_base_url,
                "site_base_url": self.site_base_url,
                "review_state_machine_arn": self.template.state_machine_arn(self.template.REVIEW_STATE_MACHINE, REGION),
                "inline_exports": True,
                "state_machine_arn": self.state_machine_arn,
                "event_bus_name": self.template.physical_name("CourseEventBus"),
                "database_url": database_url,
                "aws_region": REGION,
            }
        )

    def _create_resources(self) -> None:
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for name, table in self.template.dynamodb_tables():
            dynamodb.create_table(**table["create"])
            if table["ttl"]:
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=table["ttl"])
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in self.template.buckets():
            s3.create_bucket(Bucket=bucket)
        self._capture_events()
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        for name in self.template.state_machines:  # a stage before the machine that starts it
            overrides = {"ReviewTimeoutSeconds": str(self.review_timeout_seconds)} if self.review_timeout_seconds else None
            definition = self.template.state_machine_definition(REGION, name, overrides)
            entry = name == self.template.ENTRY_STATE_MACHINE
            if entry and self.execution_timeout_seconds is not None:
                definition = json.dumps(json.loads(definition) | {"TimeoutSeconds": self.execution_timeout_seconds})
            arn = self.sfn.create_state_machine(
                name=self.template.physical_name(name),
                definition=definition,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/coursegen-local",
                type="STANDARD",
            )["stateMachineArn"]
            assert arn == self.template.state_machine_arn(name, REGION), arn  # what the substitutions said
            if entry:
                self.state_machine_arn = arn

    def _capture_events(self) -> None:
        """Create the template's event buses, and a rule on each that copies every event to a
        local queue, so tests and tools can read what the state machine published."""
        buses = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        self._event_queue = sqs.create_queue(QueueName="coursegen-local-published-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._event_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for bus in self.template.event_buses():
            buses.create_event_bus(Name=bus)
            buses.put_rule(Name="coursegen-local-capture", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
            buses.put_targets(Rule="coursegen-local-capture", EventBusName=bus, Targets=[{"Id": "capture", "Arn": queue_arn}])
        self._published: list[dict] = []
        self.invalid_events: list[str] = []  # what broke an event's contract (tests assert there is none)

    def published_events(self) -> list[dict]:
        """Every event published so far, oldest first, as EventBridge delivered them (each checked
        against its schema: invalid_events says what broke one; appended to event_log if set)."""
        sqs = boto3.client("sqs", region_name=REGION)
        while True:
            messages = sqs.receive_message(QueueUrl=self._event_queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return list(self._published)
            received = [json.loads(message["Body"]) for message in messages]
            for event in received:  # each one checked against its contract as it arrives
                self.invalid_events += [f"{event.get('id')}: {problem}" for problem in events.event_problems(event)]
            self._published += received
            if self.event_log is not None:
                events.append(self.event_log, received)
            for message in messages:
                sqs.delete_message(QueueUrl=self._event_queue, ReceiptHandle=message["ReceiptHandle"])

    # -- the Lambda side ---------------------------------------------------------------
    def invoke(self, logical_id: str, event: dict) -> Any:
        """Call a template function's handler in-process, as Lambda would (the local API server uses this)."""
        function_name = self.template.physical_name(logical_id)
        context = LambdaContext(function_name=function_name, invoked_function_arn=self.template.function_arn(logical_id, REGION))
        return self._handler(function_name)(event, context)

    def _handler(self, function_name: str) -> Callable:
        with self._lock:
            if function_name not in self._handlers:
                spec = self.template.functions[function_name]
                module_name, attribute = spec.handler.rsplit(".", 1)
                path = spec.code_dir / f"{module_name}.py"
                module_spec = importlib.util.spec_from_file_location(f"coursegen_fn_{spec.logical_id}", path)
                module = importlib.util.module_from_spec(module_spec)
                module_spec.loader.exec_module(module)
                self._handlers[function_name] = getattr(module, attribute)
            return self._handlers[function_name]

    def _invoke_lambda(self, parameters: dict, region: str, state_credentials: Any) -> dict:
        arn = parameters["FunctionName"]
        function_name = arn.rsplit(":", 1)[-1]
        step = self.template.functions[function_name].logical_id.removesuffix("Function")
        raw = parameters.get("Payload") or b"{}"
        payload = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        with self._lock:
            self.invocations[step] = self.invocations.get(step, 0) + 1
            fault = next((f for f in self.faults if f.takes(step, payload)), None)
        if fault is not None and fault.before:
            fault.before(self, payload)
        if fault is not None and fault.error and not fault.after_running:
            return _function_error(fault.error, fault.message, [])
        context = LambdaContext(function_name=function_name, invoked_function_arn=arn)
        try:
            result = self._handler(function_name)(payload, context)
        except Exception as error:  # noqa: BLE001 - reported to the state machine, as Lambda does
            return _function_error(type(error).__name__, str(error), traceback.format_exception(error))
        if fault is not None and fault.after_running:
            return _function_error(fault.error, fault.message, [])  # killed after its side effects
        if fault is not None and fault.rewrite:
            result = fault.rewrite(result)
        return {"StatusCode": 200, "Payload": result}

    def _dynamodb_integration_client(self, service: str, region: str, state_credentials: Any) -> Any:
        """The client moto's DynamoDB integration (RecordRequest, RecordComplete, RecordFailure) uses,
        with the "DynamoDB" faults applied to its calls."""
        client = self._integration_client(region, service)
        runner = self

        class Faulty:
            def __getattr__(self, action: str) -> Any:
                call = getattr(client, action)

                def faulty(**parameters):
                    with runner._lock:
                        runner.invocations["DynamoDB"] = runner.invocations.get("DynamoDB", 0) + 1
                        fault = next((f for f in runner.faults if f.takes("DynamoDB", parameters)), None)
                    if fault is not None:
                        raise ClientError({"Error": {"Code": fault.error, "Message": fault.message},
                                           "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "injected-fault"}}, action)
                    return call(**parameters)

                return faulty

        return Faulty()

    # -- the end of an execution ---------------------------------------------------------
    def _announcing_end(self, execution_body: Callable) -> Callable:
        """moto's execution body, then what EventBridge does in AWS when an execution ends: the
        "Execution Status Change" event, delivered to RecordExecutionEnd."""

        def body(worker: Any) -> None:
            try:
                execution_body(worker)
            finally:
                machine = moto.state_machine_arn(worker)
                if machine == self.state_machine_arn:  # the rule's stateMachineArn filter
                    self._deliver_end(moto.execution_arn(worker))
                elif machine == self.template.state_machine_arn(self.template.REVIEW_STATE_MACHINE, REGION):
                    self._deliver_end(moto.execution_arn(worker), "ReviewEndedFunction", ("FAILED", "TIMED_OUT", "ABORTED"))

        return body

    def _deliver_end(self, execution_arn: str, function: str = "RecordExecutionEndFunction",
                     statuses: tuple[str, ...] = ("FAILED", "TIMED_OUT", "ABORTED", "SUCCEEDED")) -> None:
        recorded = self._end_recorded(execution_arn)
        try:
            execution = self.sfn.describe_execution(executionArn=execution_arn)
            if execution["status"] in statuses:  # the rule's status filter
                self.invoke(function, execution_status_change(execution, REGION))
        except Exception as error:  # noqa: BLE001 - in AWS, EventBridge would retry, then dead-letter
            logging.getLogger(__name__).warning("RecordExecutionEnd failed for %s: %r", execution_arn, error)
            self.end_delivery_failures[execution_arn] = error
        finally:
            recorded.set()

    def _end_recorded(self, execution_arn: str) -> threading.Event:
        with self._lock:
            return self._ends_recorded.setdefault(execution_arn, threading.Event())

    def payload(self, key: str) -> bytes | None:
        """An object of the payload bucket, or None."""
        try:
            return self.container._aws("s3").get_object(Bucket=self.container.settings.payload_bucket, Key=key)["Body"].read()
        except self.container._aws("s3").exceptions.NoSuchKey:
            return None

    def staged_object(self, key: str) -> bytes | None:
        """A file of the staging bucket (<course id>/<path>), or None."""
        try:
            return self.container._aws("s3").get_object(Bucket=self.container.settings.staging_bucket, Key=key)["Body"].read()
        except self.container._aws("s3").exceptions.NoSuchKey:
            return None

    def delete_payload(self, key: str) -> None:
        boto3.client("s3", region_name=REGION).delete_object(Bucket=self.container.settings.payload_bucket, Key=key)

    # -- executions ----------------------------------------------------------------------
    def start(self, request: CourseRequest, course_id: str | None = None, execution_name: str | None = None,
              owner: str = "local") -> str:
        course_id = course_id or str(uuid.uuid4())
        execution_input = WorkflowInput(course_id=course_id, owner=owner, **request.model_dump())
        # The record the API would write first (kept if it exists: a resume, a second start).
        self.container.states.create(CourseState.requested(course_id, request, execution_input.owner))
        self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=execution_name or course_id,
            input=execution_input.model_dump_json(),
        )
        return course_id

    def reenter_waits(self) -> list[str]:
        """Offline, a waiting execution lives in this process: when `coursegen serve` starts again,
        every course PostgreSQL says was waiting (for its outline's approval or for a review) is run
        again from its request under its own id, and waits again where it waited. Its outline and
        lessons are what PostgreSQL holds (a rewritten lesson is kept); nothing is recorded twice.
        In AWS executions outlive any process and this is never needed."""
        from coursegen.domain.lifecycle import WaitingFor, WorkflowState

        database = self.container.database
        reentered = []
        for workflow, request in database.waiting_courses():
            if not request:
                continue  # waiting since before requests were recorded: nothing to run it from
            owner = request.get("owner", "local")
            # In REVIEW it goes to review again (a submitted course's request did not ask for it); past its
            # outline's approval it is not asked for that again.
            fields = {k: v for k, v in request.items() if k != "owner"} | {
                "review": workflow.state == WorkflowState.REVIEW or bool(request.get("review")),
                "review_outline": workflow.waiting_for == WaitingFor.outline_approval}
            try:
                self.start(CourseRequest.model_validate(fields), course_id=workflow.course_id,
                           execution_name=f"{workflow.course_id}-reentered", owner=owner)
            except Exception as error:  # noqa: BLE001 - one course that cannot start keeps serve from none of the others
                logging.getLogger(__name__).warning("could not re-enter the wait of %s: %r", workflow.course_id, error)
                continue
            with database.deciding(workflow.course_id) as txn:  # nothing waits until its execution gets there again
                txn.update(replace(txn.workflow, waiting_for=None, execution_id=None))
            reentered.append(workflow.course_id)
        return reentered

    def running_courses(self) -> list[str]:
        """The names (course ids) of the executions still running, queued ones included."""
        pages = self.sfn.get_paginator("list_executions").paginate(stateMachineArn=self.state_machine_arn, statusFilter="RUNNING")
        return [execution["name"] for page in pages for execution in page["executions"]]

    def generating_courses(self) -> list[str]:
        """The running executions' courses that are not waiting for a decision (outline approval):
        what stopping now would lose."""
        waiting = {workflow.course_id for workflow, _ in self.container.database.waiting_courses()}
        return [name for name in self.running_courses()
                if course_id_of(None, name.removesuffix("-reentered")) not in waiting]

    def execution_arn(self, execution_name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{execution_name}"

    def status(self, course_id: str) -> dict[str, Any]:
        try:
            return course_status(self.container.states.load(course_id, include_text=False))
        except StateMissing:  # not recorded yet: queued
            return course_status(CourseState(session_id=course_id))

    def wait(
        self,
        course_id: str,
        *,
        execution_name: str | None = None,
        on_progress: Callable[[dict], None] | None = None,
        poll_seconds: float = 0.1,
        timeout_seconds: float = 900,
    ) -> RunResult:
        arn = self.execution_arn(execution_name or course_id)
        started = time.monotonic()
        while True:
            execution = self.sfn.describe_execution(executionArn=arn)
            if on_progress:
                on_progress(self.status(course_id))
            if execution["status"] != "RUNNING":
                self._end_recorded(arn).wait(_END_RECORDED_WITHIN_SECONDS)  # as the rule would, just after
                if arn in self.end_delivery_failures:
                    raise RuntimeError(f"RecordExecutionEnd failed for {arn}") from self.end_delivery_failures[arn]
                break
            if time.monotonic() - started > timeout_seconds:
                raise TimeoutError(f"Course {course_id} did not finish within {timeout_seconds:.0f} s.")
            time.sleep(poll_seconds)
        history = self.history(arn)
        status = self.status(course_id)
        course = self.container.courses.get_course(course_id) if status["status"] == "complete" else None
        return RunResult(
            course_id=course_id,
            execution_status=execution["status"],
            status=status,
            course=course,
            transitions=sum(1 for e in history if e["type"].endswith("StateEntered")),
            lambda_invocations=sum(1 for e in history if e["type"] == "TaskScheduled" and "lambda" in e.get("taskScheduledEventDetails", {}).get("resourceType", "")),
            seconds=time.monotonic() - started,
            largest_payload_bytes=max((_payload_size(e) for e in history), default=0),
        )

    def run(self, request: CourseRequest, course_id: str | None = None, **wait_options) -> RunResult:
        course_id = self.start(request, course_id)
        return self.wait(course_id, **wait_options)

    def history(self, execution_arn: str) -> list[dict]:
        """Every event of the execution, oldest first."""
        events, token = [], None
        while True:
            page = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {}))
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events


def execution_status_change(execution: dict, region: str) -> dict:
    """The EventBridge event Step Functions sends when an execution ends, from DescribeExecution."""
    millis = lambda moment: int(moment.timestamp() * 1000) if moment else None  # noqa: E731
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": millis(execution.get("startDate")),
            "stopDate": millis(execution.get("stopDate")),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }


def _admitted(execution_logic: Callable, slots: int, entry_arn: str) -> Callable:
    """moto's execution body, run only once one of `slots` is free. Offline, every execution shares
    one process (one GIL) with the local API; with every started course computing at once, each
    request waits behind all of them (`make bench`, API latency: the 10-client rows with 2 and with
    100 running). A waiting execution is RUNNING with its course queued, as the status says. A
    stage's execution (the content stage) runs in the slot of the course execution that started it."""
    running = threading.BoundedSemaphore(slots)

    def admitted(worker: Any) -> None:
        if moto.state_machine_arn(worker) != entry_arn:  # a stage its course's execution started: in its slot
            execution_logic(worker)
            return
        with running:
            execution_logic(worker)

    return admitted


class _Serialized:
    """A boto3 client whose writes to one item run one at a time (moto's read-modify-write of an
    item is not atomic under threads). Writes to other items - other courses - do not wait: the
    item's key picks one of a fixed set of locks. Reads need no lock."""

    _locks = [threading.Lock() for _ in range(64)]
    _WRITES = {"update_item", "put_item", "delete_item"}

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name not in self._WRITES:
            return attribute

        def call(**parameters):
            key = parameters.get("Key") or {"course_id": parameters["Item"]["course_id"]}  # the state table's key
            with self._locks[hash(json.dumps(key, sort_keys=True)) % len(self._locks)]:
                return attribute(**parameters)

        return call


def _serialize_dynamodb(make_client: Callable) -> Callable:
    def client(service: str, **config):
        made = make_client(service, **config)
        return _Serialized(made) if service == "dynamodb" else made

    return client


def _function_error(error_type: str, message: str, stack: list[str]) -> dict:
    return {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "Payload": {"errorType": error_type, "errorMessage": message, "stackTrace": stack},
    }


def _payload_size(event: dict) -> int:
    """Bytes of the state input/output this history event carries (what Step Functions caps at 256 KiB)."""
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            for field_name in ("input", "output"):
                if isinstance(details.get(field_name), str):
                    return len(details[field_name].encode())
    return 0
