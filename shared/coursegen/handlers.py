"""The Powertools decorator stack every workflow-step Lambda shares, written once.

A function's app.py names its step: `lambda_handler = workflow_step(OutlineWorkflow.plan_parts, StepInput)`.
The handler parses the event with the step's pydantic model, calls that one service method,
and returns its small dict. Exceptions propagate: their class name is the ASL error name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from coursegen.adapters.metering import metered_invocation
from coursegen.bootstrap import outline_workflow, payload_store
from coursegen.errors import InvalidInput
from coursegen.models import describe_validation_error

logger = Logger(service="coursegen")
tracer = Tracer(service="coursegen")
metrics = Metrics(namespace="coursegen", service="coursegen")
# Powertools prints the cold-start metric even when POWERTOOLS_METRICS_DISABLED is set, and keeps
# (never flushes) the metrics added meanwhile until 100 pile up and print: offline, add none.
_METRICS_ENABLED = os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").lower() != "true"


def loggable(result: dict) -> dict:
    """What a step's result may log: ids, counts and sizes - a list or mapping (PlanParts' parts,
    titles included) by its length, never its text."""
    return {key: len(value) if isinstance(value, (list, dict)) else value for key, value in result.items()}


def workflow_step(step: Callable[[Any, BaseModel], dict], model: type[BaseModel], service: Callable[[], Any] = outline_workflow):
    """service: the composition root's accessor for the step's service (the outline's by default)."""
    name = step.__name__

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics(capture_cold_start_metric=_METRICS_ENABLED)
    def lambda_handler(event: dict, context: LambdaContext) -> dict:
        try:
            request = model.model_validate(event)
        except ValidationError as error:
            raise InvalidInput(describe_validation_error(error)) from None
        # thread-safe: offline, Map iterations run in threads of one process
        course_id = getattr(request, "course_id", None)
        logger.thread_safe_append_keys(course_id=course_id, step=name)
        # the step's model calls, tokens and time: a usage record for the evidence pack, failed or not
        with metered_invocation(name, course_id, payload_store, getattr(context, "aws_request_id", None)):
            result = step(service(), request)
        if _METRICS_ENABLED:
            metrics.add_metric(name=f"{name}_completed", unit=MetricUnit.Count, value=1)
        logger.info("step completed", extra={"result": loggable(result)})
        return result

    lambda_handler.__name__ = f"{name}_handler"
    return lambda_handler
