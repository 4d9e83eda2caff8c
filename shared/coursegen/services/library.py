"""Importing book summaries: validate each JSONL line, embed the valid ones, upsert by book_id.

A bad line is reported by number with the reason and skipped; the rest are imported. Importing
the same file again updates those books and never duplicates them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from coursegen.models import BookSummary, describe_validation_error
from coursegen.ports import BookRepository, Embedder, PayloadStore

BATCH = 64


@dataclass
class ImportReport:
    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    def to_dict(self) -> dict:
        return {
            "imported": self.imported,
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
) -> ImportReport:
    valid, rejected = parse_library_lines(lines)
    report = ImportReport(rejected=rejected)
    for start in range(0, len(valid), BATCH):
        batch = [book for _, book in valid[start:start + BATCH]]
        vectors = embedder.embed([embedding_text(book) for book in batch])
        report.imported += books.upsert_books(batch, vectors, embedder.model_id)
        if on_progress:
            on_progress(report.imported, len(valid))
    return report


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

    def ingest(self, key: str) -> dict:
        if not (key.startswith(self.PREFIX) and key.endswith(".jsonl")):
            return {"key": key, "skipped": "not a books/*.jsonl upload"}
        report = import_library(self.payloads.get_text(key).splitlines(), self.embedder, self.books)
        document = {"source": key, "embedding_model": self.embedder.model_id, **report.to_dict()}
        self.payloads.put_text(report_key(key), json.dumps(document, indent=2))
        return {"key": key, "report": report_key(key), "imported": report.imported, "rejected": len(report.rejected)}
