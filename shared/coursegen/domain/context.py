"""Text the prompts are built from: the book-summaries context and the outline hierarchy."""

from __future__ import annotations

import json
from collections.abc import Sequence

from coursegen.models import BookSummary, CourseOutline, FoundBook, OutlinePart, Part


def book_refs(books: Sequence[BookSummary]) -> dict[str, str]:
    """The citations a model may use: each book's own id, in brackets ('[fin-001]').
    Parsing keeps only these, so a model cannot cite a book that was not retrieved."""
    return {book.book_id.upper(): book.book_id for book in books}


def format_book_summaries(books: Sequence[BookSummary]) -> str:
    """The retrieved summaries as the model reads them: a ref, the bibliographic line, topics, summary."""
    if not books:
        return "(no book summaries were found)"
    blocks = []
    for book in books:
        byline = ", ".join(str(x) for x in (book.author, book.year) if x)
        lines = [f"[{book.book_id}] {book.title}" + (f" — {byline}" if byline else "")]
        if book.subject:
            lines.append(f"Subject: {book.subject}")
        if isinstance(book, FoundBook):
            lines.append(f"Relevance: {book.similarity:.2f}")
        if book.key_topics:
            lines.append("Key topics: " + "; ".join(book.key_topics))
        lines.append(f"Summary: {book.summary}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def book_summaries_json(books: Sequence[BookSummary]) -> str:
    """The seeds keep the summaries as a JSON string in the state; stable key order, UTF-8."""
    return json.dumps([book.model_dump(mode="json") for book in books], ensure_ascii=False, sort_keys=True)


def format_parts_plan(parts: Sequence[Part], highlight: int | None = None) -> str:
    """The plan every expansion sees, so parallel parts know their siblings."""
    lines = []
    for part in parts:
        marker = "  (this part)" if part.index == highlight else ""
        lines.append(f"Part {part.index + 1}: {part.title} ({part.minutes} minutes){marker}")
        if part.description:
            lines.append(f"Covers: {part.description}")
    return "\n".join(lines)


def format_sibling_parts(parts: Sequence[Part], index: int) -> str:
    others = [f"- Part {p.index + 1}: {p.title}" + (f" (covers: {p.description})" if p.description else "")
              for p in parts if p.index != index]
    if not others:
        return "This is the only part: it covers the whole course."
    return "The other parts are written in parallel by other authors; do not repeat their content:\n" + "\n".join(others)


def format_outline_part(part: OutlinePart) -> str:
    lines = [f"## Part {part.index + 1}: {part.title} ({part.minutes} minutes)"]
    for section in part.sections:
        lines.append(f"### Section {part.index + 1}.{section.index + 1}: {section.title} ({section.minutes} minutes)")
        if section.objectives:
            lines.append("Objectives: " + "; ".join(section.objectives))
        if section.book_ids:
            lines.append("Sources: " + ", ".join(f"[{book_id}]" for book_id in section.book_ids))
    return "\n".join(lines)


def format_course_outline(outline: CourseOutline) -> str:
    """Part/section hierarchy, the way the outline prompts and the stored course read it."""
    body = "\n\n".join(format_outline_part(part) for part in outline.parts)
    return f"Course: {outline.title}\n\n{body}\n\nTotal: {outline.total_minutes} minutes\n"
