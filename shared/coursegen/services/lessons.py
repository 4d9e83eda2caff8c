"""The content stage's steps (statemachine/course_content.asl.json): every section of the stored
outline becomes a grounded lesson, written in batches that run in parallel.

PlanLessons -> one lesson plan per section (objectives assigned once, by a registry) and the
batches the Map iterates; GenerateBatchContent -> the lessons of one batch, one after another,
each seeing the earlier lessons of its part that are written and the objectives covered before
it; BuildBook -> the lessons into PostgreSQL and the whole book (Markdown, HTML, EPUB) into S3.
Lesson text lives in the payload bucket: payloads carry ids, counts and indexes only.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from pydantic import BaseModel, Field

from coursegen.domain.artifacts import book_key
from coursegen.domain.book import book_epub, book_html, book_markdown, figure_file
from coursegen.domain.labs import plan_labs
from coursegen.domain.lessons import (
    BATCH_FIELDS, Lesson, LessonPlan, expand_batches, lesson_prompt, parse_lesson, placeholder_lesson, plan_lessons,
)
from coursegen.errors import CoursegenError, PayloadMissing
from coursegen.models import COURSE_ID_PATTERN, ContentMode, Phase, StoredLesson
from coursegen.ports import EventPublisher, LessonRepository, Llm, PayloadStore, StateStore
from coursegen.services.outline import artifact_key, ask, stored_outline

log = logging.getLogger(__name__)


def book_keys(course_id: str) -> dict[str, str]:
    """Where the built book lives, by format (a rebuild replaces it)."""
    return {fmt: book_key(course_id, f"course.{fmt}") for fmt in ("md", "html", "epub")}


class ContentInput(BaseModel):
    course_id: str = Field(pattern=COURSE_ID_PATTERN)
    max_lessons_per_batch: int = Field(3, ge=1, le=20)


class BatchInput(BaseModel):
    """One item of the Map: seed 003's batch fields, and nothing else."""

    course_id: str = Field(pattern=COURSE_ID_PATTERN)
    module_number: int = Field(ge=1)
    batch_index: int = Field(ge=1)
    total_batches: int = Field(ge=1)
    batch_start_idx: int = Field(ge=0)
    batch_end_idx: int = Field(ge=1)


@dataclass(frozen=True)
class LessonSettings:
    max_repairs: int = 2


class LessonWorkflow:
    def __init__(self, *, llm: Llm, states: StateStore, payloads: PayloadStore, lessons: LessonRepository,
                 events: EventPublisher, settings: LessonSettings) -> None:
        self.llm = llm
        self.states = states
        self.payloads = payloads
        self.lessons = lessons
        self.events = events
        self.settings = settings

    # -- PlanLessons -----------------------------------------------------------------------
    def plan_lessons(self, step: ContentInput) -> dict:
        state = self.states.load(step.course_id, entering=Phase.planning_lessons.value)
        plans = plan_lessons(step.course_id, stored_outline(state))
        self.payloads.put_text(artifact_key(state, "lessons/plan.json"), json.dumps([p.to_dict() for p in plans]))
        state.progress.lessons_total = len(plans)
        state.phase = Phase.estimating if state.dry_run else Phase.writing_lessons
        self.states.save(state)
        # the WriteLabs Map's items: every part's index, for a course with labs
        labs = [lab.part_index for lab in plan_labs(plans)] if state.content_mode == ContentMode.theory_and_labs else []
        return {"lessons_total": len(plans), "dry_run": state.dry_run, "content_mode": state.content_mode.value,
                "lab_parts": labs}

    # -- ExpandLessonsToBatches ----------------------------------------------------------------
    def expand_to_batches(self, step: ContentInput) -> dict:
        """Seed 003's BatchExpander: per part, ceil(lessons / N) batches, one flat list."""
        state = self.states.load(step.course_id, include_text=False)
        batches = expand_batches(lesson_plans(self.payloads, state), step.max_lessons_per_batch)
        # Each batch as its BATCH_FIELDS' values, in that order: the list stays in the stage's
        # state to its end, and a 40-part course has 80 batches (the Map's ItemSelector names them).
        return {"batches_total": len(batches), "batches": [[batch[f] for f in BATCH_FIELDS] for batch in batches]}

    # -- GenerateBatchContent ----------------------------------------------------------------
    def generate_batch(self, batch: BatchInput) -> dict:
        state = self.states.load(batch.course_id)  # read only: sibling batches write at the same time
        plans = self._plans(state)
        part = [p for p in plans if p.part_index == batch.module_number - 1]
        books = {book.book_id: book for book in state.book_summaries}
        known = set(books)
        written = 0
        for plan in part[batch.batch_start_idx: batch.batch_end_idx]:
            if (kept := self._kept(state, plan)) is not None:
                # Written by an earlier run (a retry, a resume): its count and its event again if that
                # run died before them (both idempotent for a consumer: the count is a SET by index).
                self.states.record_lesson_done(batch.course_id, plan.lesson_index, kept["words"])
                if kept.get("status") == "full" and not kept.get("announced"):
                    self._announce(state, plan, kept)
                continue
            if not in_full(state, plan):
                lesson = placeholder_lesson(plan)
                self._keep(state, lesson, status="placeholder")
                self.states.record_lesson_done(batch.course_id, plan.lesson_index, lesson.words)
                continue
            previous = [lesson for p in part if p.section_index < plan.section_index
                        if (lesson := self._lesson(state, p)) is not None]
            covered = [objective for p in plans if p.lesson_index < plan.lesson_index for objective in p.objectives]
            cited = [books[book_id] for book_id in plan.book_ids if book_id in books] or list(books.values())
            prompt = lesson_prompt(
                plan, course_outline_context=state.course_outline_context, previous_lessons=previous,
                covered_objectives=covered, books=cited, preferences=state.pending_course_prefs, language=state.language,
            )
            pace = state.pending_course_prefs.pace
            try:
                lesson = ask(self.llm, prompt, lambda text: parse_lesson(text, plan, known, pace), self.settings.max_repairs)
            except CoursegenError as error:  # the same error name (Retry and Catch match it), the lesson named
                raise type(error)(f"Lesson {plan.number} ({plan.title[:80]}): {error}") from error
            kept = self._keep(state, lesson)
            self.states.record_lesson_done(batch.course_id, plan.lesson_index, lesson.words)
            written += 1
            self._announce(state, plan, kept)
        return {"module_number": batch.module_number, "batch_index": batch.batch_index, "lessons_written": written}

    # -- BuildBook ---------------------------------------------------------------------------
    def build_book(self, step: ContentInput) -> dict:
        state = self.states.load(step.course_id, entering=Phase.building_book.value)
        plans = self._plans(state)
        stored = self._latest_rows(state.course_id)
        known = {book.book_id for book in state.book_summaries}
        written = []
        for plan in plans:
            kept = self._kept(state, plan)
            row = stored.get(_section(plan))
            if row is not None and row.revision > (kept or {}).get("revision", 1):
                # A reviewer's rewrite that the bucket lost (a re-run wrote the section again, as
                # revision 1): it stands. GenerateBatchContent cannot see it (no database there).
                kept = self._keep_stored_revision(state, plan, row, known) or kept
            written.append((plan, kept))
        missing = [plan for plan, kept in written if kept is None]
        if missing:  # before any row is stored: a missing lesson leaves no partial book in PostgreSQL
            plan = missing[0]
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise PayloadMissing(f"Lesson {plan.number} ({plan.lesson_id}) was not written{more}.")
        rows = [
            StoredLesson(
                lesson_id=stored_lesson_id(plan, kept.get("revision", 1)), course_id=plan.course_id,
                part_index=plan.part_index, section_index=plan.section_index, lesson_index=plan.lesson_index,
                title=plan.title, markdown=kept["markdown"], words=kept["words"], minutes=kept["minutes"],
                objective_ids=[o.objective_id for o in plan.objectives], book_ids=list(kept["book_ids"]),
                status="full" if in_full(state, plan) else "placeholder", revision=kept.get("revision", 1),
            )
            for plan, kept in written
        ]
        from coursegen.services.labs import stored_labs  # labs.py builds on this module

        labs = stored_labs(self.payloads, state, plans)  # [] for a theory course
        from coursegen.services.visuals import lesson_figures  # visuals.py builds on this module

        # the one writer of selected_lecture_figures: the batches' figures, gathered in course order
        figures, state.selected_lecture_figures = lesson_figures(self.payloads, state, plans)
        # The book first, then the rows: the lessons are readable (GET /lessons) only once the
        # course is whole, which lessons_complete says.
        write_book(self.payloads, state, plans, rows, labs, figures)
        # idempotent per (course, section or part, revision): a rewritten section keeps its earlier
        # revisions; what an earlier outline had goes
        self.lessons.store_content(state.course_id, rows, labs)
        state.lessons_complete = True
        self.states.save(state)
        return {"lessons": len(rows), "full_lessons": sum(row.status == "full" for row in rows),
                "words": sum(row.words for row in rows), "labs": len(labs)}

    # -- helpers -----------------------------------------------------------------------------
    def _plans(self, state) -> list[LessonPlan]:
        return lesson_plans(self.payloads, state)

    def _announce(self, state, plan: LessonPlan, kept: dict) -> None:
        """course.lesson.generated, then the lesson marked announced (a re-run does not announce it again)."""
        self.events.publish("course.lesson.generated", {
            "course_id": plan.course_id,
            "lesson_id": plan.lesson_id,
            "lesson_title": plan.title[:200],
            "module_id": f"part-{plan.part_index + 1}",
            "content_length": len(kept["markdown"]),
            "lesson_index": plan.lesson_index + 1,
        })
        self.payloads.put_text(lesson_key(state, plan), json.dumps(kept | {"announced": True}))

    def _latest_rows(self, course_id: str) -> dict[tuple[int, int], StoredLesson]:
        return {_section(row): row for row in self.lessons.list_lessons(course_id)}

    def _keep_stored_revision(self, state, plan: LessonPlan, row: StoredLesson | None, known: set[str]) -> dict | None:
        """A reviewer's rewrite of this section that PostgreSQL holds (revision > 1), made the
        lesson's artifact again, if it is still this plan's lesson: the same title, and a text that
        passes parse_lesson for the plan as it is now (objectives, books, length at the pace). None
        otherwise: the section's text stands, and store_content drops the stale revision."""
        if row is None or row.revision <= 1 or row.status != "full" or row.title != plan.title or not in_full(state, plan):
            return None
        parsed = parse_lesson(row.markdown, plan, known, state.pending_course_prefs.pace)
        if not parsed.ok or parsed.value is None:
            return None
        lesson = parsed.value
        # its course.lesson.generated went out when it was rewritten
        kept = {"markdown": lesson.markdown, "words": lesson.words, "minutes": lesson.minutes,
                "book_ids": list(lesson.book_ids), "status": "full", "revision": row.revision,
                "lesson_id": row.lesson_id, "announced": True}
        self.payloads.put_text(lesson_key(state, plan), json.dumps(kept))
        return kept

    def _kept(self, state, plan: LessonPlan) -> dict | None:
        try:
            return json.loads(self.payloads.get_text(lesson_key(state, plan)))
        except PayloadMissing:
            return None

    def _lesson(self, state, plan: LessonPlan) -> Lesson | None:
        try:
            return written_lesson(self.payloads, state, plan)
        except PayloadMissing:
            return None

    def _keep(self, state, lesson: Lesson, status: str = "full") -> dict:
        kept = {"markdown": lesson.markdown, "words": lesson.words, "minutes": lesson.minutes,
                "book_ids": list(lesson.book_ids), "status": status}
        self.payloads.put_text(lesson_key(state, lesson.plan), json.dumps(kept))
        return kept


def _section(item) -> tuple[int, int]:
    return item.part_index, item.section_index


def stored_lesson_id(plan: LessonPlan, revision: int) -> str:
    """The row id of a section's revision: the plan's for the first writing (the id a course's
    lessons always had), StoredLesson.id_for for a reviewer's rewrite."""
    if revision <= 1:
        return plan.lesson_id
    return StoredLesson.id_for(plan.course_id, plan.part_index, plan.section_index, revision)


def write_book(payloads: PayloadStore, state, plans: list[LessonPlan], rows: list[StoredLesson], labs,
               figures: dict) -> None:
    """The whole book (Markdown, HTML, EPUB) and its figures into S3, from these rows (a rebuild
    replaces it). figures: by the plan's lesson id, as lesson_figures gathers them; each goes with
    its section's row, whatever that row's revision."""
    by_plan = {_section(plan): plan.lesson_id for plan in plans}
    figures = {row.lesson_id: figure for row in rows if (figure := figures.get(by_plan.get(_section(row))))}
    title = state.course_title
    parts = {plan.part_index: plan.part_title for plan in plans}
    keys = book_keys(state.course_id)
    payloads.put_text(keys["md"], book_markdown(title, rows, language=state.language, part_titles=parts, labs=labs,
                                                figures=figures),
                      "text/markdown; charset=utf-8")
    payloads.put_text(keys["html"], book_html(title, rows, state.language, part_titles=parts, labs=labs, figures=figures),
                      "text/html; charset=utf-8")
    payloads.put_bytes(keys["epub"], book_epub(title, rows, state.language, part_titles=parts, labs=labs, figures=figures),
                       "application/epub+zip")
    for row in rows:  # the Markdown's figure references, beside it
        if row.lesson_id in figures:
            payloads.put_text(book_key(state.course_id, figure_file(row)), figures[row.lesson_id].svg, "image/svg+xml")


def lesson_key(state, plan: LessonPlan) -> str:
    """Where a lesson's artifact lives: keyed by its plan too (title, minutes, objectives, books),
    so a resume whose outline changed writes the changed lesson again instead of keeping the old."""
    digest = hashlib.blake2b(json.dumps(plan.to_dict(), sort_keys=True).encode(), digest_size=6).hexdigest()
    return artifact_key(state, f"lessons/{plan.lesson_id}-{digest}.json")


def lesson_plans(payloads: PayloadStore, state) -> list[LessonPlan]:
    """The plan PlanLessons wrote, in course order."""
    return [LessonPlan.from_dict(d) for d in json.loads(payloads.get_text(artifact_key(state, "lessons/plan.json")))]


def written_lesson(payloads: PayloadStore, state, plan: LessonPlan) -> Lesson:
    """A lesson as its batch wrote it (PayloadMissing, naming it, if it was not)."""
    saved = json.loads(payloads.get_text(lesson_key(state, plan)))
    return Lesson(plan=plan, markdown=saved["markdown"], words=saved["words"], minutes=saved["minutes"],
                  book_ids=tuple(saved["book_ids"]))


def in_full(state, plan: LessonPlan) -> bool:
    """The request's full_lessons_count: the first N lessons, in course order, are written in full."""
    return state.full_lessons_count is None or plan.lesson_index < state.full_lessons_count
