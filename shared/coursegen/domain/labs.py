"""Labs (seed 003's theory-and-labs mode): one per outline part, practising what its lessons teach.

Pure: no I/O. plan_labs derives each part's lab from the lesson plans, so a lab practises exactly
the objectives the registry gave its part's lessons (never another part's); parse_lab checks a
written lab by parsing its Markdown into a tree (markdown-it-py, the lesson checker's helpers),
never by regex over the raw text; lab_prompt renders the registry's WRITE_LAB template.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from coursegen.domain.context import format_book_summaries, format_previous_lectures
from coursegen.domain.lessons import (
    Lesson,
    LessonPlan,
    Objective,
    check_citations,
    count_questions,
    format_objectives,
    heading_sections,
    list_items,
    markdown_tokens,
    section_texts,
)
from coursegen.domain.parsing import ParseResult
from coursegen.domain.prompts import LAB_HEADINGS, WRITE_LAB, Prompt, learner_profile
from coursegen.domain.time_budget import plan_guidance
from coursegen.models import BookSummary, CoursePreferences, StoredLab

MIN_STEPS = 3
MIN_SELF_CHECKS = 2
_OBJECTIVE_REF = re.compile(r"\[(O\d+\.\d+\.\d+)\]")
NO_LESSONS = "(the part's lessons are not available: practise the objectives below)"


@dataclass(frozen=True)
class LabPlan:
    lab_id: str
    course_id: str
    part_index: int  # 0-based
    part_title: str
    objectives: tuple[Objective, ...]  # every objective of the part's lessons, in lesson order
    book_ids: tuple[str, ...]  # the books the part's sections cite, in order
    lesson_indexes: tuple[int, ...]  # the part's lessons, by their place in the course

    @property
    def number(self) -> str:
        """'2': the part, 1-based, as the outline numbers it."""
        return str(self.part_index + 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lab_id": self.lab_id, "course_id": self.course_id, "part_index": self.part_index,
            "part_title": self.part_title,
            "objectives": [{"objective_id": o.objective_id, "text": o.text} for o in self.objectives],
            "book_ids": list(self.book_ids), "lesson_indexes": list(self.lesson_indexes),
        }


def plan_labs(lesson_plans: Sequence[LessonPlan]) -> list[LabPlan]:
    """One lab per part that has lessons, in part order."""
    by_part: dict[int, list[LessonPlan]] = {}
    for plan in sorted(lesson_plans, key=lambda p: p.lesson_index):
        by_part.setdefault(plan.part_index, []).append(plan)
    return [
        LabPlan(
            lab_id=StoredLab.id_for(lessons[0].course_id, part_index),
            course_id=lessons[0].course_id,
            part_index=part_index,
            part_title=lessons[0].part_title,
            objectives=tuple(o for lesson in lessons for o in lesson.objectives),
            book_ids=tuple(dict.fromkeys(b for lesson in lessons for b in lesson.book_ids)),
            lesson_indexes=tuple(lesson.lesson_index for lesson in lessons),
        )
        for part_index, lessons in sorted(by_part.items())
    ]


def lab_books(plan: LabPlan, books: Sequence[BookSummary]) -> list[BookSummary]:
    """The books a lab draws on: those its part cites (all the course's when it cites none)."""
    by_id = {book.book_id: book for book in books}
    return [by_id[b] for b in plan.book_ids if b in by_id] or list(books)


# --- a written lab -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lab:
    plan: LabPlan
    markdown: str
    book_ids: tuple[str, ...]


def parse_lab(markdown: str, plan: LabPlan, known_book_ids: Collection[str]) -> ParseResult[Lab]:
    """Check a written lab; every problem found is listed, each as something to fix."""
    if not markdown or not markdown.strip():
        return ParseResult.fail("The lab is empty: write it in the Markdown shape asked for.")
    known = {book_id.upper(): book_id for book_id in known_book_ids}
    tokens = markdown_tokens(markdown)
    sections = heading_sections(tokens)
    problems: list[str] = []

    if not any(t.type == "heading_open" and t.tag == "h1" for t in tokens):
        problems.append(f"Start with the title as a level-1 heading: '# Lab {plan.number}: {plan.part_title}'.")
    missing = [name for name in LAB_HEADINGS if not section_texts(sections.get(name.casefold(), []))]
    if missing:
        problems.append(
            "Missing or empty section(s): " + ", ".join(f"'## {name}'" for name in missing)
            + ". The lab needs all of: " + ", ".join(f"'## {name}'" for name in LAB_HEADINGS) + "."
        )

    if "Objectives" not in missing:
        listed = " ".join(section_texts(sections["objectives"])).casefold()
        absent = [o for o in plan.objectives if f"[{o.objective_id}]".casefold() not in listed]
        if absent:
            problems.append("Under '## Objectives', list each objective with its id: "
                            + "; ".join(f"'- [{o.objective_id}] {o.text}'" for o in absent) + ".")
    own = {o.objective_id for o in plan.objectives}
    foreign = [ref for text in section_texts(tokens) for ref in _OBJECTIVE_REF.findall(text) if ref not in own]
    if foreign:
        problems.append(f"Objective id(s) {', '.join(f'[{o}]' for o in dict.fromkeys(foreign))} are not this part's: "
                        "practise only the objectives given.")
    if "Steps" not in missing:
        steps = sections["steps"]
        count = len(list_items(steps))
        if not any(t.type == "ordered_list_open" for t in steps) or count < MIN_STEPS:
            problems.append(f"'## Steps' must be a numbered list of at least {MIN_STEPS} steps "
                            f"('1. ...', '2. ...'); it has {count} item(s).")
    if "Self-check" not in missing:
        questions = count_questions(sections["self-check"])
        if questions < MIN_SELF_CHECKS:
            problems.append(f"'## Self-check' has {questions} question(s): write at least {MIN_SELF_CHECKS}, "
                            "as a numbered list.")

    cited, citation_problems = check_citations(sections, known, "Sources" in missing, "The lab",
                                               "cite the books its steps and solution follow as [book_id]")
    problems += citation_problems
    if problems:
        return ParseResult.fail(" ".join(problems))
    return ParseResult(value=Lab(plan=plan, markdown=markdown, book_ids=cited))


# --- the prompt ----------------------------------------------------------------------------------


def lab_prompt(
    plan: LabPlan,
    *,
    course_outline_context: str,
    part_lessons: Sequence[Lesson],
    books: Sequence[BookSummary],
    preferences: CoursePreferences,
    language: str,
) -> Prompt:
    guidance = plan_guidance(1.0, preferences)  # the section range depends on the pace alone
    variables = {
        "course_outline_context": course_outline_context,
        "part_number": plan.number,
        "part_title": plan.part_title,
        "part_lessons": format_previous_lectures(part_lessons, preferences.pace) if part_lessons else NO_LESSONS,
        "lab_objectives": format_objectives(plan.objectives),
        "book_summaries": format_book_summaries(lab_books(plan, books)),
        "learner_profile": learner_profile(
            preferences, language, (guidance.section_minutes_low, guidance.section_minutes_high)),
        "language": language,
    }
    return WRITE_LAB.render(variables)


def placeholder_lab(plan: LabPlan) -> Lab:
    """The lab of a part none of whose lessons is written in full (the request's
    full_lessons_count): its title, objectives and sources. No model is asked."""
    markdown = "\n\n".join([
        f"# Lab {plan.number}: {plan.part_title}",
        "*Placeholder: this lab is not written yet (the lessons of its part are placeholders too).*",
        "## Objectives\n" + format_objectives(plan.objectives),
        "## Sources\n" + ("\n".join(f"- [{book_id}]" for book_id in plan.book_ids) or "- (the course's sources)"),
    ]) + "\n"
    return Lab(plan=plan, markdown=markdown, book_ids=plan.book_ids)
