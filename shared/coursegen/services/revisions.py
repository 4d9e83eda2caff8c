"""A reviewer's request for changes, carried out (issue 15, point 5): the named lessons rewritten
with their feedback, and nothing else of the course touched.

RevisionWorkflow.rewrite_lessons is what the review stage's RewriteLessons step calls (through
services/review.py). For each named lesson - the current, latest revision of its section - it asks
lessons.revise_lesson with the grounding of the first writing (the section's lesson plan, its
books, the outline, the earlier lessons of its part, the learner, the language), the lesson as it is
and the feedback; checks the answer as a first writing is checked (parse_lesson, bounded repairs);
and stores it as a NEW row (revision + 1, its own lesson id; the earlier revision stays readable).
The lesson's artifact in the bucket gets the new text (so the publishing stage, run again, quotes and
draws from it); the quiz's questions on a rewritten lesson are re-checked against its new text and
the failing ones rewritten for just their objectives; the book files are rebuilt from the latest
revisions. Other lessons, their ids and rows, and the outline are not written at all.

A retry (the same lesson and feedback) makes no further revision: each rewrite is recorded in the
bucket under (lesson id, digest of the feedback) before it is stored, and a retry finds and reuses
it - and its cost, so a retried step reports what the rewrite cost, not zero.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from coursegen.domain.artifacts import quiz_key
from coursegen.domain.lessons import Lesson, LessonPlan, lesson_books, parse_lesson, plan_lessons
from coursegen.domain.lifecycle import MAX_LESSONS_PER_REQUEST, LessonFeedback, feedback_problem
from coursegen.domain.parsing import ParseResult
from coursegen.domain.quiz import (
    MAX_PROBLEMS, QuizObjective, check_quiz, parse_quiz, question_problems, quiz_objectives, quiz_prompt,
)
from coursegen.domain.revisions import (
    Usage, feedback_digest, in_answer_terms, priced, question_support_problems, revision_prompt, with_questions_replaced,
    without_questions,
)
from coursegen.errors import CoursegenError, DecisionInvalid, LlmOutputInvalid, PayloadMissing
from coursegen.models import StoredLesson, StoredQuiz
from coursegen.ports import CourseRepository, EventPublisher, LessonRepository, Llm, LlmReply, PayloadStore, StateStore
from coursegen.services.lessons import in_full, lesson_key, lesson_plans, stored_lesson_id, write_book
from coursegen.services.outline import artifact_key, ask

log = logging.getLogger(__name__)
LESSON_GENERATED = "course.lesson.generated"


@dataclass(frozen=True)
class RevisionSettings:
    max_repairs: int = 2
    model_id: str = "none"  # the model the provider is asked for by name (priced by domain/estimate.py); offline: none


class _Counted:
    """The LLM, counting the calls made through it and their tokens (what this rewrite cost)."""

    def __init__(self, inner: Llm) -> None:
        self.inner = inner
        self.name = inner.name
        self.usage = Usage()

    def complete(self, prompt) -> LlmReply:
        reply = self.inner.complete(prompt)
        self.usage = self.usage + Usage(1, reply.input_tokens, reply.output_tokens)
        return reply


@dataclass(frozen=True)
class _Target:
    """One request, resolved: the section's plan, its row as it is, and (on a retry) its record."""

    index: int  # its place in the request (lessons[i])
    request: LessonFeedback
    plan: LessonPlan
    row: StoredLesson | None  # the current row (None when the record already says what it became)
    record: dict | None


class RevisionWorkflow:
    def __init__(self, *, llm: Llm, states: StateStore, payloads: PayloadStore, lessons: LessonRepository,
                 courses: CourseRepository, events: EventPublisher, settings: RevisionSettings) -> None:
        self.llm = llm
        self.states = states
        self.payloads = payloads
        self.lessons = lessons
        self.courses = courses
        self.events = events
        self.settings = settings

    def rewrite_lessons(self, course_id: str, requests: Sequence[LessonFeedback]) -> dict:
        """Rewrite each named lesson with its feedback. Every request is checked before anything is
        written: DecisionInvalid('lessons[i].lesson_id' or '.feedback', why) for one that cannot be
        taken. Returns what was rewritten and what it cost (a small dict: a Step Functions result)."""
        _check_shape(requests)
        state = self.states.load(course_id)
        plans = self._plans(state)
        current = {(row.part_index, row.section_index): row for row in self.lessons.list_lessons(course_id)}
        targets = sorted(self._resolve(state, plans, current, requests), key=lambda t: t.plan.lesson_index)

        books = {book.book_id: book for book in state.book_summaries}
        records: dict[int, dict] = {}
        for target in targets:  # in course order: a rewritten lesson is the next one's previous lesson
            key = self._record_key(state, target.request)
            record = target.record or self._rewrite(state, plans, current, books, target, key)
            records[target.index] = record
            row = _row(target.plan, record)
            section = (row.part_index, row.section_index)
            if section not in current or current[section].revision <= row.revision:
                current[section] = row

        # The quiz re-checked before anything is stored: a re-check that fails leaves the course as it was.
        rewritten = {target.plan.lesson_id: records[target.index] for target in targets}
        quiz = self._recheck_quiz(state, plans, rewritten)
        for target in targets:
            self._stored(state, target.plan, records[target.index], self._record_key(state, target.request))
        self._rebuild_book(state, plans)
        state.is_revision = True
        self.states.save(state)

        usage = sum((Usage.from_dict(records[t.index].get("usage")) for t in targets), Usage())
        usage += Usage.from_dict(quiz.get("usage"))
        return {
            "lessons_rewritten": len(targets),
            "lessons": [{"lesson_id": records[i]["lesson_id"], "new_lesson_id": records[i]["new_lesson_id"],
                         "revision": records[i]["revision"]} for i in sorted(records)],
            "questions_rechecked": quiz.get("questions_rechecked", 0),
            "questions_rewritten": quiz.get("questions_rewritten", 0),
            "questions_dropped": quiz.get("questions_dropped", 0),
            "cost": priced(usage, self.settings.model_id),
        }

    # -- the requests ------------------------------------------------------------------------
    def _plans(self, state) -> list[LessonPlan]:
        """PlanLessons' plan; if the bucket lost it, planned again from the stored outline (the
        registry is deterministic: the same plans, ids and objectives)."""
        try:
            return lesson_plans(self.payloads, state)
        except PayloadMissing:
            course = self.courses.get_course(state.course_id)
            if course is None:
                raise
            return plan_lessons(state.course_id, course.outline)

    def _resolve(self, state, plans, current, requests: Sequence[LessonFeedback]) -> list[_Target]:
        by_section = {(plan.part_index, plan.section_index): plan for plan in plans}
        targets: list[_Target] = []
        sections: dict[tuple[int, int], int] = {}
        for i, request in enumerate(requests):
            field = f"lessons[{i}].lesson_id"
            record = self._record(state, request)
            if record is not None:  # a retry of a rewrite already made: what it made
                plan = by_section.get((record["part_index"], record["section_index"]))
                row = None
            else:
                row = next((r for r in current.values() if r.lesson_id == request.lesson_id), None)
                if row is None:
                    raise DecisionInvalid(field, f"{request.lesson_id[:80]!r} is not a current lesson of course "
                                                 f"{state.course_id}: name the latest revision GET /courses/"
                                                 f"{state.course_id}/review lists")
                if row.status != "full":
                    raise DecisionInvalid(field, f"lesson {row.part_index + 1}.{row.section_index + 1} is a placeholder "
                                                 "(not written in full): only a lesson written in full can be rewritten")
                plan = by_section.get((row.part_index, row.section_index))
            if plan is None:
                raise DecisionInvalid(field, f"{request.lesson_id[:80]!r} is no section of the course's outline any more")
            section = (plan.part_index, plan.section_index)
            if section in sections:
                raise DecisionInvalid(field, f"lesson {plan.number} is named already (lessons[{sections[section]}]): "
                                             "give all its feedback in one request")
            sections[section] = i
            targets.append(_Target(i, request, plan, row, record))
        return targets

    def _record_key(self, state, request: LessonFeedback) -> str:
        digest = feedback_digest(request.feedback)[:32]
        return artifact_key(state, f"revisions/{_safe(request.lesson_id)}-{digest}.json")

    def _record(self, state, request: LessonFeedback) -> dict | None:
        try:
            return json.loads(self.payloads.get_text(self._record_key(state, request)))
        except PayloadMissing:
            return None

    # -- one lesson --------------------------------------------------------------------------
    def _rewrite(self, state, plans, current, books, target: _Target, key: str) -> dict:
        plan, row = target.plan, target.row
        assert row is not None
        part = [p for p in plans if p.part_index == plan.part_index and p.section_index < plan.section_index]
        previous = [Lesson(plan=p, markdown=r.markdown, words=r.words, minutes=r.minutes, book_ids=tuple(r.book_ids))
                    for p in part if (r := current.get((p.part_index, p.section_index))) is not None]
        covered = [objective for p in plans if p.lesson_index < plan.lesson_index for objective in p.objectives]
        cited = lesson_books(plan, list(books.values()))
        prompt = revision_prompt(
            plan, current_lesson=row.markdown, reviewer_feedback=target.request.feedback,
            course_outline_context=state.course_outline_context, previous_lessons=previous, covered_objectives=covered,
            books=cited, preferences=state.pending_course_prefs, language=state.language)
        llm = _Counted(self.llm)
        pace = state.pending_course_prefs.pace
        try:
            lesson = ask(llm, prompt, lambda text: parse_lesson(text, plan, set(books), pace), self.settings.max_repairs)
        except CoursegenError as error:  # the same error name (Retry and Catch match it), the lesson named
            raise type(error)(f"Rewriting lesson {plan.number} ({plan.title[:80]}): {error}") from error
        revision = row.revision + 1
        record = {
            "lesson_id": row.lesson_id, "new_lesson_id": stored_lesson_id(plan, revision), "revision": revision,
            "part_index": plan.part_index, "section_index": plan.section_index,
            "markdown": lesson.markdown, "words": lesson.words, "minutes": lesson.minutes,
            "book_ids": list(lesson.book_ids), "usage": llm.usage.to_dict(), "announced": False,
        }
        # recorded before it is stored: a retry after this point reuses it, never writes revision + 2
        self.payloads.put_text(key, json.dumps(record), "application/json")
        return record

    def _stored(self, state, plan: LessonPlan, record: dict, key: str) -> StoredLesson:
        """The rewrite as its own row (the earlier revision stays), the lesson's artifact with its
        text, its course.lesson.generated: each idempotent, so a retry may do them again."""
        row = _row(plan, record)
        self.lessons.store_lesson(row)
        artifact_at = lesson_key(state, plan)
        try:
            artifact = json.loads(self.payloads.get_text(artifact_at))
        except PayloadMissing:
            artifact = {}
        if artifact.get("revision", 1) <= row.revision:  # never over a later rewrite (a stale retry)
            # No "figure": the old one was drawn from the old text (a content re-run proposes one anew).
            self.payloads.put_text(artifact_at, json.dumps({
                "markdown": row.markdown, "words": row.words, "minutes": row.minutes, "book_ids": row.book_ids,
                "status": "full", "revision": row.revision, "lesson_id": row.lesson_id, "announced": True}))
        if not record.get("announced"):
            self.events.publish(LESSON_GENERATED, {
                "course_id": plan.course_id,
                "lesson_id": row.lesson_id,
                "lesson_title": plan.title[:200],
                "module_id": f"part-{plan.part_index + 1}",
                "content_length": len(row.markdown),
                "lesson_index": plan.lesson_index + 1,
            })
            record["announced"] = True
            self.payloads.put_text(key, json.dumps(record), "application/json")
        return row

    # -- the quiz ----------------------------------------------------------------------------
    def _recheck_quiz(self, state, plans: list[LessonPlan], rewritten: dict[str, dict]) -> dict:
        """The quiz's questions on the rewritten lessons, checked again against their new text; the
        failing ones rewritten for just their objectives (or, if no rewrite passes, dropped when
        the quiz still passes check_quiz without them); the quiz written back where the publishing
        stage reads it (BuildSite stores its row)."""
        if not rewritten:
            return {}
        digest = feedback_digest(json.dumps(sorted((lesson_id, r["new_lesson_id"]) for lesson_id, r in rewritten.items())))
        done_key = artifact_key(state, f"revisions/quiz-{digest[:32]}.json")
        try:
            return json.loads(self.payloads.get_text(done_key))  # a retry: re-checked already
        except PayloadMissing:
            pass
        keys = [quiz_key(state.course_id), artifact_key(state, "quiz.json")]  # the published one, GenerateQuiz's draft
        quiz = None
        for key in keys:
            try:
                quiz = StoredQuiz.model_validate_json(self.payloads.get_text(key))
                break
            except PayloadMissing:
                continue
        if quiz is None:  # no quiz asked for, or none written yet: nothing to re-check
            return {}
        objectives = quiz_objectives(plans, {plan.lesson_id for plan in plans if in_full(state, plan)})
        known = {o.objective_id: o for o in objectives}
        new_text = {lesson_id: record["markdown"] for lesson_id, record in rewritten.items()}
        rechecked, failing = 0, []
        for n, question in enumerate(quiz.questions, start=1):
            objective = known.get(question.objective_id)
            if objective is None or objective.lesson_id not in new_text:
                continue
            rechecked += 1
            problems = question_problems(n, question, known) + question_support_problems(
                n, question, objective, new_text[objective.lesson_id])
            if problems:
                # counted, not quoted: the problems quote the course's text, which stays out of the logs
                log.info("quiz question fails its rewritten lesson", extra={"question": n, "problems": len(problems)})
                failing.append(n - 1)
        outcome = {"questions_rechecked": rechecked, "questions_rewritten": 0, "questions_dropped": 0}
        if failing:
            llm = _Counted(self.llm)
            try:
                quiz = self._rewrite_questions(state, llm, quiz, failing, objectives, new_text)
                outcome["questions_rewritten"] = len(failing)
            except LlmOutputInvalid as error:
                dropped = without_questions(quiz, failing)
                if _new_problems(dropped, quiz, objectives):
                    raise LlmOutputInvalid(f"Quiz re-check: {error}") from error
                quiz, outcome["questions_dropped"] = dropped, len(failing)
            outcome["usage"] = llm.usage.to_dict()
            for key in keys:
                self.payloads.put_text(key, quiz.model_dump_json(), "application/json")
            state.quiz_questions_count = len(quiz.questions)  # fewer if some were dropped
        self.payloads.put_text(done_key, json.dumps(outcome), "application/json")
        return outcome

    def _rewrite_questions(self, state, llm: Llm, quiz: StoredQuiz, positions: list[int],
                           objectives: list[QuizObjective], new_text: dict[str, str]) -> StoredQuiz:
        """The questions at these positions written again, by the quiz prompt, for just their
        objectives and on their lessons' new text; each goes back in its place under its own id."""
        wanted = {quiz.questions[p].objective_id for p in positions}
        subset = [o for o in objectives if o.objective_id in wanted]
        count = len(positions)
        prompt = quiz_prompt(state.course_title, subset, new_text, count, state.language, state.pending_course_prefs)

        def parse(text: str) -> ParseResult[StoredQuiz]:
            parsed = parse_quiz(text, state.course_id, subset, count, llm.name, course_title=state.course_title)
            if not parsed.ok or parsed.value is None:
                return parsed
            merged = with_questions_replaced(quiz, positions, parsed.value.questions)
            known = {o.objective_id: o for o in subset}
            problems = [problem for k, question in enumerate(parsed.value.questions, start=1)
                        for problem in question_support_problems(k, question, known[question.objective_id],
                                                                 new_text[known[question.objective_id].lesson_id])]
            problems += in_answer_terms(_new_problems(merged, quiz, objectives), positions)
            if problems:
                return ParseResult.fail(" ".join(problems[:MAX_PROBLEMS]))
            return ParseResult(value=merged)

        return ask(llm, prompt, parse, self.settings.max_repairs)

    # -- the book ----------------------------------------------------------------------------
    def _rebuild_book(self, state, plans: list[LessonPlan]) -> None:
        """The book files again, from the latest revision of every section (PostgreSQL's rows, as
        they are: no row is stored here) and the labs; the figures kept for lessons not rewritten."""
        rows = self.lessons.list_lessons(state.course_id)
        labs = self.lessons.list_labs(state.course_id)
        from coursegen.services.visuals import lesson_figures  # visuals.py builds on lessons.py

        try:
            figures, _ = lesson_figures(self.payloads, state, plans)
        except PayloadMissing:  # an artifact the bucket lost: the book goes without figures
            figures = {}
        write_book(self.payloads, state, plans, rows, labs, figures)


def _row(plan: LessonPlan, record: dict) -> StoredLesson:
    """A rewrite as its own row: revision + 1, its own lesson id."""
    return StoredLesson(
        lesson_id=record["new_lesson_id"], course_id=plan.course_id, part_index=plan.part_index,
        section_index=plan.section_index, lesson_index=plan.lesson_index, title=plan.title,
        markdown=record["markdown"], words=record["words"], minutes=record["minutes"],
        objective_ids=[o.objective_id for o in plan.objectives], book_ids=record["book_ids"], status="full",
        revision=record["revision"])


def _check_shape(requests: Sequence[LessonFeedback]) -> None:
    if not requests:
        raise DecisionInvalid("lessons", "name at least one lesson to rewrite, with its feedback")
    if len(requests) > MAX_LESSONS_PER_REQUEST:
        raise DecisionInvalid("lessons", f"at most {MAX_LESSONS_PER_REQUEST} lessons in one request")
    for i, request in enumerate(requests):
        if not isinstance(request.lesson_id, str) or not request.lesson_id.strip():
            raise DecisionInvalid(f"lessons[{i}].lesson_id", "must be a lesson id")
        if (problem := feedback_problem(request.feedback)) is not None:
            raise DecisionInvalid(f"lessons[{i}].feedback", problem)


def _new_problems(changed: StoredQuiz, before: StoredQuiz, objectives: list[QuizObjective]) -> list[str]:
    """What check_quiz finds in the changed quiz that it did not find before the change."""
    known = set(check_quiz(before, objectives))
    return [problem for problem in check_quiz(changed, objectives) if problem not in known]


def _safe(lesson_id: str) -> str:
    """A lesson id as a key's part (a request's id is the user's text until it is resolved)."""
    return "".join(ch if ch.isalnum() or ch == "-" else "_" for ch in lesson_id)[:64]
