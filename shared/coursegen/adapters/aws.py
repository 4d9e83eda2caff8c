"""AWS adapters: the DynamoDB course-state store, the S3 payload store, Step Functions and EventBridge.

Provider errors become domain errors here (throttling, a missing object), so the state machine's
Retry and Catch can name them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from coursegen.domain.execution_end import ENDED, ExecutionEnd, course_id_of
from coursegen.errors import NotResumable, PayloadMissing, StateMissing, StoreThrottled, WaitEnded, WorkflowUnavailable
from coursegen.models import STATE_TTL_SECONDS, CourseState, Progress, utc_now

# Big text fields live in the payload bucket; the item keeps everything else, as Maps and Lists.
OFFLOADED_FIELDS = (
    "book_summaries_json",
    "outline_text",
    "course_outline_context",
    "previous_lectures_context",
    "current_section_draft",
)
# Written only by the state machine's own DynamoDB tasks (RecordRequest, RecordComplete,
# RecordFailure) and the resume claim; a Lambda's save never overwrites them.
STATE_MACHINE_FIELDS = {"status", "execution_arn", "created_at", "error_type", "error_message", "resumes", "failed_event_owed"}
_THROTTLING = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "SlowDown"}


def _dynamo_value(value: Any) -> Any:
    """Floats become Decimals (DynamoDB numbers); everything else keeps its JSON shape."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class _ConditionFailed(Exception):
    """An update's condition did not hold; the caller says what that means."""


def _translate(error: ClientError) -> Exception:
    code = _code(error)
    if code in _THROTTLING:
        return StoreThrottled(f"{code}: {error}")
    return error


class S3PayloadStore:
    def __init__(self, s3_client, bucket: str) -> None:
        self.s3 = s3_client
        self.bucket = bucket

    def put_text(self, key: str, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        self.put_bytes(key, text.encode("utf-8"), content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except ClientError as error:
            raise _translate(error) from error

    def get_text(self, key: str) -> str:
        return self.get_bytes(key).decode("utf-8")

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404", "NotFound"):
                raise PayloadMissing(f"s3://{self.bucket}/{key} does not exist") from error
            raise _translate(error) from error

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete these keys (one that is not there is no error); DeleteObjects takes 1,000 a call."""
        try:
            for start in range(0, len(keys), 1000):
                self.s3.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": key} for key in keys[start:start + 1000]], "Quiet": True})
        except ClientError as error:
            raise _translate(error) from error

    def presigned_url(self, key: str, seconds: int) -> str:
        """A GET URL for the key, valid `seconds` (signed locally, with the caller's credentials)."""
        return self.s3.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds)

    def list_keys(self, prefix: str) -> list[str]:
        # ListObjectsV2 answers at most 1000 keys a page; a long course's usage records run past that
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
        except ClientError as error:
            raise _translate(error) from error


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _attributes(state: CourseState) -> dict[str, Any]:
    """The state as its item's attributes, the big text fields still inline (save moves them to
    the payload bucket). Progress is top-level, so each part can SET its own part_sections entry."""
    data = state.model_dump(mode="json", exclude={"session_id", *STATE_MACHINE_FIELDS})
    data.update(data.pop("progress"))
    data["offloaded"] = [field for field in OFFLOADED_FIELDS if data[field]]
    return data


def _digests(attributes: dict[str, Any]) -> dict[str, str]:
    return {name: _digest(json.dumps(value, sort_keys=True)) for name, value in attributes.items()}


def state_key(course_id: str, field: str) -> str:
    return f"courses/{course_id}/state/{field}.txt"


class DynamoStateStore:
    """The course-state table (key course_id, TTL 7 days). Writes are UpdateItem SETs, so fields
    written by the state machine's own DynamoDB tasks (status, created_at) are never clobbered."""

    def __init__(self, dynamodb_client, table: str, payloads: S3PayloadStore) -> None:
        self.dynamodb = dynamodb_client
        self.table = table
        self.payloads = payloads

    def load(self, course_id: str, include_text: bool = True, entering: str | None = None) -> CourseState:
        """The course's state; without include_text the big offloaded fields stay in S3 (a status
        read needs none of them). `entering` announces a step's phase in the same call."""
        from boto3.dynamodb.types import TypeDeserializer

        missing = StateMissing(f"No course state for {course_id}: start courses through the workflow's RecordRequest.")
        if entering:
            try:
                item = self._update(
                    course_id, "SET phase = :phase, updated_at = :now", {":phase": {"S": entering}, ":now": {"S": utc_now()}},
                    condition="attribute_exists(course_id)", returns="ALL_NEW",
                )
            except _ConditionFailed:
                raise missing from None
        else:
            try:
                key = {"course_id": {"S": course_id}}
                item = self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            except ClientError as error:
                raise _translate(error) from error
        if not item:
            raise missing
        deserializer = TypeDeserializer()
        data = _plain({k: deserializer.deserialize(v) for k, v in item.items()})
        offloaded = data.pop("offloaded", []) if include_text else []
        data.pop("offloaded", None)
        for field in offloaded:
            data[field] = self.payloads.get_text(state_key(course_id, field))
        data["session_id"] = data.pop("course_id")
        data["progress"] = {name: data.pop(name) for name in Progress.model_fields if name in data}
        state = CourseState.model_validate(data)
        if not include_text:
            state._stored = {"__partial__": ""}  # saving a partial state would lose the text
            return state
        # What the item and the bucket hold now; a field they lack is written by the next save.
        held = _digests(_attributes(state) | {"offloaded": offloaded})
        state._stored = {name: digest for name, digest in held.items() if name in item or name in offloaded}
        return state

    def save(self, state: CourseState) -> None:
        """Write what changed since the state was loaded or last saved: a SET of those attributes
        (the step's own, never a sibling's), and the changed big text to the payload bucket."""
        from boto3.dynamodb.types import TypeSerializer

        if "__partial__" in state._stored:
            raise ValueError("A state loaded without its text cannot be saved.")
        state.updated_at = utc_now()
        state.ttl = int(time.time()) + STATE_TTL_SECONDS
        data = _attributes(state)
        digests = _digests(data)
        changed = {name: value for name, value in data.items()
                   if state._stored.get(name) != digests[name] or name in ("updated_at", "ttl")}
        for field in OFFLOADED_FIELDS:
            if changed.pop(field, None):
                self.payloads.put_text(state_key(state.course_id, field), data[field])
        serializer = TypeSerializer()
        names = {f"#f{i}": name for i, name in enumerate(changed)}
        values = {f":v{i}": serializer.serialize(_dynamo_value(value)) for i, value in enumerate(changed.values())}
        assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(changed)))
        self._update(state.course_id, "SET " + assignments, values, names)
        state._stored = digests

    def create(self, state: CourseState) -> bool:
        from boto3.dynamodb.types import TypeSerializer

        state.ttl = int(time.time()) + STATE_TTL_SECONDS
        data = state.model_dump(mode="json", exclude={"session_id", "progress", *OFFLOADED_FIELDS})
        data["course_id"] = state.course_id
        data.update(state.progress.model_dump())
        serializer = TypeSerializer()
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={k: serializer.serialize(_dynamo_value(v)) for k, v in data.items()},
                ConditionExpression="attribute_not_exists(course_id)",
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise _translate(error) from error
        return True

    def claim_resume(self, course_id: str) -> int:
        """Atomically turn a failed course back to processing and count the resume: a second
        claim (a double click, a retry) finds it processing and is refused."""
        try:
            item = self._update(
                course_id,
                "SET #status = :processing, resumes = if_not_exists(resumes, :zero) + :one",
                {":processing": {"S": "processing"}, ":error": {"S": "error"}, ":zero": {"N": "0"}, ":one": {"N": "1"}},
                {"#status": "status"},
                condition="#status = :error",
                returns="UPDATED_NEW",
            )
        except _ConditionFailed:
            raise NotResumable(f"Course {course_id} has not failed (or is being resumed already).") from None
        return int(item["resumes"]["N"])

    def release_resume(self, course_id: str) -> None:
        """Undo a claim whose execution could not be started: the course is failed again."""
        self._update(course_id, "SET #status = :error", {":error": {"S": "error"}}, {"#status": "status"})

    def delete(self, course_id: str) -> None:
        try:
            self.dynamodb.delete_item(TableName=self.table, Key={"course_id": {"S": course_id}})
        except ClientError as error:
            raise _translate(error) from error

    def set_phase(self, course_id: str, phase: str) -> None:
        self._update(course_id, "SET phase = :phase, updated_at = :now", {":phase": {"S": phase}, ":now": {"S": utc_now()}})

    def record_lesson_done(self, course_id: str, lesson_index: int, words: int) -> None:
        # As record_part_done: each lesson SETs its own key, so parallel batches and re-runs count once.
        self._update(
            course_id,
            "SET lessons_written.#lesson = :words, updated_at = :now",
            {":words": {"N": str(words)}, ":now": {"S": utc_now()}},
            {"#lesson": str(lesson_index)},
        )

    def record_part_done(self, course_id: str, part_index: int, sections: int) -> None:
        # SET on this part's own key: parallel parts never touch each other's, a retry is idempotent.
        self._update(
            course_id,
            "SET part_sections.#part = :sections, updated_at = :now",
            {":sections": {"N": str(sections)}, ":now": {"S": utc_now()}},
            {"#part": str(part_index)},
        )

    def record_end(
        self, course_id: str, execution_arn: str, status: str, error_type: str = "", error_message: str = "",
        *, failed_event_owed: bool = False,
    ) -> bool:
        values = {":status": {"S": status}, ":arn": {"S": execution_arn}, ":unclaimed": {"S": ""}, ":now": {"S": utc_now()}}
        # A record no execution has claimed (RecordRequest never ran; POST wrote it with an empty
        # arn) belongs to any of the course's executions.
        owned = "(attribute_not_exists(execution_arn) OR execution_arn = :unclaimed OR execution_arn = :arn)"
        if status == "complete":
            expression = "SET #status = :status, updated_at = :now, phase = :status REMOVE error_type, error_message, failed_event_owed"
            condition = f"{owned} AND #status <> :status"
        else:
            values |= {":processing": {"S": "processing"}, ":type": {"S": error_type}, ":cause": {"S": error_message},
                       ":owed": {"BOOL": failed_event_owed}}
            expression = "SET #status = :status, updated_at = :now, error_type = :type, error_message = :cause, failed_event_owed = :owed"
            condition = f"{owned} AND #status = :processing"
        try:
            self._update(course_id, expression, values, {"#status": "status"}, condition=condition)
        except _ConditionFailed:
            return False
        return True

    def failed_event_published(self, course_id: str) -> None:
        self._update(course_id, "REMOVE failed_event_owed", {})

    # -- task tokens (TaskTokens) ------------------------------------------------------------
    # A waiting execution's token, in its own item keyed by the wait's opaque approval id ("#" is
    # no course id character, so no course's record is ever confused with one).
    @staticmethod
    def _token_key(approval_id: str) -> dict:
        return {"course_id": {"S": f"approval#{approval_id}"}}

    def keep_task_token(self, approval_id: str, course_id: str, token: str, seconds: int) -> None:
        item = self._token_key(approval_id) | {"task_token": {"S": token}, "for_course": {"S": course_id},
                                                "ttl": {"N": str(int(time.time()) + int(seconds))}}
        try:
            self.dynamodb.put_item(TableName=self.table, Item=item)
        except ClientError as error:
            raise _translate(error) from error

    def task_token(self, approval_id: str) -> str | None:
        try:
            item = self.dynamodb.get_item(TableName=self.table, Key=self._token_key(approval_id), ConsistentRead=True).get("Item")
        except ClientError as error:
            raise _translate(error) from error
        if not item or int(item.get("ttl", {}).get("N", "0")) < time.time():  # TTL deletes late: an expired one is gone
            return None
        return item["task_token"]["S"]

    def drop_task_token(self, approval_id: str) -> None:
        try:
            self.dynamodb.delete_item(TableName=self.table, Key=self._token_key(approval_id))
        except ClientError as error:
            raise _translate(error) from error

    def _update(
        self, course_id: str, expression: str, values: dict, names: dict | None = None,
        *, condition: str | None = None, returns: str | None = None,
    ) -> dict:
        """One UpdateItem on the course's record: the attributes `returns` asks for, if any;
        _ConditionFailed when `condition` does not hold."""
        options = {"ExpressionAttributeNames": names} if names else {}
        if values:
            options["ExpressionAttributeValues"] = values
        if condition:
            options["ConditionExpression"] = condition
        if returns:
            options["ReturnValues"] = returns
        try:
            response = self.dynamodb.update_item(
                TableName=self.table,
                Key={"course_id": {"S": course_id}},
                UpdateExpression=expression,
                **options,
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                raise _ConditionFailed(condition) from None
            raise _translate(error) from error
        return response.get("Attributes", {})


class StepFunctionsStarter:
    def __init__(self, sfn_client, state_machine_arn: str) -> None:
        self.sfn = sfn_client
        self.state_machine_arn = state_machine_arn

    def start(self, execution_name: str, execution_input: str) -> bool:
        try:
            self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=execution_name, input=execution_input)
        except ClientError as error:
            code = _code(error)
            if code == "ExecutionAlreadyExists":
                return False  # named by this course id: started before (names are kept 90 days)
            raise WorkflowUnavailable(f"Step Functions did not start the course ({code}); retry the request.") from error
        return True

    def end_of(self, execution_arn: str) -> ExecutionEnd | None:
        try:
            execution = self.sfn.describe_execution(executionArn=execution_arn)
        except ClientError as error:
            if _code(error) == "ExecutionDoesNotExist":
                name = execution_arn.rsplit(":", 1)[-1]
                return ExecutionEnd(execution_arn=execution_arn, course_id=course_id_of(None, name), status="NOT_STARTED")
            raise WorkflowUnavailable(f"Step Functions did not answer ({_code(error)}); retry the request.") from error
        if execution["status"] not in ENDED:
            return None
        return ExecutionEnd(
            execution_arn=execution_arn,
            course_id=course_id_of(execution.get("input"), execution["name"]),
            status=execution["status"],
            error=execution.get("error", ""),
            cause=execution.get("cause", ""),
        )

    def execution_arn(self, execution_name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{execution_name}"

    def started_at(self, execution_name: str) -> datetime | None:
        """When the execution of that name started (None if there is none)."""
        arn = self.execution_arn(execution_name)
        try:
            return self.sfn.describe_execution(executionArn=arn)["startDate"]
        except ClientError as error:
            if _code(error) == "ExecutionDoesNotExist":
                return None
            raise WorkflowUnavailable(f"Step Functions did not answer ({error}); retry the request.") from error


class StepFunctionsDecisions:
    """A reviewer's decision to the execution that waits for it (DecisionSender)."""

    # What SendTaskSuccess answers when nothing waits for the token any more.
    _ENDED = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}

    def __init__(self, sfn_client) -> None:
        self.sfn = sfn_client

    def send(self, token: str, output: dict) -> None:
        try:
            self.sfn.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as error:
            if _code(error) in self._ENDED:
                raise WaitEnded(f"The execution no longer waits for this decision ({_code(error)}).") from None
            raise WorkflowUnavailable(f"Step Functions did not take the decision ({_code(error)}); retry.") from error


class EventBridgePublisher:
    """Domain events from code (the state machine publishes its own with events:putEvents), in the
    same envelope: detail {payload, meta}, source coursegen.courses."""

    SOURCE = "coursegen.courses"

    def __init__(self, events_client, bus_name: str, producer: str) -> None:
        self.events = events_client
        self.bus_name = bus_name
        self.producer = producer

    def publish(self, detail_type: str, payload: dict) -> None:
        detail = {"payload": payload, "meta": {"schema_version": 1, "producer": self.producer, "source_module": "course_factory"}}
        try:
            answer = self.events.put_events(Entries=[{
                "EventBusName": self.bus_name, "Source": self.SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail),
            }])
        except ClientError as error:
            raise _translate(error) from error
        if answer.get("FailedEntryCount"):
            entry = answer["Entries"][0]
            raise StoreThrottled(f"EventBridge refused {detail_type}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
