"""IngestBooks: a books/*.jsonl upload becomes books in the library and a report next to it;
the handler gets the EventBridge S3 event the template's rule delivers. Books go in bounded
batches, a retried or continued import re-embeds only the books not stored yet, and a file too
large for one invocation is continued by the next."""

import json
from pathlib import Path

import boto3
import pytest

from coursegen.services.library import import_library, report_key
from coursegen_local import runner as runner_module
from coursegen_local.runner import LocalRunner

EVENT = json.loads((Path(__file__).resolve().parents[2] / "events" / "ingest_books.json").read_text())


def upload_event(key: str) -> dict:
    event = json.loads(json.dumps(EVENT))
    event["detail"]["object"]["key"] = key
    return event


class CountingEmbedder:
    """The real embedder, counting its calls and texts; it can crash on a given call, as a
    Lambda killed mid-file would stop."""

    def __init__(self, embedder, crash_on_call: int | None = None, model_id: str | None = None) -> None:
        self.embedder = embedder
        self.model_id = model_id or embedder.model_id
        self.dimension = embedder.dimension
        self.crash_on_call = crash_on_call
        self.calls: list[int] = []  # texts per call

    def embed(self, texts):
        if len(self.calls) + 1 == self.crash_on_call:
            raise RuntimeError("killed mid-file")
        self.calls.append(len(texts))
        return self.embedder.embed(texts)


def library_lines(prefix: str, count: int) -> list[str]:
    return [json.dumps({"book_id": f"{prefix}-{i:04d}", "title": f"Book {i} on capital budgeting",
                        "summary": f"Book {i}: how to rank projects by net present value and payback, chapter by chapter."})
            for i in range(count)]


@pytest.fixture
def forget(repository):
    """Deletes the books a test stored, by book_id prefix."""
    prefixes: list[str] = []
    yield prefixes.append
    with repository.pool.connection() as conn:
        for prefix in prefixes:
            conn.execute("DELETE FROM books WHERE book_id LIKE %s", (f"{prefix}-%",))


def test_an_upload_is_ingested_reported_and_a_reupload_never_duplicates(repository, embedder, forget):
    forget("ing")
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
        assert result == {"key": "books/upload.jsonl", "report": "books/upload.jsonl.report.json", "complete": True,
                          "imported": 2, "embedded": 2, "unchanged": 0, "batches": 1, "rejected": 1}
        report = json.loads(s3.get_object(Bucket=bucket, Key=report_key("books/upload.jsonl"))["Body"].read())
        assert report["rejected"] == [{"line": 2, "reason": report["rejected"][0]["reason"]}]
        assert "not JSON" in report["rejected"][0]["reason"]
        assert report["complete"] is True and report["next_line"] is None

        again = runner.invoke("IngestBooksFunction", upload_event("books/upload.jsonl"))
        assert repository.count_books() == before + 2
        assert (again["imported"], again["embedded"], again["unchanged"], again["batches"]) == (2, 0, 2, 1)

        skipped = runner.invoke("IngestBooksFunction", upload_event("books/upload.jsonl.report.json"))
        assert "skipped" in skipped


def test_a_retry_after_a_crash_mid_file_embeds_only_the_missing_books_in_bounded_batches(repository, embedder, forget):
    forget("retry")
    lines = library_lines("retry", 10)
    crashing = CountingEmbedder(embedder, crash_on_call=3)
    with pytest.raises(RuntimeError, match="killed mid-file"):
        import_library(lines, crashing, repository, batch_size=3)
    assert crashing.calls == [3, 3]  # two batches stored before the crash

    retry = CountingEmbedder(embedder)
    report = import_library(lines, retry, repository, batch_size=3)
    assert retry.calls == [3, 1]  # the 4 missing books, in batches of at most 3
    assert (report.imported, report.embedded, report.unchanged, report.batches, report.complete) == (10, 4, 6, 4, True)

    unchanged = CountingEmbedder(embedder)
    assert import_library(lines, unchanged, repository, batch_size=3).unchanged == 10
    assert unchanged.calls == []


def test_a_changed_book_or_another_embedding_model_is_embedded_again(repository, embedder, forget):
    forget("edit")
    lines = library_lines("edit", 4)
    import_library(lines, embedder, repository)
    edited = json.loads(lines[2]) | {"year": 2020}  # not in the embedded text, but stored: upserted again
    counting = CountingEmbedder(embedder)
    report = import_library([*lines[:2], json.dumps(edited), lines[3]], counting, repository)
    assert counting.calls == [1] and report.embedded == 1 and report.unchanged == 3

    other_model = CountingEmbedder(embedder, model_id="another-model-256")
    assert import_library(lines, other_model, repository).embedded == 4
    assert other_model.calls == [4]


def test_a_file_too_large_for_one_invocation_stops_in_time_and_the_next_goes_on(repository, embedder, forget, monkeypatch):
    forget("big")
    lines = library_lines("big", 150)  # three batches of 64, 64 and 22
    asked = []

    def one_batch_of_time(context) -> int:
        asked.append(1)
        return 600_000 if len(asked) == 1 else 5_000  # then 5 s: less than the 30 s kept for the report

    counting = CountingEmbedder(embedder)
    with LocalRunner(database=repository, embedder=counting) as runner:
        s3 = boto3.client("s3", region_name="us-east-1")
        bucket = runner.container.settings.payload_bucket
        s3.put_object(Bucket=bucket, Key="books/big.jsonl", Body="\n".join(lines).encode())
        with monkeypatch.context() as patch:
            patch.setattr(runner_module.LambdaContext, "get_remaining_time_in_millis", one_batch_of_time)
            first = runner.invoke("IngestBooksFunction", upload_event("books/big.jsonl"))
        assert (first["complete"], first["embedded"], first.get("continued")) == (False, 64, True)
        report = json.loads(s3.get_object(Bucket=bucket, Key=report_key("books/big.jsonl"))["Body"].read())
        assert (report["complete"], report["next_line"]) == (False, 65)
        # the continuation: the upload copied onto itself, a new version, so S3 raises a new event
        assert s3.head_object(Bucket=bucket, Key="books/big.jsonl")["Metadata"] == {"coursegen-continued": "true"}
        assert len(s3.list_object_versions(Bucket=bucket, Prefix="books/big.jsonl")["Versions"]) == 2

        second = runner.invoke("IngestBooksFunction", upload_event("books/big.jsonl"))
        assert (second["complete"], second["embedded"], second["unchanged"], "continued" in second) == (True, 86, 64, False)
    assert counting.calls == [64, 64, 22]  # every book embedded once, in bounded batches
    with repository.pool.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM books WHERE book_id LIKE 'big-%'").fetchone()["n"] == 150


def test_an_invocation_that_stores_nothing_is_not_continued(repository, embedder, forget, monkeypatch):
    """Each continuation follows progress, so the chain ends: no time at all stores nothing and
    raises no new event."""
    forget("late")
    with LocalRunner(database=repository, embedder=embedder) as runner:
        s3 = boto3.client("s3", region_name="us-east-1")
        bucket = runner.container.settings.payload_bucket
        s3.put_object(Bucket=bucket, Key="books/late.jsonl", Body="\n".join(library_lines("late", 3)).encode())
        monkeypatch.setattr(runner_module.LambdaContext, "get_remaining_time_in_millis", lambda context: 1_000)
        result = runner.invoke("IngestBooksFunction", upload_event("books/late.jsonl"))
        assert (result["complete"], result["embedded"], "continued" in result) == (False, 0, False)
        assert s3.head_object(Bucket=bucket, Key="books/late.jsonl")["Metadata"] == {}
