"""IngestBooks: a JSONL file uploaded under books/ becomes books in the library, with a report
written next to it (the same import as `coursegen books import`).

A file too large for one invocation is imported in several: the import stops before Lambda's
timeout, and the handler copies the upload onto itself, which raises a new "Object Created"
event; the next invocation skips the books stored already and goes on with the rest. Each
continuation follows an invocation that stored at least one book, so the chain ends.
"""

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from coursegen.bootstrap import library_ingestion

logger = Logger(service="coursegen")
tracer = Tracer(service="coursegen")


def continue_later(bucket: str, key: str) -> None:
    # S3 refuses a copy onto itself that changes nothing: replacing the metadata makes it a new
    # version. Tags are not copied, so s3:GetObject and s3:PutObject are all it needs.
    boto3.client("s3").copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key},
                                   MetadataDirective="REPLACE", Metadata={"coursegen-continued": "true"},
                                   TaggingDirective="REPLACE")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=S3EventBridgeNotificationEvent)
def lambda_handler(event: S3EventBridgeNotificationEvent, context: LambdaContext) -> dict:
    key = event.detail.object.key
    result = library_ingestion().ingest(key, seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    if result.get("complete") is False and result["embedded"]:
        continue_later(event.detail.bucket.name, key)
        result["continued"] = True
    logger.info("library upload ingested", extra=result)  # the key and counts: never a book's text
    return result
