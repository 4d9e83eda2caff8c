"""The publishing stage's last step (statemachine/course_publishing.asl.json).

WriteEvidencePack -> the course's evidence pack: the manifest domain/evidence.py builds from the
state, every step invocation's usage record (adapters/metering.py), the lessons' lengths, the
quiz's check and the hash of every published artifact, written to evidence_key. A re-run writes
the manifest again in place (what it says is recomputed from what is there now).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping

from pydantic import ValidationError

from coursegen.domain.artifacts import PUBLISHED_FOLDERS, course_prefix, evidence_key, quiz_key, usage_prefix
from coursegen.domain.evidence import evidence_manifest, lesson_length_check, quiz_schema_problems
from coursegen.domain.lessons import plan_lessons
from coursegen.domain.quiz import check_quiz, quiz_objectives
from coursegen.errors import PayloadMissing
from coursegen.models import CourseState, Phase, StoredQuiz, describe_validation_error, utc_now
from coursegen.ports import LessonRepository, PayloadStore, StateStore
from coursegen.services.lessons import lesson_plans
from coursegen.services.outline import StepInput, seconds_since, stored_outline

log = logging.getLogger(__name__)


class EvidenceWorkflow:
    def __init__(self, *, states: StateStore, payloads: PayloadStore, lessons: LessonRepository, provider: str,
                 model: str) -> None:
        """provider, model: what the course's model calls went to (the configured LLM)."""
        self.states = states
        self.payloads = payloads
        self.lessons = lessons
        self.provider = provider
        self.model = model

    # -- WriteEvidencePack ---------------------------------------------------------------------
    def write_evidence_pack(self, step: StepInput) -> dict:
        state = self.states.load(step.course_id, entering=Phase.writing_evidence.value)
        manifest = evidence_manifest(
            state=state, usage_records=self._usage_records(state.course_id), lesson_checks=self._lesson_checks(state),
            quiz_problems=self._quiz_problems(state), artifacts=_Artifacts(self.payloads, state.course_id),
            provider=self.provider, model=self.model, generated_at=utc_now())
        key = evidence_key(state.course_id)
        self.payloads.put_text(key, json.dumps(manifest, indent=2, ensure_ascii=False), "application/json")
        state.evidence_pack_path = key
        self.states.save(state)
        return completion_fields(state)

    # -- helpers -------------------------------------------------------------------------------
    def _usage_records(self, course_id: str) -> list[dict]:
        records = []
        for key in self.payloads.list_keys(usage_prefix(course_id)):
            try:
                record = json.loads(self.payloads.get_text(key))
            except (PayloadMissing, ValueError) as error:  # expired or unreadable: the manifest holds the rest
                log.warning("usage record %s skipped: %s", key, type(error).__name__)
                continue
            if isinstance(record, dict) and "step" in record:
                records.append(record)
        return records

    def _lesson_checks(self, state: CourseState) -> list[dict]:
        """The length check of each lesson written in full (a placeholder is not held to its minutes),
        against the minutes its plan gave it: a full lesson's stored minutes are its words' own."""
        lessons = [lesson for lesson in self.lessons.list_lessons(state.course_id) if lesson.status == "full"]
        if not lessons:
            return []
        planned = {(plan.part_index, plan.section_index): plan.minutes for plan in self._plans(state)}
        checks = []
        for lesson in lessons:
            named = {"lesson_id": lesson.lesson_id, "number": f"{lesson.part_index + 1}.{lesson.section_index + 1}",
                     "title": lesson.title}
            minutes = planned.get((lesson.part_index, lesson.section_index))
            if minutes is None:
                checks.append(named | {"words": lesson.words, "ok": False, "reason": "not in the course's lesson plan"})
            else:
                checks.append(named | lesson_length_check(lesson.words, minutes, state.pending_course_prefs.pace))
        return checks

    def _plans(self, state: CourseState):
        try:
            return lesson_plans(self.payloads, state)
        except PayloadMissing:  # the plan is scratch (it expires); the outline it was made from is in the state
            return plan_lessons(state.course_id, stored_outline(state))

    def _quiz_problems(self, state: CourseState) -> list[str] | None:
        """None: the course has no quiz. Otherwise what is wrong with the published one ([] nothing):
        its shape, then the quiz writer's own rules (domain/quiz.py) against the written lessons' objectives."""
        try:
            text = self.payloads.get_text(quiz_key(state.course_id))
        except PayloadMissing:
            return None
        try:
            quiz = StoredQuiz.model_validate_json(text)
        except ValidationError as error:
            return [describe_validation_error(error, "quiz")]
        full = {lesson.lesson_id for lesson in self.lessons.list_lessons(state.course_id) if lesson.status == "full"}
        return quiz_schema_problems(quiz) + check_quiz(quiz, quiz_objectives(self._plans(state), full))


class _Artifacts(Mapping[str, bytes]):
    """The course's published artifacts, key -> bytes, each read when asked for: the manifest hashes
    them one at a time, so a big site or package is never all in memory at once. The evidence pack's
    own folder, the usage records and every step's scratch (courses/...) are not published artifacts."""

    def __init__(self, payloads: PayloadStore, course_id: str) -> None:
        self.payloads = payloads
        prefix = course_prefix(course_id)
        self._keys = [key for folder in PUBLISHED_FOLDERS for key in payloads.list_keys(prefix + folder)]
        self._known = frozenset(self._keys)

    def __getitem__(self, key: str) -> bytes:
        if key not in self._known:
            raise KeyError(key)
        return self.payloads.get_bytes(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def completion_fields(state: CourseState) -> dict:
    """What the publishing machine answers the course workflow for course.generation.completed (its
    last step's answer: WriteEvidencePack's, or DeployToStaging's when the site is staged after it)."""
    return {"evidence_pack_path": state.evidence_pack_path, "quiz_questions_count": state.quiz_questions_count,
            "deployed": bool(state.staging_url), "staging_url": state.staging_url or None,
            "execution_time_seconds": seconds_since(state.created_at)}  # the whole course's
