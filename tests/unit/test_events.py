"""The sample events in events/ stay valid inputs for what they are samples of."""

import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

from coursegen.models import CourseRequest, ExecutionStatusChange, WorkflowInput
from coursegen.services.outline import FailureInput, PartInput, StepInput

EVENTS = Path(__file__).resolve().parents[2] / "events"
MODELS = {"post_course": CourseRequest, "start_execution": WorkflowInput, "embed_query": WorkflowInput,
          "expand_part": PartInput, "explain_failure": FailureInput,
          "ingest_books": S3EventNotificationEventBridgeModel, "record_execution_end": ExecutionStatusChange}


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda p: p.stem)
def test_sample_event_validates(path):
    MODELS.get(path.stem, StepInput).model_validate(json.loads(path.read_text()))
