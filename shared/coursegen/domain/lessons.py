"""Lessons: one per outline section, planned before any is written, written in batches.

Pure: no I/O. plan_lessons is the learning-objective registry (stable ids, each objective owned by
exactly one lesson, so lessons written in parallel do not teach the same thing twice);
expand_batches is seed 003's BatchExpander; parse_lesson checks a written lesson by parsing its
Markdown into a tree (markdown-it-py), never by regex over the raw text; lesson_prompt renders the
registry's WRITE_LESSON template.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from coursegen.domain.context import format_book_summaries, format_previous_lectures
from coursegen.domain.parsing import ParseResult
from coursegen.domain.prompts import LESSON_HEADINGS, WRITE_LESSON, Prompt, learner_profile, lesson_max_tokens
from coursegen.domain.time_budget import plan_guidance
from coursegen.models import BookSummary, CourseOutline, CoursePreferences, Pace

# uuid5(NAMESPACE_URL, "https://coursegen/lessons"), written out so it can never drift.
LESSON_NAMESPACE = uuid.UUID("98fd89b3-5f67-5178-b239-975baf1ed589")

# Delivery rate per pace, in words per minute: a lesson is delivered as a lecture, read aloud or
# narrated, so the rates are speaking rates. Tauroza & Allison ("Speech rates in British English",
# Applied Linguistics 11(1), 1990) measured lectures at about 140 words a minute, radio monologue
# near 160; the US National Center for Voice and Speech gives about 150 for conversational English
# (silent reading runs faster, ~238 for non-fiction: Brysbaert 2019, J. Memory and Language 109).
# A moderate lesson runs just below a lecture's rate (new material, with a worked example to
# follow), a relaxed one slower with room to pause, an intensive one at conversational speed.
WORDS_PER_MINUTE: dict[Pace, int] = {Pace.relaxed: 110, Pace.moderate: 130, Pace.intensive: 150}
LENGTH_TOLERANCE = 0.25  # a lesson more than 25% off its target words is repaired
MIN_QUESTIONS = 2
_OBJECTIVE_ID = re.compile(r"^O\d+\.\d+\.\d+$")


def target_words(minutes: int, pace: Pace) -> int:
    """How many words a lesson of `minutes` minutes is at the pace's delivery rate."""
    return round(max(0, minutes) * WORDS_PER_MINUTE[Pace(pace)])


@dataclass(frozen=True)
class Objective:
    objective_id: str  # "O2.3.1": part.section.n, 1-based
    text: str


@dataclass(frozen=True)
class LessonPlan:
    lesson_id: str
    course_id: str
    part_index: int  # 0-based
    section_index: int  # 0-based within its part
    lesson_index: int  # 0-based across the course, in outline order
    part_title: str
    title: str
    minutes: int
    objectives: tuple[Objective, ...]
    book_ids: tuple[str, ...]

    @property
    def number(self) -> str:
        """'2.3': part and section, 1-based, as the outline numbers them."""
        return f"{self.part_index + 1}.{self.section_index + 1}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "lesson_id": self.lesson_id,
            "course_id": self.course_id,
            "part_index": self.part_index,
            "section_index": self.section_index,
            "lesson_index": self.lesson_index,
            "part_title": self.part_title,
            "title": self.title,
            "minutes": self.minutes,
            "objectives": [{"objective_id": o.objective_id, "text": o.text} for o in self.objectives],
            "book_ids": list(self.book_ids),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LessonPlan":
        return cls(
            lesson_id=str(data["lesson_id"]),
            course_id=str(data["course_id"]),
            part_index=int(data["part_index"]),
            section_index=int(data["section_index"]),
            lesson_index=int(data["lesson_index"]),
            part_title=str(data["part_title"]),
            title=str(data["title"]),
            minutes=int(data["minutes"]),
            objectives=tuple(Objective(str(o["objective_id"]), str(o["text"])) for o in data["objectives"]),
            book_ids=tuple(str(b) for b in data["book_ids"]),
        )


def lesson_id_for(course_id: str, part_index: int, section_index: int) -> str:
    return str(uuid.uuid5(LESSON_NAMESPACE, f"{course_id}/{part_index}/{section_index}"))


def normalise_objective(text: str) -> str:
    """What makes two objectives the same: case, spacing, accents' forms and end punctuation aside."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip(" .;:!")


def plan_lessons(course_id: str, outline: CourseOutline) -> list[LessonPlan]:
    """One lesson per outline section, in outline order, each with the objectives it owns.

    The registry walks the sections in order: an objective (normalised text) belongs to the first
    lesson that lists it; a later section's duplicate is dropped there. A lesson left with none
    gets one derived from its title (made unique if even that is taken). Ids are 'O<part>.<section>.<n>',
    1-based, numbered over the objectives the lesson keeps.
    """
    owned: set[str] = set()
    plans: list[LessonPlan] = []
    for part_index, part in enumerate(outline.parts):
        for section_index, section in enumerate(part.sections):
            number = f"{part_index + 1}.{section_index + 1}"
            texts: list[str] = []
            for text in section.objectives:
                key = normalise_objective(text)
                if key and key not in owned:
                    owned.add(key)
                    texts.append(text.strip())
            if not texts:
                derived = f"Explain {section.title[:1].lower()}{section.title[1:]}".strip()
                if normalise_objective(derived) in owned:
                    derived = f"{derived} (lesson {number})"
                owned.add(normalise_objective(derived))
                texts.append(derived)
            plans.append(LessonPlan(
                lesson_id=lesson_id_for(course_id, part_index, section_index),
                course_id=course_id,
                part_index=part_index,
                section_index=section_index,
                lesson_index=len(plans),
                part_title=part.title,
                title=section.title,
                minutes=section.minutes,
                objectives=tuple(Objective(f"O{number}.{n}", text) for n, text in enumerate(texts, start=1)),
                book_ids=tuple(dict.fromkeys(section.book_ids)),
            ))
    return plans


BATCH_FIELDS = ("module_number", "batch_index", "total_batches", "batch_start_idx", "batch_end_idx")


def expand_batches(plans: Sequence[LessonPlan], max_per_batch: int) -> list[dict[str, int]]:
    """Seed 003's BatchExpander: per part ceil(lessons / N) batches, one flat list across parts,
    in outline order. Indexes are positions within the part: start 0-based, end exclusive."""
    if max_per_batch < 1:
        raise ValueError("max_per_batch must be at least 1")
    per_part: dict[int, int] = {}
    for plan in plans:
        per_part[plan.part_index] = per_part.get(plan.part_index, 0) + 1
    batches: list[dict[str, int]] = []
    for part_index in sorted(per_part):
        count = per_part[part_index]
        total = math.ceil(count / max_per_batch)
        for i in range(total):
            batches.append({
                "module_number": part_index + 1,
                "batch_index": i + 1,
                "total_batches": total,
                "batch_start_idx": i * max_per_batch,
                "batch_end_idx": min(count, (i + 1) * max_per_batch),
            })
    return batches


# --- a written lesson ------------------------------------------------------------------------


@dataclass(frozen=True)
class Lesson:
    plan: LessonPlan
    markdown: str
    words: int
    minutes: float
    book_ids: tuple[str, ...]

    def key_takeaways(self, limit: int = 5, max_chars: int = 240) -> list[str]:
        """The lesson's key takeaways as text (what later lessons of its part are told), bounded."""
        section = heading_sections(markdown_tokens(self.markdown)).get("key takeaways", [])
        items = list_items(section) or [t for t in _paragraphs(section)]
        return [_clip(item, max_chars) for item in items[:limit]]


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def markdown_tokens(markdown: str) -> list[Token]:
    return _parser().parse(markdown or "")


def _inline_text(token: Token) -> str:
    """The text of an inline token, markup removed (emphasis, links, code spans kept as their text)."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def _heading_key(text: str) -> str:
    """'2. Worked Example:' -> 'worked example'."""
    text = re.sub(r"^[\s\d.):-]+", "", text.casefold())
    return re.sub(r"\s+", " ", text).strip(" :.-")


def heading_sections(tokens: list[Token]) -> dict[str, list[Token]]:
    """The tokens under each H2, keyed by its normalised heading (the first of a repeated one);
    tokens before the first H2 under '' (the H1 and any note)."""
    sections: dict[str, list[Token]] = {"": []}
    current = sections[""]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "heading_open" and token.tag == "h2":
            key = _heading_key(_inline_text(tokens[i + 1]))
            current = sections.setdefault(key, []) if key not in sections else []
            i += 3
            continue
        current.append(token)
        i += 1
    return sections


def list_items(tokens: list[Token]) -> list[str]:
    """Top-level list items of a section, as text (nested lists and paragraphs inside joined)."""
    items: list[str] = []
    depth = 0
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
        elif token.type == "list_item_open" and depth == 1:
            items.append("")
        elif token.type == "inline" and depth >= 1 and items:
            items[-1] = (items[-1] + " " + _inline_text(token)).strip()
    return items


def _paragraphs(tokens: list[Token]) -> list[str]:
    texts, depth = [], 0
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
        elif token.type == "inline" and depth == 0 and _inline_text(token).strip():
            texts.append(_inline_text(token).strip())
    return texts


def section_texts(tokens: list[Token]) -> list[str]:
    """Every piece of text the tokens hold: inline text and code blocks."""
    out = []
    for token in tokens:
        if token.type == "inline":
            out.append(_inline_text(token))
        elif token.type in ("fence", "code_block"):
            out.append(token.content)
    return out


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_BRACKET = re.compile(r"\[([^\[\]\n]{1,200})\]")
_ID_SHAPE = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")


def _citations(text: str, known: dict[str, str]) -> tuple[list[str], list[str]]:
    """The book ids a text cites as [id] (or [id, id]): (known ids, unknown ids). A bracket is a
    citation when its parts are known ids, or look like ids (no spaces, a digit); objective ids
    ('[O2.3.1]') are not citations."""
    cited, unknown = [], []
    for match in _BRACKET.finditer(text):
        parts = [p.strip() for p in re.split(r"[,;]", match.group(1))]
        if not all(_ID_SHAPE.match(p) for p in parts):
            continue
        for part in parts:
            if _OBJECTIVE_ID.match(part):
                continue
            if part.upper() in known:
                cited.append(known[part.upper()])
            elif any(ch.isdigit() for ch in part):
                unknown.append(part)
    return cited, unknown


def check_citations(sections: dict[str, list[Token]], known: dict[str, str], sources_missing: bool, what: str,
                    cite_hint: str) -> tuple[tuple[str, ...], list[str]]:
    """The books a lesson or a lab cites (in the text, then under '## Sources'), and what is
    wrong with its citations: an unknown id, none in the text, one the sources leave out."""
    problems: list[str] = []
    body_cited: list[str] = []
    unknown: list[str] = []
    for name, section_tokens in sections.items():
        for text in section_texts(section_tokens):
            cited, bad = _citations(text, known)
            unknown += bad
            if name != "sources":
                body_cited += cited
    if unknown:
        allowed = ", ".join(f"[{b}]" for b in known.values()) or "(none)"
        problems.append(f"Unknown citation(s) {', '.join(f'[{u}]' for u in dict.fromkeys(unknown))}: "
                        f"cite only the books given, by id: {allowed}.")
    body_cited = list(dict.fromkeys(body_cited))
    sources_cited, _ = _citations(" ".join(section_texts(sections.get("sources", []))), known)
    if not body_cited:
        problems.append(f"{what} cites no book: {cite_hint}.")
    unlisted = [b for b in body_cited if b not in sources_cited]
    if unlisted and not sources_missing:
        problems.append(f"'## Sources' must list every book {what.lower()} cites; add: "
                        + ", ".join(f"[{b}]" for b in unlisted) + ".")
    return tuple(dict.fromkeys(body_cited + sources_cited)), problems


def count_questions(tokens: list[Token]) -> int:
    """A numbered list's items, or else the paragraphs that ask something."""
    return len(list_items(tokens) or [p for p in _paragraphs(tokens) if "?" in p])


def count_words(markdown: str) -> int:
    """Words of the text, not the markup: headings, list markers, emphasis and citations
    ('[fin-001]', '[O2.3.1]') do not count."""
    return sum(_count_text_words(text) for text in section_texts(markdown_tokens(markdown)))


def _count_text_words(text: str) -> int:
    return len(_WORD.findall(_BRACKET.sub(lambda m: " " if " " not in m.group(1) else m.group(1), text)))


def parse_lesson(markdown: str, plan: LessonPlan, known_book_ids: Collection[str], pace: Pace) -> ParseResult[Lesson]:
    """Check a written lesson; every problem found is listed, each as something to fix."""
    if not markdown or not markdown.strip():
        return ParseResult.fail("The lesson is empty: write it in the Markdown shape asked for.")
    known = {book_id.upper(): book_id for book_id in known_book_ids}
    tokens = markdown_tokens(markdown)
    sections = heading_sections(tokens)
    problems: list[str] = []

    if not any(t.type == "heading_open" and t.tag == "h1" for t in tokens):
        problems.append(f"Start with the title as a level-1 heading: '# Lesson {plan.number}: {plan.title}'.")
    missing = [name for name in LESSON_HEADINGS if not section_texts(sections.get(name.casefold(), []))]
    if missing:
        problems.append(
            "Missing or empty section(s): " + ", ".join(f"'## {name}'" for name in missing)
            + f". The lesson needs all of: " + ", ".join(f"'## {name}'" for name in LESSON_HEADINGS) + "."
        )

    listed = " ".join(section_texts(sections.get("objectives", [])))
    if "Objectives" not in missing:
        absent = [o for o in plan.objectives if f"[{o.objective_id}]".casefold() not in listed.casefold()]
        if absent:
            problems.append("Under '## Objectives', list each objective with its id: "
                            + "; ".join(f"'- [{o.objective_id}] {o.text}'" for o in absent) + ".")
    if "Check your understanding" not in missing:
        questions = count_questions(sections["check your understanding"])
        if questions < MIN_QUESTIONS:
            problems.append(f"'## Check your understanding' has {questions} question(s): "
                            f"write at least {MIN_QUESTIONS}, as a numbered list.")

    cited, citation_problems = check_citations(sections, known, "Sources" in missing, "The lesson",
                                               "cite the books it draws on as [book_id] in the text")
    problems += citation_problems

    words = count_words(markdown)
    target = target_words(plan.minutes, pace)
    if target and abs(words - target) > LENGTH_TOLERANCE * target:
        low, high = math.ceil(target * (1 - LENGTH_TOLERANCE)), math.floor(target * (1 + LENGTH_TOLERANCE))
        problems.append(f"The lesson has {words} words; write about {target} words "
                        f"(between {low} and {high}: {plan.minutes} minutes at the {Pace(pace).value} pace).")
    if problems:
        return ParseResult.fail(" ".join(problems))
    book_ids = cited
    minutes = round(words / WORDS_PER_MINUTE[Pace(pace)], 1)
    return ParseResult(value=Lesson(plan=plan, markdown=markdown, words=words, minutes=minutes, book_ids=book_ids))


# --- the prompt ----------------------------------------------------------------------------------


def format_objectives(objectives: Sequence[Objective]) -> str:
    return "\n".join(f"- [{o.objective_id}] {o.text}" for o in objectives)


def lesson_books(plan: LessonPlan, books: Sequence[BookSummary]) -> list[BookSummary]:
    """The books a lesson draws on: those its section cites, in the section's order (all the
    course's books when the section cites none, so the lesson is still grounded)."""
    by_id = {book.book_id: book for book in books}
    cited = [by_id[book_id] for book_id in plan.book_ids if book_id in by_id]
    return cited or list(books)


def lesson_prompt(
    plan: LessonPlan,
    *,
    course_outline_context: str,
    previous_lessons: Sequence[Lesson],
    covered_objectives: Sequence[Objective],
    books: Sequence[BookSummary],
    preferences: CoursePreferences,
    language: str,
) -> Prompt:
    guidance = plan_guidance(1.0, preferences)  # the section range depends on the pace alone
    words = target_words(plan.minutes, preferences.pace)
    variables = {
        "course_outline_context": course_outline_context,
        "previous_lectures": format_previous_lectures(previous_lessons, preferences.pace),
        "covered_objectives": format_objectives(covered_objectives) or "(none yet)",
        "lesson_title": plan.title,
        "lesson_number": plan.number,
        "part_title": plan.part_title,
        "lesson_objectives": format_objectives(plan.objectives),
        "book_summaries": format_book_summaries(lesson_books(plan, books)),
        "learner_profile": learner_profile(
            preferences, language, (guidance.section_minutes_low, guidance.section_minutes_high)),
        "target_words": words,
        "language": language,
    }
    return WRITE_LESSON.render(variables, max_tokens=lesson_max_tokens(words))


def placeholder_lesson(plan: LessonPlan) -> Lesson:
    """A lesson not written in full (the request's full_lessons_count): its title, objectives and
    sources, so the course reads whole and shows what a full run would write. No model is asked."""
    markdown = "\n\n".join([
        f"# {plan.title}",
        "*Placeholder: this lesson is not written yet (the course was asked for fewer full lessons).*",
        "## Objectives\n" + format_objectives(plan.objectives),
        "## Sources\n" + ("\n".join(f"- [{book_id}]" for book_id in plan.book_ids) or "- (the course's sources)"),
    ]) + "\n"
    return Lesson(plan=plan, markdown=markdown, words=count_words(markdown), minutes=float(plan.minutes),
                  book_ids=plan.book_ids)
