"""The content stage's lab step (statemachine/course_content.asl.json, theory_and_labs courses only):
after the lessons are written, one lab per part, in parallel (the WriteLabs Map).

WriteLab -> the part's lab, grounded on the books the part cites and built on its written lessons,
into the payload bucket. BuildBook (services/lessons.py) puts each lab after its part's lessons in
the book and stores the rows. Payloads carry the course id and part index only; a lab already in
the bucket (a retry, a resume) is not asked of the model again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pydantic import BaseModel, Field

from coursegen.domain.labs import Lab, LabPlan, lab_books, lab_prompt, parse_lab, placeholder_lab, plan_labs
from coursegen.domain.lessons import Lesson, LessonPlan
from coursegen.errors import CoursegenError, InvalidInput, PayloadMissing
from coursegen.models import COURSE_ID_PATTERN, ContentMode, CourseState, Phase, StoredLab
from coursegen.ports import Llm, PayloadStore, StateStore
from coursegen.services.lessons import in_full, lesson_key, lesson_plans
from coursegen.services.outline import artifact_key, ask


class LabInput(BaseModel):
    """One item of the WriteLabs Map."""

    course_id: str = Field(pattern=COURSE_ID_PATTERN)
    part_index: int = Field(ge=0)


@dataclass(frozen=True)
class LabSettings:
    max_repairs: int = 2


def lab_key(state: CourseState, plan: LabPlan) -> str:
    """Where a lab's artifact lives: keyed by its plan too (as a lesson's is), so a resume whose
    outline changed writes the changed lab again instead of keeping the old one."""
    digest = hashlib.blake2b(json.dumps(plan.to_dict(), sort_keys=True).encode(), digest_size=6).hexdigest()
    return artifact_key(state, f"labs/{plan.lab_id}-{digest}.json")


def kept_lab(payloads: PayloadStore, state: CourseState, plan: LabPlan) -> dict | None:
    try:
        return json.loads(payloads.get_text(lab_key(state, plan)))
    except PayloadMissing:
        return None


def stored_labs(payloads: PayloadStore, state: CourseState, plans: list[LessonPlan]) -> list[StoredLab]:
    """The course's labs as BuildBook stores them, in part order ([] for a theory course). A lab
    not in the bucket is a PayloadMissing naming it, before anything is stored."""
    if state.content_mode != ContentMode.theory_and_labs:
        return []
    written = [(plan, kept_lab(payloads, state, plan)) for plan in plan_labs(plans)]
    missing = [plan for plan, kept in written if kept is None]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise PayloadMissing(f"Lab {missing[0].number} ({missing[0].lab_id}) was not written{more}.")
    return [
        StoredLab(lab_id=plan.lab_id, course_id=plan.course_id, part_index=plan.part_index, title=plan.part_title,
                  markdown=kept["markdown"], objective_ids=[o.objective_id for o in plan.objectives],
                  book_ids=kept["book_ids"], status=kept["status"])
        for plan, kept in written
    ]


class LabWorkflow:
    def __init__(self, *, llm: Llm, states: StateStore, payloads: PayloadStore, settings: LabSettings) -> None:
        self.llm = llm
        self.states = states
        self.payloads = payloads
        self.settings = settings

    # -- WriteLab ----------------------------------------------------------------------------
    def write_lab(self, step: LabInput) -> dict:
        # the phase announced; the state only read after that: sibling labs write at the same time
        state = self.states.load(step.course_id, entering=Phase.writing_labs.value)
        plans = lesson_plans(self.payloads, state)
        plan = next((lab for lab in plan_labs(plans) if lab.part_index == step.part_index), None)
        if plan is None:
            raise InvalidInput(f"Course {step.course_id} has no part {step.part_index + 1} to write a lab for.")
        written = {"part_index": step.part_index, "lab_written": False}
        if kept_lab(self.payloads, state, plan) is not None:  # written by an earlier run (a retry, a resume)
            return written
        part = [p for p in plans if p.part_index == step.part_index]
        if not any(in_full(state, p) for p in part):  # a preview: the part's lessons are placeholders
            self._keep(state, placeholder_lab(plan), status="placeholder")
            return written
        lessons = [lesson for p in part if (lesson := self._lesson(state, p)) is not None]
        books = state.book_summaries
        known = {book.book_id for book in lab_books(plan, books)}
        prompt = lab_prompt(plan, course_outline_context=state.course_outline_context, part_lessons=lessons,
                            books=books, preferences=state.pending_course_prefs, language=state.language)
        try:
            lab = ask(self.llm, prompt, lambda text: parse_lab(text, plan, known), self.settings.max_repairs)
        except CoursegenError as error:  # the same error name (Retry and Catch match it), the lab named
            raise type(error)(f"Lab {plan.number} ({plan.part_title[:80]}): {error}") from error
        self._keep(state, lab, status="full")
        return written | {"lab_written": True}

    # -- helpers -----------------------------------------------------------------------------
    def _lesson(self, state: CourseState, plan: LessonPlan) -> Lesson | None:
        """A written lesson of the lab's part, as GenerateBatchContent kept it."""
        try:
            saved = json.loads(self.payloads.get_text(lesson_key(state, plan)))
        except PayloadMissing:
            return None
        return Lesson(plan=plan, markdown=saved["markdown"], words=saved["words"], minutes=saved["minutes"],
                      book_ids=tuple(saved["book_ids"]))

    def _keep(self, state: CourseState, lab: Lab, status: str) -> None:
        kept = {"markdown": lab.markdown, "book_ids": list(lab.book_ids), "status": status}
        self.payloads.put_text(lab_key(state, lab.plan), json.dumps(kept))
