"""RecordExecutionEnd: the safety net. An EventBridge rule sends it every end of a course
execution (SUCCEEDED, FAILED, TIMED_OUT, ABORTED); it makes the course's status record agree,
so no course stays `processing` after its execution ended (offline, the runner delivers the
same event). Idempotent; never overwrites `complete`."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from coursegen.bootstrap import execution_end_service
from coursegen.domain.execution_end import ExecutionEnd, course_id_of
from coursegen.errors import InvalidInput
from coursegen.models import ExecutionStatusChange, describe_validation_error

logger = Logger(service="coursegen")
tracer = Tracer(service="coursegen")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        change = ExecutionStatusChange.model_validate(event).detail
    except ValidationError as error:
        raise InvalidInput(describe_validation_error(error, whole="event")) from None
    end = ExecutionEnd(
        execution_arn=change.executionArn,
        course_id=course_id_of(change.input, change.name),
        status=change.status,
        error=change.error or "",
        cause=change.cause or "",
    )
    result = execution_end_service().record(end)
    logger.info("execution end recorded", extra=result)  # ids, statuses and the rule applied: no course text
    return result
