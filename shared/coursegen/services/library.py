"""Importing book summaries: validate each JSONL line, embed the valid ones, upsert by book_id.

A bad line is reported by number with the reason and skipped; the rest are imported. Importing
the same file again updates the books that changed and never duplicates them. Books go in
batches: one embedder call and one upsert per batch, so a crash loses at most the batch under
way, and a book already stored with the same content and embedding model is not embedded
again - a retried or continued import re-embeds only what is missing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from coursegen.models import BookSummary, describe_validation_error
from coursegen.ports import BookRepository, Embedder, PayloadStore

BATCH = 64  # books per embedder call and per upsert (Titan v2: 64 calls, a few seconds)
REPORT_SECONDS = 30  # kept in hand after the last batch: the report write and the continuation


@dataclass
class ImportReport:
    imported: int = 0  # valid books of the file in the library now: embedded + unchanged
    embedded: int = 0  # embedded and upserted by this run
    unchanged: int = 0  # stored already with the same content and embedding model: skipped
    batches: int = 0  # batches gone through; each makes at most one embedder call
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    next_line: int | None = None  # where a run stopped early resumes; None once every line is done

    @property
    def complete(self) -> bool:
        return self.next_line is None

    def to_dict(self) -> dict:
        return {
            "complete": self.complete,
            "next_line": self.next_line,
            "imported": self.imported,
            "embedded": self.embedded,
            "unchanged": self.unchanged,
            "batches": self.batches,
            "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected],
        }


def embedding_text(book: BookSummary) -> str:
    """What a book is found by: its title, subject, topics and summary."""
    return "\n".join(filter(None, [book.title, book.subject, "; ".join(book.key_topics), book.summary]))


def parse_library_lines(lines: Iterable[str]) -> tuple[list[tuple[int, BookSummary]], list[tuple[int, str]]]:
    books: list[tuple[int, BookSummary]] = []
    rejected: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError as error:
            rejected.append((number, f"not JSON: {error.msg} at column {error.colno}"))
            continue
        except RecursionError:
            rejected.append((number, "not JSON this importer reads: nested too deeply"))
            continue
        except ValueError:  # json refuses integers of over 4,300 digits
            rejected.append((number, "not JSON this importer reads: a number too long"))
            continue
        try:
            book = BookSummary.model_validate(parsed)
        except ValidationError as error:
            rejected.append((number, describe_validation_error(error, whole="line")))
            continue
        if book.book_id in seen:
            rejected.append((number, f"book_id {book.book_id!r} repeats line {seen[book.book_id]}"))
            continue
        seen[book.book_id] = number
        books.append((number, book))
    return books, rejected


def import_library(
    lines: Iterable[str],
    embedder: Embedder,
    books: BookRepository,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    batch_size: int = BATCH,
    stop: Callable[[], bool] | None = None,
) -> ImportReport:
    """Import the valid lines in batches of `batch_size`. `stop` is asked before each batch; when it
    says so the run ends there and the report's next_line says where the rest begins."""
    valid, rejected = parse_library_lines(lines)
    report = ImportReport(rejected=rejected)
    for start in range(0, len(valid), batch_size):
        if stop is not None and stop():
            report.next_line = valid[start][0]
            break
        batch = [book for _, book in valid[start:start + batch_size]]
        stored = books.unchanged_book_ids(batch, embedder.model_id)
        missing = [book for book in batch if book.book_id not in stored]
        if missing:
            vectors = embedder.embed([embedding_text(book) for book in missing])
            books.upsert_books(missing, vectors, embedder.model_id)
            report.embedded += len(missing)
        report.batches += 1
        report.unchanged += len(batch) - len(missing)
        report.imported = report.embedded + report.unchanged
        if on_progress:
            on_progress(report.imported, len(valid))
    return report


class TimeBudget:
    """`stop` for import_library in a Lambda: stop before a batch that might not end in time, i.e.
    when less than the slowest batch so far plus REPORT_SECONDS is left. Asked once per batch,
    so the time between two calls is one batch."""

    def __init__(self, seconds_left: Callable[[], float], reserve: float = REPORT_SECONDS) -> None:
        self.seconds_left = seconds_left
        self.reserve = reserve
        self.slowest = 0.0
        self._asked: float | None = None

    def __call__(self) -> bool:
        now = time.monotonic()
        if self._asked is not None:
            self.slowest = max(self.slowest, now - self._asked)
        self._asked = now
        return self.seconds_left() < self.slowest + self.reserve


def report_key(upload_key: str) -> str:
    """The report sits next to the upload: books/x.jsonl -> books/x.jsonl.report.json."""
    return f"{upload_key}.report.json"


class LibraryIngestion:
    """A JSONL file uploaded under books/ in the payload bucket becomes books in the library."""

    PREFIX = "books/"

    def __init__(self, *, payloads: PayloadStore, embedder: Embedder, books: BookRepository) -> None:
        self.payloads = payloads
        self.embedder = embedder
        self.books = books

    def ingest(self, key: str, seconds_left: Callable[[], float] | None = None) -> dict:
        """Import the upload and write its report. With `seconds_left` (a Lambda's remaining time) the
        import stops in time and says so ("complete": false); the same call again goes on with the
        books not yet stored."""
        if not (key.startswith(self.PREFIX) and key.endswith(".jsonl")):
            return {"key": key, "skipped": "not a books/*.jsonl upload"}
        stop = TimeBudget(seconds_left) if seconds_left else None
        report = import_library(self.payloads.get_text(key).splitlines(), self.embedder, self.books, stop=stop)
        document = {"source": key, "embedding_model": self.embedder.model_id, **report.to_dict()}
        self.payloads.put_text(report_key(key), json.dumps(document, indent=2))
        return {"key": key, "report": report_key(key), "complete": report.complete, "imported": report.imported,
                "embedded": report.embedded, "unchanged": report.unchanged, "batches": report.batches,
                "rejected": len(report.rejected)}
