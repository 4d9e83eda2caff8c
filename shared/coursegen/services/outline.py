"""The outline workflow's steps. Each Lambda handler calls exactly one method here.

Each step loads what it needs by course id (state store, payload bucket), does its one thing,
saves, and returns a small dict for the execution payload: ids, counts, numbers — never text.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, Field

from coursegen.domain.context import (
    book_refs,
    book_summaries_json,
    format_book_summaries,
    format_course_outline,
    format_outline_part,
    format_parts_plan,
    format_sibling_parts,
)
from coursegen.domain.events import TEMPLATE_ID, clipped, requested_fields
from coursegen.domain.grounding import course_subject, no_books_message
from coursegen.domain.outline_edit import check_course_outline_edit, check_outline_feedback
from coursegen.domain.parsing import ParseResult, parse_outline_total_time, parse_parts_text, parse_text_outline_to_database
from coursegen.domain.prompts import Prompt, format_reviewer_feedback, learner_profile, render_prompt
from coursegen.domain.status import one_readable_line, underlying_error
from coursegen.domain.time_budget import TimeCheck, check_time, plan_guidance
from coursegen.errors import LlmOutputInvalid, NoBooksFound, OutlineInvalid, PayloadMissing, StateMissing
from coursegen.models import COURSE_ID_PATTERN, CourseOutline, CourseState, OutlinePart, Phase, Progress, WorkflowInput, utc_now
from coursegen.ports import BookRepository, CourseRepository, Embedder, Llm, PayloadStore, StateStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class StepInput(BaseModel):
    course_id: str = Field(pattern=COURSE_ID_PATTERN)


class PartInput(StepInput):
    part_index: int = Field(ge=0)


class FailureInput(StepInput):
    errors: dict[str, dict] = Field(
        default_factory=dict, description="{FailedStateName: {Error, Cause}}: each Catch writes under its state's name"
    )


# The phase a failure is reported in, by the state that failed: right even when the step died
# before it could announce its phase (a crash at import, a step that never started).
PHASE_OF_STATE = {
    "RecordRequest": Phase.queued,
    "EmbedQuery": Phase.embedding,
    "SearchBooks": Phase.searching_books,
    "PlanParts": Phase.planning_parts,
    "ExpandParts": Phase.generating_sections,
    "AssembleOutline": Phase.assembling_outline,
    "ReviewOutline": Phase.reviewing_outline,
    "StoreCourse": Phase.storing,
    "AwaitOutlineApproval": Phase.awaiting_outline_approval,
    "ApplyOutlineDecision": Phase.awaiting_outline_approval,
    "RecordComplete": Phase.storing,
}

REVIEW_MIN_TOKENS = 4000


@dataclass(frozen=True)
class OutlineSettings:
    top_k: int = 8
    min_similarity: float = 0.28  # docs/grounding-calibration.md (make calibrate)
    max_repairs: int = 2


def artifact_key(state: CourseState, name: str) -> str:
    """Where a step's output for this course and this request lives. Keyed by the request's
    fingerprint: a re-run of the same request (a resume) finds and reuses it; another request
    under the same course id does not."""
    return f"courses/{state.course_id}/{state.request_fingerprint[:16]}/{name}"


def part_key(state: CourseState, part_index: int) -> str:
    """A part's sections belong to one plan: keyed by the plan too, a new plan reuses none of them;
    and by the review feedback it was re-planned after, so a re-plan reuses none of the plan before
    it even when it comes out the same (a plan never re-planned keeps the key it always had)."""
    planned = {"parts": state.parts_list, "feedback": state.outline_feedback} if state.outline_feedback else state.parts_list
    plan = hashlib.blake2b(json.dumps(planned, sort_keys=True).encode(), digest_size=8).hexdigest()
    return artifact_key(state, f"parts/{plan}/{part_index:03d}.md")


class OutlineWorkflow:
    def __init__(
        self,
        *,
        llm: Llm,
        embedder: Embedder,
        books: BookRepository,
        courses: CourseRepository,
        states: StateStore,
        payloads: PayloadStore,
        settings: OutlineSettings = OutlineSettings(),
    ) -> None:
        self.llm = llm
        self.embedder = embedder
        self.books = books
        self.courses = courses
        self.states = states
        self.payloads = payloads
        self.settings = settings

    # Every step reuses what an earlier run of the same request already produced (a resume after
    # a failure, a re-run): nothing already paid for is asked of the model again.

    # -- EmbedQuery ------------------------------------------------------------------------
    def embed_query(self, request: WorkflowInput) -> dict:
        """Create the full CourseState from the execution input, then embed the query."""
        state = self._begin(request)
        key = artifact_key(state, "query_embedding.json")
        # what PublishRequested says of the request, once it is validated here
        requested = requested_fields(request)
        if (saved := self._artifact(key)) is not None:
            return {"dimension": len(json.loads(saved)), "model": self.embedder.model_id, "reused": True, "requested": requested}
        # Searched by its subject: the words of the request itself ("Learn ...") match no book.
        [embedding] = self.embedder.embed([course_subject(request.query)])
        self.payloads.put_text(key, json.dumps(embedding))
        return {"dimension": len(embedding), "model": self.embedder.model_id, "reused": False, "requested": requested}

    def _begin(self, request: WorkflowInput) -> CourseState:
        try:
            state = self.states.load(request.course_id)
        except StateMissing:  # started without RecordRequest's record (any other error is retried, not papered over)
            state = CourseState(session_id=request.course_id)
        if state.request_fingerprint and state.request_fingerprint != request.fingerprint():
            state = CourseState(session_id=request.course_id)  # another request: nothing to reuse
        state.take_request(request, request.owner)
        state.generator = self.llm.name
        state.phase = Phase.embedding
        self.states.save(state)
        return state

    # -- SearchBooks -----------------------------------------------------------------------
    def search_books(self, step: StepInput) -> dict:
        state = self._enter(step.course_id, Phase.searching_books)
        if state.book_summaries:
            return {"books_found": len(state.book_summaries), "reused": True}
        embedding = json.loads(self.payloads.get_text(artifact_key(state, "query_embedding.json")))
        found = self.books.search(
            embedding, self.settings.top_k, self.settings.min_similarity, model_id=self.embedder.model_id
        )
        state.book_summaries_json = book_summaries_json(found)
        self.states.save(state)
        if not found:
            # Raised, not returned: SearchBooks' Catch hands this message to ExplainFailure, which
            # has no database access to look the library's subjects up itself.
            raise NoBooksFound(no_books_message(self.books.subjects()))
        return {"books_found": len(found), "top_similarity": round(found[0].similarity, 3)}

    # -- PlanParts -------------------------------------------------------------------------
    def plan_parts(self, step: StepInput) -> dict:
        state = self._enter(step.course_id, Phase.planning_parts)
        if state.parts:
            return self._plan_summary(state.parts) | {"reused": True}
        guidance = plan_guidance(state.pending_course_hours, state.pending_course_prefs)
        prompt = render_prompt(
            "courses.generate_parts",
            {
                "query": state.pending_course_query,
                "hours": state.pending_course_hours,
                "target_minutes": state.target_minutes,
                "summaries_context": format_book_summaries(state.book_summaries),
                "parts_guidance": guidance.parts_guidance,
                "parts_count_guidance": guidance.parts_count_guidance,
                "learner_profile": _learner_profile(state),
                "reviewer_feedback": format_reviewer_feedback(state.outline_feedback),
            },
        )
        plan = self._ask(prompt, parse_parts_text)
        state.parts_list = [part.model_dump() for part in plan.parts]
        state.current_part_index = 0
        state.current_course = {"title": plan.title or state.pending_course_query}
        state.outline_text = ""
        state.review_attempts = 0
        state.progress = Progress(parts_total=len(plan.parts))
        state.phase = Phase.generating_sections
        self.states.save(state)
        return self._plan_summary(plan.parts) | {"reused": False}

    @staticmethod
    def _plan_summary(parts: list) -> dict:
        return {"parts_count": len(parts), "parts": [{"index": p.index, "title": p.title, "minutes": p.minutes} for p in parts]}

    # -- ExpandPart (one Map iteration; runs in parallel with its siblings) ----------------
    def expand_part(self, step: PartInput) -> dict:
        state = self.states.load(step.course_id)  # read only: siblings write at the same time
        parts = state.parts
        if step.part_index >= len(parts):
            raise OutlineInvalid(f"Part {step.part_index} is not in the plan of {len(parts)} parts.")
        part = parts[step.part_index]
        refs = book_refs(state.book_summaries)
        # Only a part an earlier run recorded as done is looked for (a miss costs a request too).
        done_before = str(part.index) in state.progress.part_sections
        if done_before and (saved := self._artifact(part_key(state, part.index))) is not None:
            parsed = parse_text_outline_to_database(saved, refs)
            if parsed.ok and parsed.value is not None:
                sections = parsed.value.parts[0].sections
                self.states.record_part_done(step.course_id, part.index, len(sections))
                return {"part_index": part.index, "sections": len(sections), "reused": True}
        prompt = render_prompt(
            "courses.expand_part",
            {
                "query": state.pending_course_query,
                "book_summaries_context": format_book_summaries(state.book_summaries),
                "existing_outline": format_parts_plan(parts, highlight=part.index),
                "remaining_text": format_sibling_parts(parts, part.index),
                "part_index": part.index + 1,
                "part_title": part.title,
                "part_minutes": part.minutes,
                "learner_profile": _learner_profile(state),
            },
        )
        written = self._ask(prompt, lambda text: _one_part(text, refs)).parts[0]
        sections = [s.model_copy(update={"part_index": part.index}) for s in written.sections]
        expanded = OutlinePart(
            index=part.index, title=part.title, minutes=sum(s.minutes for s in sections), sections=sections
        )
        self.payloads.put_text(part_key(state, part.index), format_outline_part(expanded) + "\n")
        self.states.record_part_done(step.course_id, part.index, len(sections))
        return {"part_index": part.index, "sections": len(sections), "reused": False}

    # -- AssembleOutline -------------------------------------------------------------------
    def assemble_outline(self, step: StepInput) -> dict:
        state = self._enter(step.course_id, Phase.assembling_outline)
        if state.review_attempts == 0:
            texts = []
            for part in state.parts:
                try:
                    texts.append(self.payloads.get_text(part_key(state, part.index)).strip())
                except PayloadMissing:
                    raise PayloadMissing(f"Part {part.index + 1} has no sections in the payload bucket.") from None
            title = state.course_title
            state.outline_text = f"Course: {title}\n\n" + "\n\n".join(texts) + "\n"
        total = parse_outline_total_time(state.outline_text)
        if not total.ok or total.value is None:
            raise OutlineInvalid(total.error)
        check = _measure(state, total.value.minutes)
        state.time_warning = "" if check.within_tolerance else f"Outline is {check.describe()}."
        self.states.save(state)
        return {
            "total_minutes": check.total_minutes,
            "target_minutes": check.target_minutes,
            "variance_percent": check.variance_percent,
            "within_tolerance": check.within_tolerance,
            "review_attempts": state.review_attempts,
            "total_strategy": total.value.strategy,
        }

    # -- ReviewOutline ---------------------------------------------------------------------
    def review_outline(self, step: StepInput) -> dict:
        state = self._enter(step.course_id, Phase.reviewing_outline)
        check = check_time(state.total_minutes or 0, state.target_minutes)
        prompt = render_prompt(
            "courses.review_outline",
            {
                "query": state.pending_course_query,
                "hours": state.pending_course_hours,
                "target_total": check.target_minutes,
                "book_summaries_context": format_book_summaries(state.book_summaries),
                "outline_text": state.outline_text,
                "current_total": check.total_minutes,
                "variance_percent": f"{check.variance_percent:+.1f}",
                "min_acceptable": check.min_acceptable,
                "max_acceptable": check.max_acceptable,
                "learner_profile": _learner_profile(state),
            },
            max_tokens=max(REVIEW_MIN_TOKENS, len(state.outline_text) // 3 + 500),  # the whole outline comes back
        )
        refs = book_refs(state.book_summaries)
        state.review_attempts += 1
        state.is_revision = True
        try:
            reviewed = self._ask(prompt, lambda text: _same_parts(parse_text_outline_to_database(text, refs), len(state.parts)))
        except LlmOutputInvalid as error:
            # A review is an improvement, not a requirement: keep the outline we have and say why.
            state.time_warning = f"Review attempt {state.review_attempts} gave no usable outline ({error})."
            self.states.save(state)
            return {"review_attempts": state.review_attempts, "applied": False}
        after = check_time(reviewed.total_minutes, check.target_minutes)
        if abs(after.variance_percent) >= abs(check.variance_percent):
            state.time_warning = (
                f"Review attempt {state.review_attempts} did not bring the total closer "
                f"({after.total_minutes} min against {check.total_minutes} min); kept the outline before it."
            )
            self.states.save(state)
            return {"review_attempts": state.review_attempts, "applied": False}
        if not reviewed.title or reviewed.title == "Untitled course":
            reviewed.title = state.course_title
        state.outline_text = format_course_outline(reviewed)
        self.states.save(state)
        return {"review_attempts": state.review_attempts, "applied": True}

    # -- StoreCourse -----------------------------------------------------------------------
    def store_course(self, step: StepInput) -> dict:
        state = self._enter(step.course_id, Phase.storing)
        outline = stored_outline(state)
        check = _measure(state, outline.total_minutes)
        if not check.within_tolerance:
            state.time_warning = (
                f"Kept after {state.review_attempts} review(s): the outline is {check.describe()}."
            )
        self._commit_outline(state, outline)
        try:
            self.states.save(state)
        except Exception as problem:  # noqa: BLE001 - deliberate, see below
            # The course is committed: a state write failing now must not fail it (a retried step
            # or the failure path would mark a stored course `error`). RecordComplete still writes
            # the status; what the record misses (the outline context) is in PostgreSQL.
            log.warning("course %s stored; its state write failed: %r", state.course_id, problem)
        return _stored_result(state, check.within_tolerance)

    # -- outline approval (issue 15, point 4): while the execution waits after StoreCourse ---------
    def replan_with_feedback(self, course_id: str, feedback: str) -> dict:
        """A reviewer asks for a new plan: the feedback is kept (PlanParts' prompt gets all of it,
        oldest first) and everything of the plan before is let go, so the execution's next PlanParts
        plans again and no later step reuses the earlier plan's parts, outline or measurements.
        The stored course stays as it is until StoreCourse replaces it. DecisionInvalid("feedback")
        for feedback that cannot be taken."""
        state = self.states.load(course_id)
        taken = check_outline_feedback(feedback, len(state.outline_feedback))
        if state.outline_feedback[-1:] == [taken] and not state.parts_list:  # a retry: taken already, plan let go
            return {"course_id": course_id, "replans": len(state.outline_feedback)}
        state.outline_feedback = [*state.outline_feedback, taken]
        state.parts_list = []  # PlanParts reuses a plan it finds
        state.current_part_index = 0
        state.current_course = None
        state.outline_text = ""
        state.outline_complete = False
        state.course_outline_context = ""
        state.review_attempts = 0
        state.is_revision = False
        state.total_minutes = None
        state.variance_percent = None
        state.time_warning = ""
        state.progress = Progress()
        self.states.save(state)
        return {"course_id": course_id, "replans": len(state.outline_feedback)}

    def apply_outline_edit(self, course_id: str, outline_text: str) -> dict:
        """A reviewer's edited outline replaces the course's: read by the workflow's parser, within
        5% of the requested time, citing only the course's books (DecisionInvalid("outline", why)
        otherwise, and nothing changes). Stored as StoreCourse stores an outline - PostgreSQL's
        course replaced in one transaction, the state's outline (what the lessons are planned and
        written from) with it - so applying the same edit twice leaves one course, as it was."""
        state = self.states.load(course_id)
        outline = check_course_outline_edit(outline_text, state)
        state.outline_text = format_course_outline(outline)  # stored_outline(state) reads it back as it is
        check = _measure(state, outline.total_minutes)
        state.time_warning = ""  # within the budget, or it was refused
        self._commit_outline(state, outline)
        self.states.save(state)  # not forgiven as StoreCourse's is: the lessons must not be written from the old outline
        return {
            "course_id": state.course_id,
            "title": outline.title,
            "parts": len(outline.parts),
            "sections": outline.section_count,
            "total_minutes": check.total_minutes,
            "target_minutes": check.target_minutes,
            "variance_percent": check.variance_percent,
        }

    def _commit_outline(self, state: CourseState, outline: CourseOutline) -> None:
        """The outline into PostgreSQL (one transaction; again replaces), and on the state what the
        lesson phase reads of it. The caller saves the state."""
        self.courses.store_course(state, outline)
        state.outline_complete = True
        state.course_outline_context = format_course_outline(outline)  # what the lesson phase writes from
        state.current_course = {
            "course_id": state.course_id,
            "title": outline.title,
            "total_minutes": outline.total_minutes,
            "sections_count": outline.section_count,
            "estimated_hours": round(outline.total_minutes / 60, 2),
        }
        state.progress.stored_sections = outline.section_count

    # -- ExplainFailure ----------------------------------------------------------------------
    def explain_failure(self, failure: FailureInput) -> dict:
        """The error in one readable line (no stack trace), the phase it broke in, and how long the
        course ran - for the status record and the course.generation.failed event. Never raises:
        it is the failure path."""
        failed_state, error = next(iter(failure.errors.items()), ("", {}))
        stored = None
        error_type = underlying_error(str(error.get("Error") or "Error"), str(error.get("Cause") or ""))
        message = one_readable_line(str(error.get("Cause") or ""))
        phase, started, title = PHASE_OF_STATE.get(failed_state), "", ""
        try:
            state = self.states.load(failure.course_id, include_text=False)
            phase, started, title = phase or state.phase, state.created_at, clipped(state.pending_course_query)
            if failed_state == "StoreCourse" and state.outline_complete:  # committed and saved, then failed: go on
                stored = _stored_result(state, check_time(state.total_minutes or 0, state.target_minutes).within_tolerance)
            elif phase != state.phase:
                self.states.set_phase(failure.course_id, phase.value)  # where it broke, for the status
        except Exception as problem:  # noqa: BLE001 - the record may be missing or unreachable; say so
            log.warning("no state for failed course %s: %s", failure.course_id, problem)
        text = message or "The course failed; see the execution history for the cause."
        return {
            "error_type": error_type,
            "error_message": text,
            "phase": phase.value if phase else "unknown",
            "execution_time_seconds": seconds_since(started) if started else 0,
            "stored": stored,  # the ASL's WasStored goes on to completion when set
            "title": title,  # the requested title, for course.generation.failed
        }

    # -- helpers ---------------------------------------------------------------------------
    def _artifact(self, key: str) -> str | None:
        try:
            return self.payloads.get_text(key)
        except PayloadMissing:
            return None

    def _enter(self, course_id: str, phase: Phase) -> CourseState:
        state = self.states.load(course_id, entering=phase.value)
        state.phase = phase
        state.updated_at = utc_now()
        return state

    def _ask(self, prompt: Prompt, parse: Callable[[str], ParseResult[T]]) -> T:
        return ask(self.llm, prompt, parse, self.settings.max_repairs)


def ask(llm: Llm, prompt: Prompt, parse: Callable[[str], ParseResult[T]], max_repairs: int) -> T:
    """Ask the model; on an unusable answer re-prompt with the reason, at most max_repairs times."""
    for _ in range(max_repairs + 1):
        reply = llm.complete(prompt)
        if reply.truncated:
            problem = f"the answer was cut off at the token limit ({prompt.max_tokens}); answer completely and concisely."
            prompt = prompt.with_repair(reply.text, problem, more_tokens=True)
            continue
        result = parse(reply.text)
        if result.ok and result.value is not None:
            return result.value
        log.warning("unusable answer to %s: %s", prompt.name, result.error)
        prompt = prompt.with_repair(reply.text, result.error)
    raise LlmOutputInvalid(f"{prompt.name}: no usable answer after {max_repairs} repair(s); last problem: {prompt.repairs[-1]}")


def stored_outline(state: CourseState) -> CourseOutline:
    """The course's final outline, parsed from its state (StoreCourse stores it, PlanLessons plans from it)."""
    parsed = parse_text_outline_to_database(state.outline_text, book_refs(state.book_summaries), state.course_title)
    if not parsed.ok or parsed.value is None:
        raise OutlineInvalid(parsed.error)
    return parsed.value


def seconds_since(iso_timestamp: str) -> float:
    try:
        started = datetime.fromisoformat(iso_timestamp)
    except ValueError:
        return 0.0
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    return round(max(0.0, (datetime.now(timezone.utc) - started).total_seconds()), 3)


def _stored_result(state: CourseState, within_tolerance: bool) -> dict:
    """What StoreCourse answers (and ExplainFailure, for a course stored before its step failed)."""
    return {
        "sections": state.progress.stored_sections,
        "total_minutes": state.total_minutes,
        "variance_percent": state.variance_percent,
        "within_tolerance": within_tolerance,
        "template_id": TEMPLATE_ID,
        "execution_time_seconds": seconds_since(state.created_at),
    }


def _measure(state: CourseState, total_minutes: int) -> TimeCheck:
    """Record the outline's total and variance on the state; the check says whether it is within 5%."""
    check = check_time(total_minutes, state.target_minutes)
    state.total_minutes = check.total_minutes
    state.variance_percent = check.variance_percent
    return check


def _learner_profile(state: CourseState) -> str:
    """Every prompt states the learner's audience, focus, language, depth and pace."""
    guidance = plan_guidance(state.pending_course_hours, state.pending_course_prefs)
    return learner_profile(
        state.pending_course_prefs, state.language, (guidance.section_minutes_low, guidance.section_minutes_high)
    )


def _same_parts(parsed: ParseResult, expected: int) -> ParseResult:
    """A reviewed outline keeps every part of the plan (a cut-off answer would drop the last ones)."""
    if parsed.ok and parsed.value is not None and len(parsed.value.parts) != expected:
        return ParseResult.fail(f"The outline has {expected} parts; your answer has {len(parsed.value.parts)}: return every part.")
    return parsed


def _one_part(text: str, refs: dict[str, str]) -> ParseResult:
    parsed = parse_text_outline_to_database(text, refs)
    if parsed.ok and parsed.value is not None and len(parsed.value.parts) != 1:
        return ParseResult.fail(f"Expected one part, got {len(parsed.value.parts)}: answer with this part only.")
    return parsed
