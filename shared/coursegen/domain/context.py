"""Text the prompts are built from: the book-summaries context and the outline hierarchy."""

from __future__ import annotations

import json
from collections.abc import Sequence

from typing import TYPE_CHECKING

from coursegen.models import BookSummary, CourseOutline, FoundBook, OutlinePart, Pace, Part

if TYPE_CHECKING:  # lessons.py imports this module; the type is only named here
    from coursegen.domain.lessons import Lesson


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


FIRST_LESSON = "(this is the first lesson of its part)"
MAX_PREVIOUS_IN_FULL = 6  # earlier lessons beyond these keep only their marker line: the context stays bounded
# How a lesson is delivered at each pace, the words a minute it is written for filled in.
DELIVERY_TEXT = {
    Pace.relaxed: "read aloud as an unhurried lecture, about {wpm} words a minute, with pauses for reflection",
    Pace.moderate: "read aloud as a lecture, about {wpm} words a minute, with a worked example to follow",
    Pace.intensive: "read aloud as a dense briefing, about {wpm} words a minute",
}


def format_previous_lectures(lessons: Sequence["Lesson"], pace: Pace) -> str:
    """The earlier lessons of a part as the next lesson's prompt sees them (seed 000's
    format_previous_lectures): a section marker line per lesson, its objectives and key takeaways
    (never its whole text), and the delivery line mapping the pace to how lessons are delivered."""
    if not lessons:
        return FIRST_LESSON
    from coursegen.domain.lessons import WORDS_PER_MINUTE  # lessons.py imports this module

    pace = Pace(pace)
    wpm = WORDS_PER_MINUTE[pace]
    ordered = sorted(lessons, key=lambda lesson: lesson.plan.lesson_index)
    lines = [f"Delivery: {pace.value} pace: each lesson is {DELIVERY_TEXT[pace].format(wpm=wpm)}."]
    for position, lesson in enumerate(ordered):
        plan = lesson.plan
        lines.append("")
        lines.append(f"=== Lesson {plan.number}: {plan.title} ({plan.minutes} min) ===")
        if position < len(ordered) - MAX_PREVIOUS_IN_FULL:
            lines.append("(an earlier lesson: its objectives and takeaways are left out to keep this context short)")
            continue
        lines.append(f"Delivered: {lesson.words} words, {lesson.minutes:g} min at {wpm} words a minute")
        lines.append("Objectives:")
        lines.extend(f"- [{o.objective_id}] {o.text}" for o in plan.objectives)
        takeaways = lesson.key_takeaways()
        if takeaways:
            lines.append("Key takeaways:")
            lines.extend(f"- {t}" for t in takeaways)
    return "\n".join(lines)
