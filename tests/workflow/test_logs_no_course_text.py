"""Logs carry ids, counts and sizes, never course text: no part or section title, no book title
or summary reaches a log line - of a whole course through the ASL, or of a library import."""

import io
import json
import logging

import boto3

from coursegen.handlers import logger
from coursegen.models import CourseRequest
from coursegen_local.runner import LocalRunner
from tests.adapters.test_ingestion import library_lines, upload_event


def captured_logs(action) -> str:
    """The JSON lines CloudWatch would get from every coursegen logger while `action` runs."""
    buffer = io.StringIO()
    capture = logging.StreamHandler(buffer)
    capture.setFormatter(logger.registered_formatter)
    logger.addHandler(capture)
    logger.setLevel("INFO")
    try:
        action()
    finally:
        logger.setLevel("WARNING")
        logger.removeHandler(capture)
    return buffer.getvalue()


def test_a_course_logs_its_ids_and_counts_but_no_title_or_summary(run_workflow):
    runs = []
    logs = captured_logs(lambda: runs.append(run_workflow(CourseRequest(query="Learn DCF valuation", hours=1))))
    [(result, _)] = runs
    course = result.course
    assert result.course_id in logs and "step completed" in logs
    texts = [part.title for part in course.outline.parts] + [s.title for p in course.outline.parts for s in p.sections]
    texts += [source["title"] for source in course.sources]
    leaked = [text for text in texts if text in logs]
    assert not leaked, f"course text in the logs: {leaked[:3]}"


def test_a_library_import_logs_its_key_and_counts_but_no_book(repository, embedder):
    lines = library_lines("logged", 3)
    with LocalRunner(database=repository, embedder=embedder) as runner:
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.put_object(Bucket=runner.container.settings.payload_bucket, Key="books/logged.jsonl", Body="\n".join(lines).encode())
        logs = captured_logs(lambda: runner.invoke("IngestBooksFunction", upload_event("books/logged.jsonl")))
    with repository.pool.connection() as conn:
        conn.execute("DELETE FROM books WHERE book_id LIKE 'logged-%'")
    assert "books/logged.jsonl" in logs and '"imported":3' in logs.replace(" ", "")
    for line in lines:
        book = json.loads(line)
        assert book["title"] not in logs and book["summary"] not in logs
