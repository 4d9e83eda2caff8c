"""IngestBooks: a books/*.jsonl upload becomes books in the library and a report next to it;
the handler gets the EventBridge S3 event the template's rule delivers."""

import json
from pathlib import Path

import boto3

from coursegen.services.library import report_key
from coursegen_local.runner import LocalRunner

EVENT = json.loads((Path(__file__).resolve().parents[2] / "events" / "ingest_books.json").read_text())


def upload_event(key: str) -> dict:
    event = json.loads(json.dumps(EVENT))
    event["detail"]["object"]["key"] = key
    return event


def test_an_upload_is_ingested_reported_and_a_reupload_never_duplicates(repository, embedder):
    lines = [
        json.dumps({"book_id": "ing-001", "title": "Uploaded one", "summary": "An uploaded book about valuation basics."}),
        "{broken",
        json.dumps({"book_id": "ing-002", "title": "Uploaded two", "summary": "Another uploaded book, about budgeting."}),
    ]
    before = repository.count_books()
    with LocalRunner(database=repository, embedder=embedder) as runner:
        s3 = boto3.client("s3", region_name="us-east-1")
        bucket = runner.container.settings.payload_bucket
        s3.put_object(Bucket=bucket, Key="books/upload.jsonl", Body="\n".join(lines).encode())
        result = runner.invoke("IngestBooksFunction", upload_event("books/upload.jsonl"))
        assert result == {"key": "books/upload.jsonl", "report": "books/upload.jsonl.report.json", "imported": 2, "rejected": 1}
        report = json.loads(s3.get_object(Bucket=bucket, Key=report_key("books/upload.jsonl"))["Body"].read())
        assert report["rejected"] == [{"line": 2, "reason": report["rejected"][0]["reason"]}]
        assert "not JSON" in report["rejected"][0]["reason"]

        runner.invoke("IngestBooksFunction", upload_event("books/upload.jsonl"))
        assert repository.count_books() == before + 2

        skipped = runner.invoke("IngestBooksFunction", upload_event("books/upload.jsonl.report.json"))
        assert "skipped" in skipped
    with repository.pool.connection() as conn:
        conn.execute("DELETE FROM books WHERE book_id LIKE 'ing-%'")
