"""The course quiz: 10 to 15 questions on the objectives of the lessons written in full.

Pure: no I/O. quiz_objectives lists what the quiz may assess (a placeholder lesson teaches nothing
to ask about); quiz_prompt renders the registry's WRITE_QUIZ template with the opening of each
lesson as data; parse_quiz checks the model's one JSON object and builds the StoredQuiz with
deterministic ids; check_quiz applies the same rules to a stored quiz (the evidence pack).

The rules, each broken one a repair message that names its question:
* kind multiple_choice (exactly 4 options) or true_false (exactly 2, true first); options
  non-empty and distinct, case and spacing aside; correct_index one of them, so exactly one
  option is correct by construction;
* a multiple-choice stem does not give its answer away: the correct option's words (3 characters
  or more: a lone digit or symbol occurs in stems by chance) are not in it; a true/false stem may
  say "true", its options are the words for true and false;
* every stem ends as a question, a statement or a lead-in does (? . ! : or an ellipsis); no two
  stems alike; every question has an explanation;
* the objective is one of those given (the question's lesson is that objective's lesson);
* exactly `count` questions: the prompt asks for that many, so a longer or shorter answer is
  repaired, never silently cut or padded;
* coverage, as wide as the count allows: every objective at least once when there are as many
  questions as objectives; otherwise no objective twice (each question its own) and every lesson
  at least once when there are as many questions as lessons;
* bounded, printable text: a stem at most 400 characters, an option 200, an explanation 600
  (whitespace runs counted, and stored, as one space), no control characters.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError, field_validator

from coursegen.domain.lessons import LessonPlan
from coursegen.domain.parsing import ParseResult, parse_json_object
from coursegen.domain.prompts import WRITE_QUIZ, Prompt, learner_profile
from coursegen.domain.time_budget import plan_guidance
from coursegen.models import CoursePreferences, QuestionKind, QuizQuestion, StoredQuiz, describe_validation_error

QUIZ_MIN_QUESTIONS = 10
QUIZ_MAX_QUESTIONS = 15
MAX_STEM_CHARS, MAX_OPTION_CHARS, MAX_EXPLANATION_CHARS = 400, 200, 600
OPTIONS_PER_KIND = {QuestionKind.multiple_choice.value: 4, QuestionKind.true_false.value: 2}
LESSON_EXCERPT_CHARS = 1500  # the opening of each lesson the prompt carries
LESSONS_TEXT_CHARS = 30_000  # and of all of them: a long course's lessons get shorter openings
MAX_PROBLEMS = 12  # listed in one repair message (the rest are counted): enough to fix, short enough to read
ANSWER_IN_STEM_MIN_CHARS = 3
_STEM_END = ".?!:…"
_CLOSERS = "\"'”’»)]"
# The words for true and false, in the course languages: a pair the wrong way round is caught.
_TRUE_WORDS = frozenset({"true", "wahr", "richtig", "vrai", "verdadero", "cierto"})
_FALSE_WORDS = frozenset({"false", "falsch", "faux", "falso"})
QUIZ_SHAPE = '{"questions": [{"kind", "stem", "options", "correct_index", "explanation", "objective_id"}, ...]}'

# uuid5(NAMESPACE_URL, "https://coursegen/quizzes"), written out so it can never drift.
QUIZ_NAMESPACE = uuid.UUID("91ec2767-a5c2-5108-a78d-260942987e8e")


@dataclass(frozen=True)
class QuizObjective:
    objective_id: str  # "O2.3.1"
    text: str
    lesson_id: str
    lesson_number: str  # "2.3"
    lesson_title: str


def quiz_objectives(plans: Sequence[LessonPlan], full_lesson_ids: set[str]) -> list[QuizObjective]:
    """The objectives of the lessons written in full, in course order."""
    return [
        QuizObjective(objective.objective_id, objective.text, plan.lesson_id, plan.number, plan.title)
        for plan in sorted(plans, key=lambda p: p.lesson_index) if plan.lesson_id in full_lesson_ids
        for objective in plan.objectives
    ]


def question_count(objectives: int) -> int:
    """A question per objective, 10 at least and 15 at most: a short course's objectives are asked
    about again, a long course's cannot all be."""
    return max(QUIZ_MIN_QUESTIONS, min(QUIZ_MAX_QUESTIONS, objectives))


def quiz_id_for(course_id: str, revision: int = 1) -> str:
    """The quiz id of a course's revision, the same on every run (a retry or resume names it alike)."""
    return str(uuid.uuid5(QUIZ_NAMESPACE, f"{course_id}/{revision}"))


def question_id_for(quiz_id: str, number: int) -> str:
    """The id of a quiz's n-th question (1-based), the same on every run."""
    return str(uuid.uuid5(QUIZ_NAMESPACE, f"{quiz_id}/question/{number}"))


def quiz_title(course_title: str) -> str:
    return f"Quiz: {course_title}" if course_title.strip() else "Quiz"


# --- the checks ---------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """Whitespace runs as one space: how a question's text is measured and stored."""
    return " ".join(text.split())


def _option_key(text: str) -> str:
    """What makes two options the same: case, spacing and Unicode forms aside (not punctuation:
    'WACC - g' and 'WACC + g' are different answers)."""
    return one_line(unicodedata.normalize("NFKC", text).casefold())


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text)


def answer_in_stem(stem: str, answer: str) -> bool:
    """Whether the stem holds the answer as words of its own (not inside a longer word)."""
    key = _option_key(answer)
    if len(key) < ANSWER_IN_STEM_MIN_CHARS:
        return False
    return re.search(rf"(?<![^\W_]){re.escape(key)}(?![^\W_])", _option_key(stem)) is not None


def _ends_sensibly(stem: str) -> bool:
    return stem.rstrip().rstrip(_CLOSERS).rstrip()[-1:] in tuple(_STEM_END)


def _quoted(text: str, limit: int = 60) -> str:
    text = one_line(text)
    return f"'{text if len(text) <= limit else text[:limit - 1] + '…'}'"


def _refs(ids: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(f"[{i}]" for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def question_problems(number: int, question: Any, known: Mapping[str, QuizObjective]) -> list[str]:
    """What is wrong with one question (a model's answer or a stored QuizQuestion: the same
    attributes), each problem naming it."""
    where = f"Question {number}"
    kind = getattr(question.kind, "value", question.kind)
    stem, options, explanation = question.stem, list(question.options), question.explanation
    problems: list[str] = []

    fields = [("stem", stem), ("explanation", explanation)] + [(f"option {i}", o) for i, o in enumerate(options, 1)]
    dirty = [name for name, text in fields if _has_control_characters(text)]
    if dirty:
        problems.append(f"{where}: remove the control characters from its {', '.join(dirty)}.")

    if kind not in OPTIONS_PER_KIND:
        problems.append(f"{where}: kind {kind!r} is not known: use \"multiple_choice\" (4 options) or "
                        "\"true_false\" (2 options).")
    elif len(options) != OPTIONS_PER_KIND[kind]:
        problems.append(f"{where} ({kind}) has {len(options)} option(s): give exactly {OPTIONS_PER_KIND[kind]}.")
    keys = [_option_key(option) for option in options]
    empty = [i for i, key in enumerate(keys, 1) if not key]
    if empty:
        problems.append(f"{where}: option(s) {', '.join(map(str, empty))} are empty: write every option.")
    seen: dict[str, int] = {}
    for i, key in enumerate(keys, 1):
        if key and key in seen:
            problems.append(f"{where}: options {seen[key]} and {i} are the same ({_quoted(options[i - 1])}): "
                            "make every option different.")
        seen.setdefault(key, i)
    long = [i for i, option in enumerate(options, 1) if len(one_line(option)) > MAX_OPTION_CHARS]
    if long:
        problems.append(f"{where}: option(s) {', '.join(map(str, long))} are longer than {MAX_OPTION_CHARS} "
                        "characters: shorten them.")

    correct = question.correct_index
    if not 0 <= correct < len(options):
        problems.append(f"{where}: correct_index {correct} is not one of its {len(options)} options: "
                        f"use 0 to {max(0, len(options) - 1)} (0 is the first option).")
    elif kind == QuestionKind.multiple_choice.value and answer_in_stem(stem, options[correct]):
        problems.append(f"{where}: the stem contains the correct answer ({_quoted(options[correct])}): "
                        "reword the stem so it does not give the answer away.")
    if kind == QuestionKind.true_false.value and len(keys) == 2 and keys[0] in _FALSE_WORDS and keys[1] in _TRUE_WORDS:
        problems.append(f"{where}: put the true option first: [{_quoted(options[1])}, {_quoted(options[0])}].")

    if not stem.strip():
        problems.append(f"{where} has no stem: write the question.")
    elif not _ends_sensibly(stem):
        problems.append(f"{where}: the stem ends {_quoted(stem[-40:])}: end it as a question ('?'), a statement "
                        "('.') or a lead-in (':') does.")
    if len(one_line(stem)) > MAX_STEM_CHARS:
        problems.append(f"{where}: the stem has {len(one_line(stem))} characters: shorten it to {MAX_STEM_CHARS}.")
    if not explanation.strip():
        problems.append(f"{where} has no explanation: say why the answer is right.")
    elif len(one_line(explanation)) > MAX_EXPLANATION_CHARS:
        problems.append(f"{where}: the explanation has {len(one_line(explanation))} characters: shorten it to "
                        f"{MAX_EXPLANATION_CHARS}.")
    if question.objective_id not in known:
        problems.append(f"{where}: objective_id {question.objective_id!r} is not one of the objectives given: "
                        f"use one of {_refs(list(known))}.")
    return problems


def _coverage_problems(questions: Sequence[Any], objectives: Sequence[QuizObjective], count: int) -> list[str]:
    ids = [o.objective_id for o in objectives]
    asked: dict[str, list[int]] = {}
    for n, question in enumerate(questions, 1):
        if question.objective_id in ids:
            asked.setdefault(question.objective_id, []).append(n)
    if count >= len(ids):
        missing = [i for i in ids if i not in asked]
        if missing:
            return [f"Objective(s) {_refs(missing)} have no question: with {count} questions for {len(ids)} "
                    "objectives, assess every objective at least once."]
        return []
    problems = []
    twice = {oid: numbers for oid, numbers in asked.items() if len(numbers) > 1}
    if twice:
        unused = [i for i in ids if i not in asked]
        problems.append(
            f"With {count} questions for {len(ids)} objectives, give each question an objective of its own: "
            + "; ".join(f"[{oid}] is assessed by questions {', '.join(map(str, numbers))}" for oid, numbers in twice.items())
            + f". Assess objectives not yet assessed instead, e.g. {_refs(unused, 5)}.")
    lessons = list(dict.fromkeys(o.lesson_number for o in objectives))
    if count >= len(lessons):
        assessed = {o.lesson_number for o in objectives if o.objective_id in asked}
        unassessed = [number for number in lessons if number not in assessed]
        if unassessed:
            first = {number: next(o.objective_id for o in objectives if o.lesson_number == number) for number in unassessed}
            problems.append(f"Lesson(s) {', '.join(unassessed)} have no question: with {count} questions for "
                            f"{len(lessons)} lessons, assess every lesson at least once (e.g. {_refs(list(first.values()), 5)}).")
    return problems


def quiz_problems(questions: Sequence[Any], objectives: Sequence[QuizObjective], count: int) -> list[str]:
    """Every rule of the module docstring, over a whole quiz: [] when it is fine."""
    known = {o.objective_id: o for o in objectives}
    problems = []
    if len(questions) != count:
        problems.append(f"The quiz has {len(questions)} question(s): write exactly {count}.")
    for n, question in enumerate(questions, 1):
        problems += question_problems(n, question, known)
    first_with: dict[str, int] = {}
    for n, question in enumerate(questions, 1):
        key = _option_key(question.stem)
        if key and key in first_with:
            problems.append(f"Question {n} repeats the stem of question {first_with[key]}: ask something else.")
        first_with.setdefault(key, n)
    return problems + _coverage_problems(questions, objectives, count)


def _repair_message(problems: Sequence[str]) -> str:
    shown = " ".join(problems[:MAX_PROBLEMS])
    return shown + (f" ({len(problems) - MAX_PROBLEMS} more problem(s) like these.)" if len(problems) > MAX_PROBLEMS else "")


class _AnsweredQuestion(BaseModel):
    """One question as the model answers it: the shape only (quiz_problems checks the rest)."""

    model_config = ConfigDict(extra="ignore")

    kind: StrictStr
    stem: StrictStr
    options: list[StrictStr]
    correct_index: StrictInt  # not "1", not true
    explanation: StrictStr
    objective_id: StrictStr

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_as_named(cls, value: Any) -> Any:
        """' Multiple_Choice ' is multiple_choice."""
        return value.strip().casefold() if isinstance(value, str) else value

    @field_validator("objective_id", mode="before")
    @classmethod
    def _bare_id(cls, value: Any) -> Any:
        """'[O2.1.1]' is O2.1.1 (the prompt shows ids in brackets)."""
        return value.strip().strip("[]").strip() if isinstance(value, str) else value


def parse_quiz(text: str, course_id: str, objectives: Sequence[QuizObjective], count: int, generator: str,
               *, course_title: str = "") -> ParseResult[StoredQuiz]:
    """Check the model's quiz; every problem found is listed, each naming its question."""
    parsed = parse_json_object(text, QUIZ_SHAPE)
    if not parsed.ok or parsed.value is None:
        return ParseResult.fail(parsed.error)
    raw = parsed.value.get("questions")
    if not isinstance(raw, list) or not raw:
        return ParseResult.fail(f'The answer needs a "questions" list of {count} questions: {QUIZ_SHAPE}.')
    questions, problems = [], []
    for n, item in enumerate(raw, 1):
        try:
            questions.append(_AnsweredQuestion.model_validate(item))
        except ValidationError as error:
            problems.append(f"Question {n}: {describe_validation_error(error, whole='question')}.")
    if problems:  # the shape first: the rules need it
        return ParseResult.fail(_repair_message(problems))
    problems = quiz_problems(questions, objectives, count)
    if problems:
        return ParseResult.fail(_repair_message(problems))
    known = {o.objective_id: o for o in objectives}
    quiz_id = quiz_id_for(course_id)
    return ParseResult(value=StoredQuiz(
        quiz_id=quiz_id, course_id=course_id, title=quiz_title(course_title), generator=generator,
        questions=[
            QuizQuestion(
                question_id=question_id_for(quiz_id, n), kind=QuestionKind(q.kind), stem=one_line(q.stem),
                options=[one_line(option) for option in q.options], correct_index=q.correct_index,
                explanation=one_line(q.explanation), lesson_id=known[q.objective_id].lesson_id,
                objective_id=q.objective_id)
            for n, q in enumerate(questions, 1)
        ]))


def _a_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def check_quiz(quiz: StoredQuiz, objectives: Sequence[QuizObjective], count: int | None = None) -> list[str]:
    """What is wrong with a stored quiz ([] when nothing is): parse_quiz's rules, for the count the
    workflow asks for (question_count of the objectives, unless given), and its ids and lessons."""
    count = question_count(len(objectives)) if count is None else count
    problems = quiz_problems(quiz.questions, objectives, count)
    known = {o.objective_id: o for o in objectives}
    if not _a_uuid(quiz.quiz_id):
        problems.append(f"The quiz id {quiz.quiz_id!r} is not a UUID.")
    ids = [q.question_id for q in quiz.questions]
    for n, question in enumerate(quiz.questions, 1):
        if not _a_uuid(question.question_id):
            problems.append(f"Question {n}: its id {question.question_id!r} is not a UUID.")
        elif ids.index(question.question_id) != n - 1:
            problems.append(f"Question {n}: its id is question {ids.index(question.question_id) + 1}'s too.")
        objective = known.get(question.objective_id)
        if objective is not None and question.lesson_id != objective.lesson_id:
            problems.append(f"Question {n}: its lesson is not the lesson of objective [{objective.objective_id}] "
                            f"(lesson {objective.lesson_number}).")
    return problems


# --- the prompt ----------------------------------------------------------------------------------


def lesson_excerpt(markdown: str, limit: int = LESSON_EXCERPT_CHARS) -> str:
    """The opening of a lesson's teaching text: its title line and its Objectives and Sources
    sections left out (the prompt lists the objectives; sources are ids), cut at a word."""
    kept, skipping, fenced = [], False, False
    for line in (markdown or "").splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("# "):
            continue
        elif not fenced and line.startswith("## "):
            skipping = line[3:].strip().strip(":").casefold() in ("objectives", "sources")
        if not skipping:
            kept.append(line)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    cut = cut.rsplit(None, 1)[0] if " " in cut or "\n" in cut else cut
    return cut.rstrip() + " …"


def format_quiz_objectives(objectives: Sequence[QuizObjective]) -> str:
    """The objectives by lesson: a 'Lesson 2.1: <title>' line, then '- [O2.1.1] <objective>' lines."""
    lines: list[str] = []
    for objective in objectives:
        header = f"Lesson {objective.lesson_number}: {objective.lesson_title}"
        if header not in lines:
            lines.append(header)
        lines.append(f"- [{objective.objective_id}] {objective.text}")
    return "\n".join(lines)


def format_lesson_excerpts(objectives: Sequence[QuizObjective], lessons_markdown: Mapping[str, str]) -> str:
    """Each assessed lesson's opening after a '[Lesson 2.1: <title>]' line, in course order."""
    first: dict[str, QuizObjective] = {}
    for objective in objectives:
        first.setdefault(objective.lesson_id, objective)
    lessons = list(first.values())
    limit = min(LESSON_EXCERPT_CHARS, LESSONS_TEXT_CHARS // max(1, len(lessons)))
    blocks = [f"[Lesson {o.lesson_number}: {o.lesson_title}]\n"
              + (lesson_excerpt(lessons_markdown[o.lesson_id], limit) if o.lesson_id in lessons_markdown
                 else "(this lesson's text is not available: ask about its objectives only)")
              for o in lessons]
    return "\n\n".join(blocks)


def coverage_rule(objectives: int, lessons: int, count: int) -> str:
    """The coverage the checks require, as the prompt says it."""
    if count >= objectives:
        return "Assess every objective at least once, each before any is assessed again."
    rule = "There are more objectives than questions: give each question an objective of its own"
    return rule + (", and every lesson at least one question." if count >= lessons else ".")


def quiz_max_tokens(count: int) -> int:
    """About 250 tokens a question (a stem, four options, an explanation) and the JSON, up to 8000."""
    return min(8000, 500 + 250 * max(1, count))


def quiz_prompt(course_title: str, objectives: Sequence[QuizObjective], lessons_markdown: Mapping[str, str],
                count: int, language: str, preferences: CoursePreferences) -> Prompt:
    if not objectives:
        raise ValueError("a quiz needs the objectives of at least one lesson written in full")
    guidance = plan_guidance(1.0, preferences)  # the section range depends on the pace alone
    lessons = len({o.lesson_id for o in objectives})
    variables = {
        "course_title": course_title,
        "question_count": count,
        "coverage": coverage_rule(len(objectives), lessons, count),
        "objectives": format_quiz_objectives(objectives),
        "lessons": format_lesson_excerpts(objectives, lessons_markdown),
        "learner_profile": learner_profile(
            preferences, language, (guidance.section_minutes_low, guidance.section_minutes_high)),
        "language": language,
    }
    return WRITE_QUIZ.render(variables, max_tokens=quiz_max_tokens(count))
