"""IngestBooks: a JSONL file uploaded under books/ becomes books in the library, with a report
written next to it (the same import as `coursegen books import`)."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from coursegen.bootstrap import library_ingestion

logger = Logger(service="coursegen")
tracer = Tracer(service="coursegen")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=S3EventBridgeNotificationEvent)
def lambda_handler(event: S3EventBridgeNotificationEvent, context: LambdaContext) -> dict:
    result = library_ingestion().ingest(event.detail.object.key)
    logger.info("library upload ingested", extra=result)
    return result
