"""The course API's use cases: request a course, poll its status, read it, list them.

Requests answer at once: the course id is created, the first state written and the execution
(named by the course id) started; generation happens in the workflow while clients poll.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from coursegen.domain.status import course_status
from coursegen.errors import (
    CourseNotFound, CourseNotReady, DatabaseUnavailable, IdempotencyConflict, LanguageNotWritten, NotResumable, StateMissing,
)
from coursegen.models import STATE_TTL_SECONDS, CourseRequest, CourseState, Phase, Status, WorkflowInput
from coursegen.domain.artifacts import EXPORT_FORMATS, export_key
from coursegen.ports import (
    CourseRepository, LessonRepository, PayloadStore, QuizRepository, StateStore, WorkflowRepository, WorkflowStarter,
)
from coursegen.services.execution_end import ExecutionEndService
from coursegen.services.outline import seconds_since

# Course ids for Idempotency-Key requests are uuid5(this namespace, owner + key): a retried POST
# maps to the same course id, and so to the same execution name, which Step Functions itself
# refuses to start twice. No separate idempotency table is needed.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0f7a53-8f3e-4d55-9d0e-6f5d2a8c1e42")
# Longer than one attempt of any Task (the longest TimeoutSeconds in the ASL is 930 s; a test keeps
# this above it): a processing course whose record has not moved for this long may have ended
# unrecorded, so the status read asks Step Functions. Asking early is harmless (a running
# execution changes nothing); it only costs a DescribeExecution.
STALE_AFTER_SECONDS = 1000
EXPORT_URL_SECONDS = 900  # a package's presigned URL: long enough to start a download, short enough not to share


OFFLINE_LANGUAGES = frozenset({"en"})  # the offline planner and writer are not models: English only


def refuse_unwritten_language(language: str, languages: frozenset[str] | None) -> None:
    """A course in a language the configured writer cannot write is refused, never written in English."""
    if languages is not None and language not in languages:
        raise LanguageNotWritten(
            f"language: the offline writer (not an LLM) writes English only, not '{language}'; ask for 'en', or set "
            "LLM_PROVIDER=bedrock or openai to write other languages."
        )


@dataclass(frozen=True)
class Accepted:
    course_id: str
    created: bool  # False when an Idempotency-Key replayed an earlier request
    status: str = "processing"  # a replay answers with the course's status now
    execution_name: str = ""

    def body(self, status_url: str) -> dict:
        return {"course_id": self.course_id, "status": self.status, "status_url": status_url}


class CourseService:
    def __init__(
        self, *, states: StateStore, courses: CourseRepository, starter: WorkflowStarter,
        lessons: LessonRepository | None = None, languages: frozenset[str] | None = None,
        execution_ends: ExecutionEndService | None = None, stale_after_seconds: float = STALE_AFTER_SECONDS,
        quizzes: QuizRepository | None = None, payloads: PayloadStore | None = None, inline_exports: bool = False,
        workflow: WorkflowRepository | None = None,
    ) -> None:
        """inline_exports: a package is answered as its bytes (offline), not as a presigned URL (AWS)."""
        self.states = states
        self.workflow = workflow  # the lifecycle (PostgreSQL): workflow_state and waiting_for in the status
        self.quizzes = quizzes
        self.payloads = payloads
        self.inline_exports = inline_exports
        self.courses = courses
        self.lesson_store = lessons
        self.languages = languages  # what the configured writer writes; None: any the request allows
        self.starter = starter
        self.execution_ends = execution_ends
        self.stale_after_seconds = stale_after_seconds

    def request_course(self, request: CourseRequest, owner: str, idempotency_key: str | None = None) -> Accepted:
        refuse_unwritten_language(request.language, self.languages)
        if idempotency_key:
            course_id = str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{owner}\n{idempotency_key}"))
        else:
            course_id = str(uuid.uuid4())
        state = CourseState.requested(course_id, request, owner)
        created = self.states.create(state)
        existing = state if created else self.states.load(course_id, include_text=False)
        if not created and (existing.owner != owner or existing.request_fingerprint != state.request_fingerprint):
            raise IdempotencyConflict(
                "This Idempotency-Key was already used with a different request: use a new key for a new course."
            )
        # Started even on a replay: if the first attempt wrote the state but died before starting,
        # the retry starts it now; if it did start, Step Functions refuses the same name again.
        execution_input = WorkflowInput(course_id=course_id, owner=owner, **request.model_dump())
        started = self.starter.start(course_id, execution_input.model_dump_json())
        if created and not started and self._expired(course_id):
            # The execution exists but its state had expired (7 days; names live 90): nothing will
            # ever update the state just written, so take it back and say what to do.
            self.states.delete(course_id)
            raise IdempotencyConflict(
                f"This Idempotency-Key was used for course {course_id} more than 7 days ago: read it with "
                f"GET /courses/{course_id}, or use a new key for a new course."
            )
        return Accepted(course_id=course_id, created=created, status=existing.status.value, execution_name=course_id)

    def resume(self, course_id: str, owner: str) -> Accepted:
        """Run a failed course again under the same course id (the redrive idea): every step reuses
        what the failed run already produced, so only the missing work is paid for again."""
        state = self._own_state(course_id, owner)
        if state.status != Status.error:
            raise NotResumable(f"Only a failed course can be resumed; course {course_id} is {state.status.value}.")
        # the request as it was (its fingerprint keys the artifacts a resume reuses)
        request = state.original_request()
        # Claimed atomically and named by its number: two resumes at once start one execution.
        execution_name = f"{course_id}-resume-{self.states.claim_resume(course_id)}"
        execution_input = WorkflowInput(course_id=course_id, owner=owner, **request.model_dump())
        try:
            self.starter.start(execution_name, execution_input.model_dump_json())
        except Exception:
            self.states.release_resume(course_id)  # not started: failed it stays, resumable again
            raise
        return Accepted(course_id=course_id, created=False, execution_name=execution_name)

    def _expired(self, course_id: str) -> bool:
        """An execution by this name exists but its state was just created: either the state
        expired (the execution is older than the state's TTL), or a concurrent request with the
        same key started it a moment ago (and it is this course's live execution)."""
        started = self.starter.started_at(course_id)
        return started is not None and (datetime.now(timezone.utc) - started).total_seconds() > STATE_TTL_SECONDS

    def status(self, course_id: str, owner: str) -> dict:
        view = self._status(course_id, owner)
        if self.workflow is not None:
            try:
                workflow = self.workflow.get_workflow(course_id)
            except DatabaseUnavailable:  # the status is the state record's; the lifecycle is left out, not a 500
                return view
            view["workflow_state"] = workflow.state.value
            # a course that failed waits for nothing (its resume waits again)
            waits = workflow.waiting_for is not None and view["status"] != "error"
            view["waiting_for"] = workflow.waiting_for.value if waits else None
        return view

    def _status(self, course_id: str, owner: str) -> dict:
        try:
            state = self._own_state(course_id, owner)
            if state.status == Status.processing and self.execution_ends and seconds_since(state.updated_at) > self.stale_after_seconds:
                # No step has written for longer than any step may run: ask the execution how it
                # ended, in case its end event has not been (or was never) recorded.
                state = self.execution_ends.check(state)
            return course_status(state)
        except CourseNotFound:
            stored = self.courses.get_course(course_id, owner=owner)  # its state expired after 7 days
            if stored is None:
                raise
            return {"course_id": course_id, "status": "complete", "phase": "complete",
                    "progress": {"parts_total": len(stored.outline.parts), "parts_done": len(stored.outline.parts),
                                 "sections_total": stored.outline.section_count, "percent": 100}}

    def course(self, course_id: str, owner: str, base_path: str = "") -> dict:
        """The stored course; for one not stored, a CourseNotReady that says why and what to do
        (base_path: the stage prefix of the resume URL it gives)."""
        stored = self.courses.get_course(course_id, owner=owner)
        if stored is None:
            state = self._own_state(course_id, owner)  # 404 for unknown ids and for others' courses
            if state.status == Status.error:
                error = course_status(state)["error"]
                raise CourseNotReady(
                    f"Course {course_id} failed in {error['phase']} ({error['type']}): {error['message'].rstrip('.')}. "
                    f"Resume it with POST {base_path}/courses/{course_id}/resume."
                )
            raise CourseNotReady(
                f"Course {course_id} is not ready: status {state.status.value}, phase {state.phase.value}. "
                f"Poll /courses/{course_id}/status."
            )
        return stored.document()

    def lessons(self, course_id: str, owner: str, base_path: str = "") -> dict:
        """The course's lessons in order; 404 for an unknown course, 409 while they are not written."""
        self.course(course_id, owner, base_path)  # 404 for unknown ids and others' courses; 409 (with why) if not stored
        try:
            state = self.states.load(course_id, include_text=False)
        except StateMissing:
            state = None  # expired after 7 days: what PostgreSQL holds is the course
        if state is not None and state.dry_run:
            raise CourseNotReady(
                f"Course {course_id} is a dry run: its lessons are planned, not written, and GET "
                f"/courses/{course_id}/status has the estimate. Request it again without dry_run to write them.")
        stored = self.lesson_store.list_lessons(course_id, owner=owner)
        if (state is not None and not state.lessons_complete) or not stored:
            where = f"status {state.status.value}, phase {state.phase.value}" if state else "none stored"
            hint = (f"Resume it with POST {base_path}/courses/{course_id}/resume." if state and state.status == Status.error
                    else f"Poll /courses/{course_id}/status.")
            raise CourseNotReady(f"The lessons of course {course_id} are not all written ({where}). {hint}")
        return {"course_id": course_id, "lessons": [lesson.summary() for lesson in stored]}

    def lesson(self, course_id: str, lesson_id: str, owner: str) -> dict:
        found = self.lesson_store.get_lesson(course_id, lesson_id, owner=owner)
        if found is None:
            raise CourseNotFound(f"No lesson {lesson_id} in course {course_id}.")
        return found.model_dump(mode="json")

    def labs(self, course_id: str, owner: str, base_path: str = "") -> dict:
        """The course's labs in part order ([] for a theory course); 404 and 409 as for its lessons,
        which BuildBook stores with the labs."""
        try:
            self.lessons(course_id, owner, base_path)
        except CourseNotReady as error:  # the same reason, said of the labs
            raise CourseNotReady(str(error).replace("The lessons of course", "The lessons and labs of course", 1)) from None
        return {"course_id": course_id, "labs": [lab.summary() for lab in self.lesson_store.list_labs(course_id, owner=owner)]}

    def lab(self, course_id: str, lab_id: str, owner: str) -> dict:
        found = self.lesson_store.get_lab(course_id, lab_id, owner=owner)
        if found is None:
            raise CourseNotFound(f"No lab {lab_id} in course {course_id}.")
        return found.model_dump(mode="json")

    def quiz(self, course_id: str, owner: str, base_path: str = "") -> dict:
        """The course's quiz; 404 and 409 as for its lessons, and 404 for a course without one."""
        self.lessons(course_id, owner, base_path)
        state = self._published_state(course_id)
        complete = state is None or state.status == Status.complete
        quiz = self.quizzes.get_quiz(course_id, owner=owner) if complete else None
        if quiz is None:
            if complete:
                raise CourseNotFound(f"Course {course_id} has no quiz (it was requested with generate_quiz false, or no "
                                     "lesson is written in full).")
            raise CourseNotReady(self._not_published(course_id, state, base_path, "quiz"))
        return quiz.model_dump(mode="json")

    def export(self, course_id: str, export_format: str, owner: str, base_path: str = "") -> dict | bytes:
        """A package of the course: its bytes (offline) or a presigned URL to it (AWS); 409 while the
        course is not complete (still generating, failed, a dry run), 404 for a format it has not."""
        self.course(course_id, owner, base_path)  # 404 for unknown ids and others' courses (PostgreSQL says whose)
        state = self._published_state(course_id)
        if state is not None and state.dry_run:
            raise CourseNotReady(f"Course {course_id} is a dry run: nothing is written, so nothing is packaged.")
        if state is not None and state.status != Status.complete:
            raise CourseNotReady(self._not_published(course_id, state, base_path, f"{export_format} package"))
        key = export_key(course_id, export_format)
        if key not in self.payloads.list_keys(key):
            raise CourseNotFound(f"Course {course_id} has no {export_format} package: QTI and GIFT hold a quiz, and this "
                                 "course has none (requested with generate_quiz false).")
        name, media_type = EXPORT_FORMATS[export_format]
        if self.inline_exports:
            return self.payloads.get_bytes(key)
        return {"course_id": course_id, "format": export_format, "file_name": name, "media_type": media_type,
                "url": self.payloads.presigned_url(key, EXPORT_URL_SECONDS), "expires_in": EXPORT_URL_SECONDS}

    def _published_state(self, course_id: str) -> CourseState | None:
        """The course's record, or None once it expired (7 days): then the stored course is all there
        is, and it is complete (what it published is kept under published/)."""
        try:
            return self.states.load(course_id, include_text=False)
        except StateMissing:
            return None

    @staticmethod
    def _not_published(course_id: str, state: CourseState, base_path: str, what: str) -> str:
        if state.status == Status.error:
            return (f"Course {course_id} failed in {state.phase.value} before its {what} was published. Resume it with "
                    f"POST {base_path}/courses/{course_id}/resume.")
        return f"Course {course_id} is still generating (phase {state.phase.value}): poll /courses/{course_id}/status."

    def list(self, owner: str, limit: int = 20, before: str | None = None) -> dict:
        page = self.courses.list_courses(limit=limit + 1, before=before, owner=owner)
        items = [course.document() | {"parts": len(course.outline.parts)} for course in page[:limit]]
        return {"courses": items, "next": page[limit - 1].course_id if len(page) > limit else None}

    def _own_state(self, course_id: str, owner: str) -> CourseState:
        try:
            state = self.states.load(course_id, include_text=False)
        except StateMissing:
            raise CourseNotFound(f"No course {course_id}.") from None
        if state.owner != owner:
            raise CourseNotFound(f"No course {course_id}.")
        return state
