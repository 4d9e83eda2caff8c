"""Rewriting lessons a reviewer asked changes for (issue 15, point 5): the pure parts.

revision_prompt renders lessons.revise_lesson from the same grounding as the first writing
(lesson_prompt's variables) plus the lesson as it is and the reviewer's feedback; the quiz's
questions on a rewritten lesson are re-checked against its new text (question_support_problems:
quoted passages still in the lesson, the answer's words still taught, the objective still listed);
questions rewritten for just their objectives go back in their places under their own ids
(with_questions_replaced); and what the rewrite cost, from the replies' token counts (Usage,
priced with domain/estimate.py's table). No I/O.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from coursegen.domain.estimate import model_price
from coursegen.domain.lessons import (
    Lesson, LessonPlan, Objective, heading_sections, lesson_prompt, markdown_tokens, section_texts,
)
from coursegen.domain.prompts import REVISE_LESSON, Prompt
from coursegen.domain.quiz import QuizObjective
from coursegen.models import BookSummary, CoursePreferences, QuestionKind, QuizQuestion, StoredQuiz

SUPPORT_SHARE = 0.5  # at least half of an answer's (or a statement's) words are still in the lesson
MIN_QUOTE_CHARS = 20  # a shorter quoted text is a term, checked as words
_QUOTED = re.compile(r"[\u201c\"]([^\u201d\"]+)[\u201d\"]")
_BLANK = re.compile(r"_{3,}")
_CITATION = re.compile(r"\s*\[[^\[\]\n]{1,200}\]")
_CONTENT_WORD = re.compile(r"[^\W\d_]{4,}")
# Words of four letters or more that carry no subject matter: an answer need not find them in the lesson.
_FUNCTION_WORDS = frozenset("""
about above after again also because been before being below between both could does each either from have
into just many more most much must only other over same should some such than that their them then there
these they this those through true false under very what when where whether which while with would your
lesson lessons says statement""".split())


def feedback_digest(feedback: str) -> str:
    """The feedback's identity: a retried request carries the same text, so the same digest."""
    return hashlib.sha256(feedback.encode("utf-8")).hexdigest()


def revision_prompt(
    plan: LessonPlan,
    *,
    current_lesson: str,
    reviewer_feedback: str,
    course_outline_context: str,
    previous_lessons: Sequence[Lesson],
    covered_objectives: Sequence[Objective],
    books: Sequence[BookSummary],
    preferences: CoursePreferences,
    language: str,
) -> Prompt:
    """lessons.revise_lesson: exactly what the first writing saw (lesson_prompt's variables, so the
    two cannot drift), the lesson as it is and the feedback (both rendered as escaped data)."""
    first = lesson_prompt(plan, course_outline_context=course_outline_context, previous_lessons=previous_lessons,
                          covered_objectives=covered_objectives, books=books, preferences=preferences, language=language)
    variables = first.variables | {"current_lesson": current_lesson, "reviewer_feedback": reviewer_feedback.strip()}
    return REVISE_LESSON.render(variables, max_tokens=first.max_tokens)


# --- the quiz's re-check ---------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Text as compared: Unicode forms, case, citations and spacing aside."""
    text = _CITATION.sub("", unicodedata.normalize("NFKC", text))
    return " ".join(text.casefold().split())


def lesson_text(markdown: str) -> str:
    """A lesson's words as a reader sees them (markup gone), plain for comparing."""
    return _plain(" ".join(section_texts(markdown_tokens(markdown))))


def _stems(text: str) -> set[str]:
    return {word[:5] for word in _CONTENT_WORD.findall(text.casefold()) if word not in _FUNCTION_WORDS}


def _quoted_in(quote: str, text: str) -> bool:
    """Whether the lesson's text holds the quoted passage (a blank standing for any one word)."""
    pieces = [re.escape(_plain(piece)) for piece in _BLANK.split(quote)]
    pattern = r"\s*\S+\s*".join(piece for piece in pieces)
    return re.search(pattern, text) is not None


def _objective_listed(objective_id: str, markdown: str) -> bool:
    listed = " ".join(section_texts(heading_sections(markdown_tokens(markdown)).get("objectives", [])))
    return f"[{objective_id}]".casefold() in listed.casefold()


def question_support_problems(number: int, question: Any, objective: QuizObjective, markdown: str) -> list[str]:
    """What ties a question to a lesson that the lesson's new text no longer gives, each problem
    naming the question: the objective is still listed under '## Objectives'; every passage it
    quotes is still in the lesson (a false statement's stem is not the lesson's, by design); the
    correct option's words (a multiple choice) or the statement's (a true/false), at least half
    of them, are still taught."""
    where = f"Question {number}"
    text = lesson_text(markdown)
    kind = getattr(question.kind, "value", question.kind)
    problems: list[str] = []
    if not _objective_listed(objective.objective_id, markdown):
        problems.append(f"{where}: lesson {objective.lesson_number} no longer lists objective [{objective.objective_id}].")
    false_statement = kind == QuestionKind.true_false.value and question.correct_index == 1
    quoted = [(name, quote) for name, field in ([] if false_statement else [("stem", question.stem)])
              + [("explanation", question.explanation)]
              for quote in _QUOTED.findall(field) if len(quote.strip()) >= MIN_QUOTE_CHARS]
    missing = [name for name, quote in quoted if not _quoted_in(quote, text)]
    if missing:
        problems.append(f"{where}: its {' and '.join(dict.fromkeys(missing))} quote text lesson "
                        f"{objective.lesson_number} no longer has.")
    if kind == QuestionKind.multiple_choice.value and 0 <= question.correct_index < len(question.options):
        answer = question.options[question.correct_index]
    elif kind == QuestionKind.true_false.value and not false_statement and not quoted:
        answer = question.stem
    else:
        answer = ""
    wanted = _stems(_QUOTED.sub(" ", answer) if kind == QuestionKind.true_false.value else answer)
    if wanted and len(wanted & _stems(text)) < SUPPORT_SHARE * len(wanted):
        problems.append(f"{where}: lesson {objective.lesson_number} no longer teaches its answer.")
    return problems


def with_questions_replaced(quiz: StoredQuiz, positions: Sequence[int], questions: Sequence[QuizQuestion]) -> StoredQuiz:
    """The quiz with the questions at these (0-based) positions replaced, each new one under the id
    of the question it replaces: the quiz's ids, and every other question, stay as they were."""
    kept = list(quiz.questions)
    for position, question in zip(positions, questions, strict=True):
        kept[position] = question.model_copy(update={"question_id": quiz.questions[position].question_id})
    return quiz.model_copy(update={"questions": kept})


def without_questions(quiz: StoredQuiz, positions: Sequence[int]) -> StoredQuiz:
    dropped = set(positions)
    return quiz.model_copy(update={"questions": [q for i, q in enumerate(quiz.questions) if i not in dropped]})


_QUESTION_REF = re.compile(r"\b([Qq]uestion) (\d+)\b")


def in_answer_terms(problems: Sequence[str], positions: Sequence[int]) -> list[str]:
    """The whole quiz's problems as the model that wrote only the replacements reads them: the
    quiz's question N is its answer's question k, or a question of the quiz that stays."""
    answer_number = {position + 1: k for k, position in enumerate(positions, start=1)}

    def named(match: re.Match) -> str:
        n = int(match.group(2))
        return (f"{match.group(1)} {answer_number[n]} of your answer" if n in answer_number
                else f"{match.group(1).lower()} {n} of the quiz (kept as it is)")

    return [_QUESTION_REF.sub(named, problem) for problem in problems]


# --- the cost ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """Model calls and their tokens, as the replies counted them."""

    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(self.model_calls + other.model_calls, self.input_tokens + other.input_tokens,
                     self.output_tokens + other.output_tokens)

    def to_dict(self) -> dict[str, int]:
        return {"model_calls": self.model_calls, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Usage":
        data = data or {}
        return cls(int(data.get("model_calls", 0)), int(data.get("input_tokens", 0)), int(data.get("output_tokens", 0)))


def priced(usage: Usage, model_id: str) -> dict[str, Any]:
    """The usage with its dollar cost at the model's listed price (None when it has none listed)."""
    price = model_price(model_id)
    cost = None if price is None else round(usage.input_tokens * price[0] + usage.output_tokens * price[1], 6)
    return usage.to_dict() | {"cost_usd": cost, "model": model_id[:80]}
