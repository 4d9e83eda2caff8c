"""The publishing stage's quiz step (statemachine/course_publishing.asl.json).

GenerateQuiz -> 10-15 questions on the objectives of the lessons written in full, checked by
domain/quiz.py (distinct options, one correct, answer not in the stem, every objective assessed
where the count allows) with a bounded repair, into S3 (BuildSite stores it in PostgreSQL with the
site, so this step needs no database and runs outside the VPC). It reads the lessons from their
artifacts. A retry or a resume finds the quiz it wrote under this request and does not ask again.
"""

from __future__ import annotations

from dataclasses import dataclass

from coursegen.domain.artifacts import quiz_key
from coursegen.domain.quiz import parse_quiz, question_count, quiz_objectives, quiz_prompt
from coursegen.errors import CoursegenError, PayloadMissing
from coursegen.models import Phase, StoredQuiz
from coursegen.ports import Llm, PayloadStore, StateStore
from coursegen.services.lessons import in_full, lesson_plans, written_lesson
from coursegen.services.outline import StepInput, artifact_key, ask


@dataclass(frozen=True)
class QuizSettings:
    max_repairs: int = 2


class QuizWorkflow:
    def __init__(self, *, llm: Llm, states: StateStore, payloads: PayloadStore, settings: QuizSettings) -> None:
        self.llm = llm
        self.states = states
        self.payloads = payloads
        self.settings = settings

    def generate_quiz(self, step: StepInput) -> dict:
        state = self.states.load(step.course_id, entering=Phase.writing_quiz.value)
        draft = artifact_key(state, "quiz.json")  # this request's quiz: a resume reuses it
        try:
            quiz = StoredQuiz.model_validate_json(self.payloads.get_text(draft))
        except PayloadMissing:
            quiz = self._write(state)
            self.payloads.put_text(draft, quiz.model_dump_json(), "application/json")
        self.payloads.put_text(quiz_key(state.course_id), quiz.model_dump_json(), "application/json")
        state.quiz_id, state.quiz_questions_count = quiz.quiz_id, len(quiz.questions)
        self.states.save(state)
        return {"quiz_id": quiz.quiz_id, "question_count": len(quiz.questions), "question_ids": quiz.question_ids}

    def _write(self, state) -> StoredQuiz:
        plans = lesson_plans(self.payloads, state)
        written = {plan.lesson_id: written_lesson(self.payloads, state, plan).markdown for plan in plans if in_full(state, plan)}
        objectives = quiz_objectives(plans, set(written))
        count = question_count(len(objectives))
        prompt = quiz_prompt(state.course_title, objectives, written, count, state.language, state.pending_course_prefs)
        try:
            return ask(self.llm, prompt, lambda text: parse_quiz(text, state.course_id, objectives, count, self.llm.name,
                                                                 course_title=state.course_title),
                       self.settings.max_repairs)
        except CoursegenError as error:  # the same error name (Retry and Catch match it), the step named
            raise type(error)(f"Quiz: {error}") from error
