"""Offline adapters: the WordLlama embedder and the deterministic offline planner.

The offline planner is NOT an LLM. It answers each of the three prompts in the text format an
LLM is asked for, grounded on the book summaries in the prompt, so that parsing, the time budget
and the review loop all run for real without a model. It writes the course a designer would
sketch from those summaries: an overview first, one theme per part (a book's topics stay
together), the learner's depth and pace in the section lengths, the focus in the time given.
Its part plans add up exactly (it counts better than a model); its section expansions round to
the pace's natural section length, so outlines drift from the target the way real ones do, and
the review pass rescales them.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from coursegen.adapters.offline_assessment import write_landing_copy, write_quiz
from coursegen.domain.context import format_course_outline
from coursegen.domain.grounding import course_subject
from coursegen.domain.parsing import parse_text_outline_to_database
from coursegen.domain.prompts import NO_FEEDBACK, NOT_STATED, Prompt
from coursegen.ports import LlmReply

OFFLINE_PLANNER_NAME = "offline planner (not an LLM)"
LABEL = "Note: written by the offline planner, not an LLM."
OVERVIEW = "Course overview"
FOUNDATIONS = "Foundations and key terms"
# A re-plan after review feedback: the library topics the feedback names get a part of their own,
# second (after the foundations), with more time; the plan and that part's sections say so.
REVIEW_FOCUS = "Review focus"
REPLANNED = "Re-planned after review feedback"

_BOOK_LINE = re.compile(r"^\[([^\]]+)\]\s+(.+?)(?:\s+—\s+.*)?$")
_TOPICS_LINE = re.compile(r"^Key topics:\s*(.+)$")
_RELEVANCE_LINE = re.compile(r"^Relevance:\s*(-?[\d.]+)$")
CLOSE_TO_BEST = 0.3  # draw on books within 30% of the best match's relevance
_THIS_PART = re.compile(r"^Part\s+(\d+):.*\(this part\)\s*$")
_PLAN_PART = re.compile(r"^Part\s+(\d+):\s*(.+?)\s*\(\d+ minutes\)")
_COVERS = re.compile(r"^Covers:\s*(.+)$")
_PLAN_COUNT = re.compile(r"Plan\s+(\d+)\s+parts")
_CITATION = re.compile(r"\s*\[([^\]]+)\]\s*$")
_PROFILE_LINE = re.compile(r"^(Audience|Focus|Language|Depth|Pace):\s*(.*)$")
_SECTION_RANGE = re.compile(r"sections of (\d+)-(\d+) minutes")
_LANGUAGE_CODE = re.compile(r"code is '([a-z]{2})'")
_WORD = re.compile(r"[a-z0-9]+")

# Where in the pace's section range a section's length falls: an overview takes the long end
# (fewer, broader sections), a deep course the short end (more, narrower ones).
DEPTH_POSITION = {"overview": 1.0, "balanced": 0.5, "deep": 0.0}
FOCUS_WEIGHT = 1.5  # a part on the learner's focus gets half as much time again
MAX_TOPICS_PER_PART = 4


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass(frozen=True)
class _Profile:
    """The learner_profile lines of a prompt, as the planner reacts to them."""

    audience: str = ""
    focus: str = ""
    language: str = "en"
    depth: str = "balanced"
    section_range: tuple[int, int] = (10, 25)

    @property
    def section_minutes(self) -> float:
        low, high = self.section_range
        return low + (high - low) * DEPTH_POSITION.get(self.depth, 0.5)


def _profile(text: str) -> _Profile:
    lines = {m.group(1): m.group(2).strip() for line in text.splitlines() if (m := _PROFILE_LINE.match(line.strip()))}
    stated = {key: value for key, value in lines.items() if not value.startswith(NOT_STATED)}
    section = _SECTION_RANGE.search(lines.get("Pace", ""))
    language = _LANGUAGE_CODE.search(lines.get("Language", ""))
    return _Profile(
        audience=stated.get("Audience", ""),
        focus=stated.get("Focus", ""),
        language=language.group(1) if language else "en",
        depth=lines.get("Depth", "balanced").split(":")[0].strip() or "balanced",
        section_range=(int(section.group(1)), int(section.group(2))) if section else (10, 25),
    )


@dataclass
class _Book:
    book_id: str
    title: str
    relevance: float = 1.0
    topics: list[str] = field(default_factory=list)

    @property
    def theme(self) -> str:
        """What the book is about: its subtitle when it has one ('Cash Flows First: Forecasting
        Free Cash Flow for Valuation' -> 'Forecasting Free Cash Flow for Valuation')."""
        return self.title.split(":", 1)[1].strip() if ":" in self.title[:-1] else self.title


class OfflinePlanner:
    """A deterministic, retrieval-grounded outline writer standing in for an LLM offline."""

    name = OFFLINE_PLANNER_NAME

    def complete(self, prompt: Prompt) -> LlmReply:
        answer = {
            "courses.generate_parts": self._plan_parts,
            "courses.expand_part": self._expand_part,
            "courses.review_outline": self._review_outline,
            "lessons.write_lesson": _write_lesson,
            "lessons.revise_lesson": _revise_lesson,
            "labs.write_lab": _write_lab,
            "lessons.propose_visual": _propose_visual,
            "quiz.generate": write_quiz,  # offline_assessment.py
            "landing.write_copy": write_landing_copy,
        }[prompt.name](prompt.variables)
        return LlmReply(answer, _estimate_tokens(prompt.text), _estimate_tokens(answer))

    # courses.generate_parts
    def _plan_parts(self, v: dict) -> str:
        profile = _profile(v.get("learner_profile", ""))
        themes = _themes(_library(v["summaries_context"]), profile.focus)
        feedback = str(v.get("reviewer_feedback", NO_FEEDBACK))
        asked = _asked_for(feedback, themes) if feedback.strip() != NO_FEEDBACK else []
        match = _PLAN_COUNT.search(v["parts_count_guidance"])
        count = int(match.group(1)) if match else 3
        count = max(1, min(count, sum(len(book.topics) for book in themes), int(v["target_minutes"]) // 5))
        if asked:  # the topics the reviewer asked for leave their themes for a part of their own
            themes = [_Book(b.book_id, b.title, b.relevance, [t for t in b.topics if (t, b.book_id) not in asked])
                      for b in themes]
            themes = [b for b in themes if b.topics]
        # Part 1 opens with the course's map, then each theme's opening idea (the vocabulary the
        # later parts use); every other part is one theme, the closing theme last.
        openings = [(book.topics[0], book.book_id) for book in themes][:MAX_TOPICS_PER_PART]
        rest = [_Book(b.book_id, b.title, b.relevance, b.topics[1:] if (b.topics[0], b.book_id) in openings else b.topics)
                for b in themes]
        rest = [b for b in rest if b.topics]
        count = min(count, 1 + sum(len(b.topics) for b in rest) + bool(asked))  # every part teaches at least one topic
        parts = [(FOUNDATIONS, [(OVERVIEW, (openings or asked)[0][1])] + openings)] if openings or asked else []
        if asked:
            parts.append((f"{REVIEW_FOCUS}: " + _sentence_case(" and ".join(topic for topic, _ in asked[:2])), asked))
        if rest and (count > len(parts) or asked):  # a re-plan keeps every theme beside the asked-for part
            parts += _parts_by_theme(rest, max(1, count - len(parts)))
        on_focus = [_focus_score(profile.focus, [title] + [t for t, _ in covered]) for title, covered in parts]
        weights = [(0.7 if i == 0 and len(parts) > 1 else 1.0) * (FOCUS_WEIGHT if 0 < score == max(on_focus) else 1.0)
                   * (FOCUS_WEIGHT if title.startswith(REVIEW_FOCUS) else 1.0)
                   for i, ((title, _), score) in enumerate(zip(parts, on_focus))]
        minutes = _split_minutes(int(v["target_minutes"]), weights)
        label = _label(profile)
        if feedback.strip() != NO_FEEDBACK and asked:
            named = "; ".join(topic for topic, _ in asked)
            label += f" {REPLANNED}: {named} " + ("gets a part of its own." if len(asked) == 1 else "get a part of their own.")
        elif feedback.strip() != NO_FEEDBACK:
            label += f" {REPLANNED}: no topic of the library matched it, so the plan is as before."
        lines = [f"Course title: {_course_title(v['query'])}", label]
        for i, ((title, covered), part_minutes) in enumerate(zip(parts, minutes)):
            if 0 < i == len(parts) - 1 and len(parts) > 2:
                title = f"Putting it together: {title}"
            lines.append(f"Part {i + 1}: {title} ({part_minutes} minutes)")
            lines.append("Covers: " + "; ".join(f"{topic} [{book_id}]" for topic, book_id in covered))
        lines.append(f"Total: {sum(minutes)} minutes")
        return "\n".join(lines) + "\n"

    # courses.expand_part
    def _expand_part(self, v: dict) -> str:
        profile = _profile(v.get("learner_profile", ""))
        number, title, part_minutes = int(v["part_index"]), v["part_title"], int(v["part_minutes"])
        covered = _covers_of_this_part(v["existing_outline"]) or [(title, "")]
        label = _label(profile) + (f" {REPLANNED}: this part is the topics the reviewer asked for."
                                   if title.startswith(f"{REVIEW_FOCUS}:") else "")
        lines = [label, f"## Part {number}: {title} ({part_minutes} minutes)"]
        sections: list[tuple[str, int, list[str], list[str]]] = []  # title, minutes, objectives, book ids
        if covered[0][0] == OVERVIEW and len(covered) > 1 and part_minutes >= 15:
            overview_minutes = 5 if part_minutes <= 30 else 10
            others = [_short(t) for n, t in _plan_titles(v["existing_outline"]) if n != number]
            route = f"from {others[0]} to {others[-1]}" if len(others) > 1 else (f"on to {others[0]}" if others else "")
            sections.append((f"{OVERVIEW}: {course_subject(v['query'])}", overview_minutes, [
                f"Map the route of the course{' ' + route if route else ''}, and the question it answers",
                f"Set out what {profile.audience or 'you'} will be able to do by the end",
            ], [covered[0][1]]))
            part_minutes -= overview_minutes
        topics = [item for item in covered if item[0] != OVERVIEW] or covered
        proper = _proper_words(v["book_summaries_context"])
        count = max(1, round(part_minutes / profile.section_minutes))
        section_minutes = max(5, 5 * round(part_minutes / count / 5))
        for i, group in enumerate(_share(topics, count)):
            topic = group[0][0]
            book_ids = list(dict.fromkeys(book_id for _, book_id in group if book_id))
            if i >= len(topics):  # more sections than topics: practise what the part taught
                heading, objectives = f"Worked example: {topic}", _practice_objectives(topic, profile.depth, proper)
            elif len(group) == 1:
                heading = topic
                objectives = [_objective(topic, profile.depth, proper), _follow_up(topic, profile.depth, proper)]
            else:  # neighbours sharing a section: an objective each, the second a follow-up
                heading = topic
                objectives = [_objective(topic, profile.depth, proper), _follow_up(group[1][0], profile.depth, proper)]
                objectives += [_objective(other, profile.depth, proper) for other, _ in group[2:]]
            if _same(heading, title):  # a section never just repeats its part's title
                heading = f"Key ideas: {heading}"
            sections.append((_sentence_case(heading), section_minutes, objectives, book_ids))
        for i, (heading, minutes, objectives, book_ids) in enumerate(sections):
            lines.append(f"### Section {number}.{i + 1}: {heading} ({minutes} minutes)")
            lines.append("Objectives: " + "; ".join(objectives))
            if book_ids:
                lines.append("Sources: " + ", ".join(f"[{book_id}]" for book_id in book_ids))
        return "\n".join(lines) + "\n"

    # courses.review_outline
    def _review_outline(self, v: dict) -> str:
        refs = {book.book_id.upper(): book.book_id for book in _library(v["book_summaries_context"])}
        parsed = parse_text_outline_to_database(v["outline_text"], refs)
        if not parsed.ok or parsed.value is None:
            return f"{LABEL}\nThe outline could not be read: {parsed.error}\n"
        outline = parsed.value
        target = int(v["target_total"])
        sections = [s for part in outline.parts for s in part.sections]
        new_minutes = _split_minutes(target, [s.minutes or 1 for s in sections])
        for section, minutes in zip(sections, new_minutes):
            section.minutes = minutes
        for part in outline.parts:
            part.minutes = sum(s.minutes for s in part.sections)
        return f"{_label(_profile(v.get('learner_profile', '')))}\n" + format_course_outline(outline)


def _label(profile: _Profile) -> str:
    if profile.language != "en":  # it cannot write another language, and says so
        return f"{LABEL} It writes English only; the course was asked for in '{profile.language}'."
    return LABEL


def _library(context: str) -> list[_Book]:
    """The books of a summaries context, in its order: id, title, relevance and key topics."""
    books: list[_Book] = []
    for line in context.splitlines():
        line = line.strip()
        if match := _BOOK_LINE.match(line):
            books.append(_Book(match.group(1), match.group(2)))
        elif (match := _TOPICS_LINE.match(line)) and books:
            books[-1].topics = [t.strip() for t in match.group(1).split(";") if t.strip()]
        elif (match := _RELEVANCE_LINE.match(line)) and books:
            books[-1].relevance = float(match.group(1))
    for book in books:
        book.topics = book.topics or [book.theme]  # the title stands in if no topics follow
    return books


def _themes(books: list[_Book], focus: str) -> list[_Book]:
    """The books the course draws on, one theme each: those close to the best match (and any on
    the learner's focus), most relevant first, with the one that ties the others together (the
    most shared vocabulary: a workbook, a case) last, where the applied part goes. A topic a
    theme before it already taught is not taught again."""
    if not books:
        return []
    best = max(book.relevance for book in books)
    scores = {b.book_id: _focus_score(focus, [b.title, *b.topics]) for b in books}
    top = max(scores.values())
    focus_of = {book_id: score if score == top else 0 for book_id, score in scores.items()}  # the best matches only
    chosen = [b for b in books if b.relevance >= best - CLOSE_TO_BEST * abs(best) or focus_of[b.book_id]]
    chosen.sort(key=lambda b: (-focus_of[b.book_id], -b.relevance))  # the learner's focus leads
    if len(chosen) > 2:
        words = [_words(" ".join(b.topics)) for b in chosen]
        shared = [sum(len(words[i] & words[j]) for j in range(len(chosen)) if j != i) for i in range(len(chosen))]
        chosen.append(chosen.pop(shared.index(max(shared))))
    seen: set[str] = set()
    themes = []
    for book in chosen:
        topics = [t for t in book.topics if t.lower() not in seen]
        seen.update(t.lower() for t in topics)
        if topics:
            themes.append(_Book(book.book_id, book.title, book.relevance, topics))
    return themes


# Words of a reviewer's feedback that say how, not what: they match no topic.
_FEEDBACK_COMMON = frozenset("more less please spend time part parts section sections course should would could "
                             "want need focus cover about also much like instead include longer shorter".split())


def _asked_for(feedback: str, themes: list[_Book]) -> list[tuple[str, str]]:
    """The library topics a reviewer's feedback names, as (topic, book id), the closest first: those
    whose every word the feedback uses (by their first five letters), or most of them and at least
    two; failing those, the ones sharing the most words with it; none when no topic shares a word.
    The feedback is only matched against, never copied."""
    wanted = {w[:5] for w in _words(feedback) if w not in _FEEDBACK_COMMON}
    scored = []  # (share of the topic's words the feedback uses, how many, topic, book id)
    for book in themes:
        for topic in book.topics:
            stems = {w[:5] for w in _words(topic)}
            if stems and (hits := len(stems & wanted)):
                scored.append((hits / len(stems), hits, topic, book.book_id))
    scored.sort(key=lambda item: (-item[0], -item[1]))
    named = [(topic, book_id) for share, hits, topic, book_id in scored if share == 1 or (share >= 0.6 and hits >= 2)]
    if not named and scored:
        named = [(topic, book_id) for share, hits, topic, book_id in scored if (share, hits) == scored[0][:2]]
    return named[:MAX_TOPICS_PER_PART]


def _parts_by_theme(themes: list[_Book], count: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """`count` parts over the themes, a theme's topics together: fewer parts than themes keep the
    first count-1 and the closing one; more split the themes with the most topics."""
    if count < len(themes):
        themes = themes[: count - 1] + themes[-1:] if count > 1 else themes[:1]
    shares = [1] * len(themes)
    while sum(shares) < count and any(len(b.topics) > n for b, n in zip(themes, shares)):
        i = max(range(len(themes)), key=lambda k: (len(themes[k].topics) / shares[k], -k))
        shares[i] += 1
    parts = []
    for book, share in zip(themes, shares):
        for j, chunk in enumerate(_share([(topic, book.book_id) for topic in book.topics], share)):
            title = book.theme if j == 0 else f"{book.theme} (part {j + 1})"
            parts.append((title, chunk[:MAX_TOPICS_PER_PART]))
    return parts


def _share(items: list[tuple[str, str]], count: int) -> list[list[tuple[str, str]]]:
    """`count` sections over the topics, in order: neighbours share a section when there are
    fewer sections than topics; extra sections practise the topics again."""
    if count <= len(items):
        size, extra = divmod(len(items), count)
        groups, start = [], 0
        for i in range(count):
            end = start + size + (1 if i < extra else 0)
            groups.append(items[start:end])
            start = end
        return groups
    return [[item] for item in items] + [[items[i % len(items)]] for i in range(count - len(items))]


# Objectives: the verb follows what the topic is (a comparison, a question, a procedure, a
# concept) and the learner's depth, so no two sections read as one template.
_CONCEPT_VERBS = {"overview": "Describe", "balanced": "Explain", "deep": "Analyse"}
_PROCEDURE_VERBS = {"overview": "Outline the steps of", "balanced": "Practise", "deep": "Carry out, step by step,"}
_FOLLOW_UPS = {
    "overview": ["Recognise where {t} fits in the course", "Summarise {t} in a few sentences",
                 "Name the questions {t} answers"],
    "balanced": ["Apply {t} to a worked example", "Spot the common mistakes in {t}",
                 "Check {t} against the book's example", "Work a short exercise on {t}"],
    "deep": ["Test the assumptions behind {t}", "Reconcile {t} with an alternative method",
             "Critique how {t} is used in practice", "Work a full case on {t}"],
}


def _objective(topic: str, depth: str, proper: frozenset[str] = frozenset()) -> str:
    t = _lower_first(topic, proper)
    if match := re.match(r"^(.+?)\s+(?:versus|vs\.?)\s+(.+)$", topic, flags=re.I):
        return f"Compare {_lower_first(match.group(1), proper)} with {_lower_first(match.group(2), proper)}"
    if match := re.match(r"^(why|how|when|what)\s+(.+)$", topic, flags=re.I):
        return f"Explain {match.group(1).lower()} {match.group(2)}"
    first = topic.split()[0] if topic.split() else ""
    if first.lower().endswith("ing") and len(first) > 5:
        return f"{_PROCEDURE_VERBS.get(depth, 'Practise')} {t}"
    return f"{_CONCEPT_VERBS.get(depth, 'Explain')} {t}"


def _follow_up(topic: str, depth: str, proper: frozenset[str] = frozenset()) -> str:
    options = _FOLLOW_UPS.get(depth, _FOLLOW_UPS["balanced"])
    return options[zlib.crc32(topic.encode()) % len(options)].format(t=_lower_first(topic, proper))


def _practice_objectives(topic: str, depth: str, proper: frozenset[str] = frozenset()) -> list[str]:
    t = _lower_first(topic, proper)
    return [f"Work through {t} on a complete example", _follow_up(topic, depth, proper)]


def _focus_score(focus: str, texts: Sequence[str]) -> int:
    """How many of the focus's words a book's title and topics use (by their first five letters)."""
    wanted = {w[:5] for w in _words(focus)}
    return len(wanted & {w[:5] for text in texts for w in _words(text)})


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 4 and w not in _COMMON}


_COMMON = frozenset("with from into their them than that this what when which versus basics".split())


def _plan_titles(plan: str) -> list[tuple[int, str]]:
    return [(int(m.group(1)), m.group(2).removesuffix("(this part)").strip())
            for line in plan.splitlines() if (m := _PLAN_PART.match(line.strip()))]


def _short(part_title: str) -> str:
    return re.sub(r"^(?:Putting it together):\s*", "", part_title)


def _same(a: str, b: str) -> bool:
    return _short(a).lower().strip() == _short(b).lower().strip()


def _lower_first(text: str, proper: frozenset[str] = frozenset()) -> str:
    """'Free cash flow' -> 'free cash flow' inside a sentence; 'WACC versus ...' and a name
    ('Gordon growth', known from the summaries) keep their capitals."""
    first = re.split(r"[\s-]", text, maxsplit=1)[0]
    return text if not text or first[:2].isupper() or first in proper else text[0].lower() + text[1:]


def _proper_words(context: str) -> frozenset[str]:
    """Capitalised words the summaries use inside a sentence (not at its start): names."""
    words = set()
    summaries = "\n".join(line.removeprefix("Summary:") for line in context.splitlines() if line.startswith("Summary:"))
    for sentence in re.split(r"[.!?;:\n]|\s[—-]\s", summaries):
        tokens = re.findall(r"[A-Za-z][A-Za-z'-]*", sentence)
        words.update(t.split("-")[0] for t in tokens[1:] if t[0].isupper() and not t[:2].isupper())
    return frozenset(words)


def _covers_of_this_part(plan: str) -> list[tuple[str, str]]:
    lines = plan.splitlines()
    for i, line in enumerate(lines):
        if _THIS_PART.match(line.strip()) and i + 1 < len(lines) and (m := _COVERS.match(lines[i + 1].strip())):
            covered = []
            for item in m.group(1).split(";"):
                citation = _CITATION.search(item)
                topic = _CITATION.sub("", item).strip()
                if topic:
                    covered.append((topic, citation.group(1) if citation else ""))
            return covered
    return []


def _split_minutes(total: int, weights: Sequence[float]) -> list[int]:
    """Split total into multiples of 5 in proportion to weights (largest remainder), adding up
    exactly; a total that is not a multiple of 5 leaves its remainder on the last item. Every item
    gets 5 minutes when there are enough; when there are not, the least weighted get 0."""
    units, rest = divmod(total, 5)
    scale = units / sum(weights)
    raw = [w * scale for w in weights]
    floor = 1 if units >= len(weights) else 0
    shares = [max(floor, math.floor(r)) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: raw[i] - math.floor(raw[i]), reverse=True)
    i = 0
    while sum(shares) < units:
        shares[by_remainder[i % len(shares)]] += 1
        i += 1
    while sum(shares) > units:
        shares[shares.index(max(shares))] -= 1
    minutes = [5 * s for s in shares]
    minutes[-1] += rest
    return minutes


def _course_title(query: str) -> str:
    return _sentence_case(course_subject(query)) or "Course"


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


# --- the lesson half: the offline writer ------------------------------------------------------

WRITER_LABEL = "Written by the offline writer (the offline planner's lesson half), not an LLM."
_GROUNDING_NOTE = (
    "Every statement below is quoted from the summaries of the books it cites, chosen for this "
    "lesson's objectives by word overlap; nothing is added to them."
)
_OBJECTIVE_LINE = re.compile(r"^\s*[-*]\s*\[([^\]]+)\]\s*(.+?)\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
# How much fixed material a lesson carries before it is filled to length: (sentences per
# objective, worked-example steps, takeaways, topic questions), largest first; short lessons take
# a smaller layout so they are not long before the filling starts.
_LAYOUTS = ((3, 6, 4, 3), (2, 4, 3, 2), (1, 3, 2, 1), (1, 2, 1, 1))
_REREADS = (
    "Read this point with the objective \u201c{o}\u201d in mind: {s}",
    "What does this add to \u201c{o}\u201d? {s}",
    "Before moving on, restate this point in your own words, then say how it serves \u201c{o}\u201d: {s}",
)


@dataclass(eq=False)  # hashed by identity: a quoted sentence is (its book, the sentence)
class _Source:
    book_id: str
    title: str
    byline: str = ""
    summary: str = ""
    topics: list[str] = field(default_factory=list)

    @property
    def sentences(self) -> list[str]:
        return [s.strip() for s in _SENTENCE_END.split(self.summary) if len(s.split()) >= 4]


def _sources(context: str) -> list[_Source]:
    """The books of a format_book_summaries text: id, title, byline, summary and key topics."""
    books: list[_Source] = []
    for line in context.splitlines():
        line = line.strip()
        if match := re.match(r"^\[([^\]]+)\]\s+(.+?)(?:\s+—\s+(.*))?$", line):
            books.append(_Source(match.group(1), match.group(2), match.group(3) or ""))
        elif books and line.startswith("Summary:"):
            books[-1].summary = line.removeprefix("Summary:").strip()
        elif books and (match := _TOPICS_LINE.match(line)):
            books[-1].topics = [t.strip() for t in match.group(1).split(";") if t.strip()]
    return [book for book in books if book.summary]


def _md(text: str) -> str:
    """Quoted text as Markdown text: brackets become parentheses (so nothing reads as a citation)
    and the characters Markdown would take as markup are escaped."""
    text = text.replace("[", "(").replace("]", ")")
    return re.sub(r"([\\`*_<>#|])", r"\\\1", text)


# The verbs and frames objectives are written in say what to do, not what about: they do not rank.
_OBJECTIVE_FRAME = frozenset(_w[:5] for _w in (
    "practise explain check against book example spot common mistakes work short exercise compare describe "
    "analyse outline steps carry recognise summarise name questions answers apply worked test assumptions "
    "behind reconcile alternative method critique used practice full sentences where fits"
).split())


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _words(text)} - _OBJECTIVE_FRAME


def _ranked(query: str, items: list[tuple[_Source, str]]) -> list[tuple[_Source, str]]:
    """Items by the word stems they share with the query, a stem weighted by how rare it is among
    the items (a word every sentence uses says little), the summary's order breaking ties."""
    wanted = _stems(query)
    stems = [_stems(text) for _, text in items]
    frequency = {stem: sum(stem in s for s in stems) for stem in wanted}
    scores = [sum(1 / frequency[stem] for stem in wanted & s) for s in stems]
    order = sorted(range(len(items)), key=lambda i: (-scores[i], i))
    return [items[i] for i in order]


def _write_lesson(v: dict) -> str:
    """A grounded, extractive lesson in the shape parse_lesson checks, about target_words long:
    the sentences of the cited summaries that bear on each objective, quoted with their citation;
    the lesson is filled to length by re-reading them against the objectives, never by new facts."""
    from coursegen.domain.lessons import count_words  # the count parse_lesson uses

    books = _sources(v["book_summaries"])
    objectives = [(m.group(1), m.group(2)) for line in str(v["lesson_objectives"]).splitlines()
                  if (m := _OBJECTIVE_LINE.match(line))]
    number, title, target = v["lesson_number"], v["lesson_title"], int(v["target_words"])
    profile = _profile(v.get("learner_profile", ""))
    note = f"*{WRITER_LABEL}* {_GROUNDING_NOTE}"
    if profile.language != "en":
        note += f" It writes English only; the course was asked for in '{profile.language}'."
    if not books:
        return f"# Lesson {number}: {_md(title)}\n\n{note}\n\nNo book summaries were given, so there is nothing to teach from.\n"
    items = [(book, sentence) for book in books for sentence in book.sentences] or [(book, book.summary) for book in books]
    per_objective = [_ranked(f"{text} {title}", items) for _, text in objectives] or [_ranked(title, items)]
    best = _ranked(" ".join(text for _, text in objectives) + " " + title, items)
    topics = _ranked(" ".join(text for _, text in objectives) + " " + title,
                     [(book, topic) for book in books for topic in book.topics])

    def cite(item: tuple[_Source, str]) -> str:
        return f"{_md(item[1])} [{item[0].book_id}]"

    def build(layout: tuple[int, int, int, int], extra: list[str]) -> str:
        k, steps, takeaways, topic_questions = layout
        lines = [f"# Lesson {number}: {_md(title)}", "", note, "", "## Objectives", ""]
        lines += [f"- [{oid}] {_md(text)}" for oid, text in objectives]
        drawn = ", ".join(f"{_md(b.title)} [{b.book_id}]" for b in books)
        lines += ["", "## Explanation", "", f"This lesson of the part \u201c{_md(v['part_title'])}\u201d draws on {drawn}.", ""]
        for (oid, text), ranked in zip(objectives, per_objective):
            lines += [f"### {_md(text)}", "", " ".join(cite(item) for item in ranked[:k]), ""]
        if extra:
            lines += ["### Reading the sources against the objectives", ""]
            for paragraph in extra:
                lines += [paragraph, ""]
        main = books[0]
        lines += ["## Worked example", "",
                  f"Work through the material in the order {_md(main.title)} [{main.book_id}] sets it out, "
                  "checking each step against the objectives:", ""]
        lines += [f"{i}. {cite((main, sentence))}" for i, sentence in enumerate(main.sentences[:steps], start=1)]
        lines += ["", "## Check your understanding", ""]
        questions = [f"What does {_md(book.title)} [{book.book_id}] say about {_md(_lower_first(topic))}?"
                     for book, topic in topics[:topic_questions]]
        questions += [f"Using the points above, how would you {_md(_lower_first(text))}? ({oid})" for oid, text in objectives]
        questions += [f"Which step of the worked example does this point support: {cite(item)}?" for item in best]
        lines += [f"{i}. {q}" for i, q in enumerate(questions[: max(2, topic_questions + len(objectives))], start=1)]
        lines += ["", "## Key takeaways", ""]
        chosen = list(dict.fromkeys([ranked[0] for ranked in per_objective if ranked] + best))[:takeaways]
        lines += [f"- {cite(item)}" for item in chosen]
        lines += ["", "## Sources", ""]
        lines += [f"- [{b.book_id}] {_md(b.title)}" + (f" — {_md(b.byline)}" if b.byline else "") for b in books]
        return "\n".join(lines) + "\n"

    layout = next((l for l in _LAYOUTS if count_words(build(l, [])) <= target), _LAYOUTS[-1])
    words = count_words(build(layout, []))
    rereads = [
        _REREADS[round_ % len(_REREADS)].format(o=_md(text), s=cite(ranked[i % len(ranked)]))
        for round_ in range(len(_REREADS)) for i in range(len(items))
        for (_, text), ranked in zip(objectives, per_objective)
    ] or [cite(item) for item in items]
    extra: list[str] = []
    while words < target:  # fill to length: each paragraph re-reads a quoted point, none adds one
        paragraph = rereads[len(extra) % len(rereads)]
        extra.append(paragraph)
        words += count_words(paragraph)
    return build(layout, extra)


REVISION_LABEL = "Revised after review by the offline writer, not an LLM."
MAX_QUOTED_FEEDBACK = 300  # characters of the reviewer's feedback the revision note quotes


def _revise_lesson(v: dict) -> str:
    """lessons.revise_lesson's answer: the lesson written again, as _write_lesson writes it, from
    the same summaries, with each summary's sentences that share the feedback's words put first
    (so the lesson's ranking and its worked example start from them), and a note under the title
    that quotes the feedback as plain text and says what was done. The feedback is only matched
    against and quoted, never followed: nothing it says is added to the lesson as a statement."""
    from coursegen.domain.lessons import count_words  # the count parse_lesson uses

    feedback = " ".join("".join(ch if ch.isprintable() else " " for ch in str(v.get("reviewer_feedback", ""))).split())
    if len(feedback) > MAX_QUOTED_FEEDBACK:
        feedback = feedback[: MAX_QUOTED_FEEDBACK - 1].rsplit(" ", 1)[0] + "\u2026"
    note = (f"*{REVISION_LABEL}* The reviewer asked: \u201c{_md(feedback)}\u201d. The offline writer puts the summary "
            "points that share the feedback's words first and adds nothing to them.")
    wanted = _stems(feedback)

    def steered(line: str) -> str:
        if not line.startswith("Summary:"):
            return line
        sentences = _SENTENCE_END.split(line.removeprefix("Summary:").strip())
        return "Summary: " + " ".join(sorted(sentences, key=lambda sentence: not wanted & _stems(sentence)))

    summaries = "\n".join(steered(line) for line in str(v["book_summaries"]).splitlines())
    target = max(1, int(v["target_words"]) - count_words(note))  # the note counts towards the lesson's length
    lines = _write_lesson(v | {"book_summaries": summaries, "target_words": target}).split("\n")
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith(f"*{WRITER_LABEL}*")), 1)
    return "\n".join(lines[:at] + ["", note] + lines[at:])


LAB_WRITER_LABEL = "Written by the offline writer (the offline planner's lab half), not an LLM."
_LAB_GROUNDING_NOTE = (
    "Each step and its solution quote the summaries of the books they cite, chosen for the part's "
    "objectives by word overlap; nothing is added to them."
)


def _write_lab(v: dict) -> str:
    """A grounded, extractive lab in the shape parse_lab checks: one step per objective, each asking
    the learner to work with the summary sentence that bears most on it (quoted, cited), and the
    solution giving the source's own words back; no fact is invented."""
    books = _sources(v["book_summaries"])
    objectives = [(m.group(1), m.group(2)) for line in str(v["lab_objectives"]).splitlines()
                  if (m := _OBJECTIVE_LINE.match(line))]
    number, title = v["part_number"], v["part_title"]
    profile = _profile(v.get("learner_profile", ""))
    note = f"*{LAB_WRITER_LABEL}* {_LAB_GROUNDING_NOTE}"
    if profile.language != "en":
        note += f" It writes English only; the course was asked for in '{profile.language}'."
    if not books:
        return f"# Lab {number}: {_md(title)}\n\n{note}\n\nNo book summaries were given, so there is nothing to practise from.\n"
    items = [(book, sentence) for book in books for sentence in book.sentences] or [(book, book.summary) for book in books]
    # Each objective's best sentence, a sentence used once while others are left; at least MIN_STEPS steps.
    steps: list[tuple[str, str, tuple[_Source, str]]] = []  # objective id, objective, (book, sentence)
    used: set[tuple[_Source, str]] = set()
    targets = objectives or [("", title)]
    while len(steps) < max(3, len(targets)):
        oid, text = targets[len(steps) % len(targets)]
        ranked = _ranked(f"{text} {title}", items)
        item = next((i for i in ranked if i not in used), ranked[0])
        used.add(item)
        steps.append((oid, text, item))

    def cite(item: tuple[_Source, str]) -> str:
        return f"{_md(item[1])} [{item[0].book_id}]"

    drawn = ", ".join(f"{_md(b.title)} [{b.book_id}]" for b in books)
    lines = [f"# Lab {number}: {_md(title)}", "", note, "", "## Objectives", ""]
    lines += [f"- [{oid}] {_md(text)}" for oid, text in objectives]
    lines += ["", "## Goal", "",
              f"Practise what the part \u201c{_md(title)}\u201d teaches, one objective at a time, on the points "
              f"its sources make: by the end you have a short written note for each objective, checked against {drawn}.",
              "", "## Setup", ""]
    lines += [f"- The summary of {_md(b.title)} [{b.book_id}]" + (f" ({_md(b.byline)})" if b.byline else "") for b in books]
    lines += ["- The part's lessons, to look back at their key takeaways", "- Paper or a text file for your notes",
              "", "## Steps", ""]
    for i, (oid, text, item) in enumerate(steps, start=1):
        aim = f"[{oid}] {_md(_lower_first(text))}" if oid else _md(_lower_first(text))
        lines.append(f"{i}. For {aim}: read the point below, then write in your own words what it says and how "
                     f"it serves the objective. The point: {cite(item)}")
    lines += ["", "## Expected result", "",
              f"A note of {len(steps)} short paragraphs, one per step, each restating its point in your words and naming "
              "the book it comes from by its id.", "", "## Solution", ""]
    lines += [f"{i}. The source's own words: {cite(item)}" for i, (_, _, item) in enumerate(steps, start=1)]
    lines += ["", "## Self-check", ""]
    checks = [f"Could you now {_md(_lower_first(text))} without the notes? ({oid})" for oid, text in objectives]
    cited = ", ".join(f"[{book_id}]" for book_id in dict.fromkeys(item[0].book_id for _, _, item in steps))
    checks.append(f"Does each of your {len(steps)} notes say what its point says, no more, and name its source ({cited})?")
    lines += [f"{i}. {check}" for i, check in enumerate(checks, start=1)]
    lines += ["", "## Sources", ""]
    lines += [f"- [{b.book_id}] {_md(b.title)}" + (f" — {_md(b.byline)}" if b.byline else "") for b in books]
    return "\n".join(lines) + "\n"


# --- the visual half: the offline proposer --------------------------------------------------

VISUAL_LABEL = "drawn by the offline planner from the lesson's own words, not an LLM"
# An ordering word before a colon, then the list it introduces: "the five-step revenue model: identify
# the contract, identify the performance obligations, ..." (a procedure the lesson itself states).
_PROCEDURE = re.compile(r"^(?P<lead>.*\b(?:steps?|step by step|in order|in sequence|stages?|process|procedure)\b[^:]*):\s*(?P<items>.+?)\.?$",
                        re.IGNORECASE)
_LABELLED_NUMBER = re.compile(r"^(?P<label>[^:]{1,32}):\s*(?P<minus>[-\u2212]?)(?P<currency>[$€£]?)(?P<number>\d[\d,]*(?:\.\d+)?)"
                              r"\s*(?P<unit>%|percent|[A-Za-z]{1,6})?\.?$")
_PERIOD = re.compile(r"^(?:year|yr|quarter|q|month|period|fy)?\s*(\d+)$", re.IGNORECASE)
_CITATIONS = re.compile(r"\s*\[[^\]]+\]")


def _propose_visual(v: dict) -> str:
    """At most one diagram, and only of what the lesson states: labelled numbers (a list of
    "label: number" lines or a two-column table) become a chart, a procedure (a numbered list of
    short steps, or a sentence that lists the steps of a process) a flow; otherwise none."""
    import json

    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark", {"html": False}).enable("table").parse(str(v["lesson_markdown"]))
    blocks = _text_blocks(tokens)
    spec = _chart_of(blocks) or _flow_of(blocks)
    return json.dumps(spec or {"kind": "none"})


def _plain(inline) -> str:
    """An inline token's text as a reader sees it (Markdown escapes undone), without its citations."""
    text = "".join(child.content if child.type in ("text", "text_special", "code_inline") else " "
                   for child in inline.children or [] if child.type in ("text", "text_special", "code_inline", "softbreak", "hardbreak"))
    return " ".join(_CITATIONS.sub("", text).split())


def _text_blocks(tokens) -> list[tuple[str, list[str]]]:
    """The lesson as (kind, lines): 'ordered' and 'bullets' lists by their items, 'table' by its
    rows ('cell | cell'), 'paragraph' by its sentences; a heading's section name rides along as
    ('heading', [title])."""
    blocks: list[tuple[str, list[str]]] = []
    stack: list[tuple[str, list[str]]] = []
    for i, token in enumerate(tokens):
        if token.type in ("ordered_list_open", "bullet_list_open"):
            stack.append(("ordered" if token.type.startswith("ordered") else "bullets", []))
        elif token.type in ("ordered_list_close", "bullet_list_close"):
            blocks.append(stack.pop())
        elif token.type == "table_open":
            stack.append(("table", []))
        elif token.type == "table_close":
            blocks.append(stack.pop())
        elif token.type == "tr_open":
            stack[-1][1].append("")
        elif token.type == "inline":
            text = _plain(token)
            if tokens[i - 1].type == "heading_open":
                blocks.append(("heading", [text]))
            elif stack and stack[-1][0] == "table":
                row = stack[-1][1]
                row[-1] = f"{row[-1]} | {text}" if row[-1] else text
            elif stack and tokens[i - 2].type == "list_item_open":  # an item's first paragraph
                stack[-1][1].append(text)
            elif not stack:
                blocks.append(("paragraph", [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]))
    return blocks


def _chart_of(blocks: list[tuple[str, list[str]]]) -> dict | None:
    for kind, lines in blocks:
        if kind == "bullets":
            matches = [_LABELLED_NUMBER.match(line) for line in lines]
        elif kind == "table":
            matches = [_LABELLED_NUMBER.match(line.replace(" | ", ": ", 1)) if line.count(" | ") == 1 else None
                       for line in lines[1:]]  # the header row names the columns
        else:
            continue
        if not 2 <= len(matches) <= 10 or not all(matches):
            continue
        units = {_unit(m) for m in matches}
        if len(units) != 1:
            continue  # numbers of different units do not share an axis
        points = [{"label": m.group("label").strip(),
                   "value": float(m.group("number").replace(",", "")) * (-1 if m.group("minus") else 1)} for m in matches]
        periods = [_PERIOD.match(point["label"]) for point in points]
        ordered = all(periods) and [int(p.group(1)) for p in periods] == sorted({int(p.group(1)) for p in periods})
        return {"kind": "line" if ordered else "bar", "unit": units.pop(), "points": points,
                "caption": f"The numbers the lesson states, {'in order' if ordered else 'side by side'} ({VISUAL_LABEL})."}
    return None


def _unit(match: re.Match) -> str:
    unit = match.group("unit") or ""
    return "%" if unit.lower() in ("%", "percent") else (match.group("currency") or unit)


def _flow_of(blocks: list[tuple[str, list[str]]]) -> dict | None:
    section = ""
    for kind, lines in blocks:
        if kind == "heading":
            section = lines[0]
        elif kind == "ordered" and section != "Check your understanding" and 3 <= len(lines) <= 8 \
                and all(len(line) <= 60 and not line.endswith("?") for line in lines):
            return {"kind": "flow", "steps": [line.rstrip(".") for line in lines],
                    "caption": f"The steps of \u201c{section[:80]}\u201d, in order ({VISUAL_LABEL})."}
        elif kind == "paragraph":
            for sentence in lines:
                if (match := _PROCEDURE.match(sentence)) and (steps := _listed(match.group("items"))):
                    lead = match.group("lead")
                    lead = lead if len(lead) <= 110 else lead[:110].rsplit(" ", 1)[0] + "\u2026"
                    return {"kind": "flow", "steps": steps, "caption": f"{lead}, step by step ({VISUAL_LABEL})."}
    return None


def _listed(items: str) -> list[str] | None:
    """'a, b, c and d' -> [a, b, c, d], when it is a clean list of 3 to 8 short phrases of two words or more."""
    parts = [part.strip() for part in items.split(",")]
    last = re.sub(r"^(?:and|then)\s+", "", parts[-1])
    parts = parts[:-1] + (last.rsplit(" and ", 1) if len(parts) > 1 and last == parts[-1] else [last])
    if 3 <= len(parts) <= 8 and all(len(part.split()) >= 2 and len(part) <= 60 for part in parts):
        return [_sentence_case(part) for part in parts]
    return None


class SimulatedLatencyLlm:
    """The offline planner answering with a model's latency: a fixed start plus time per output
    token. Still not an LLM; it exists so load tests and benchmarks wait as they would on one."""

    def __init__(self, first_token_seconds: float, seconds_per_token: float, planner=None, record: bool = False) -> None:
        self.first_token_seconds = first_token_seconds
        self.seconds_per_token = seconds_per_token
        self.planner = planner or OfflinePlanner()
        self.name = f"{OFFLINE_PLANNER_NAME} with simulated model latency"
        self.record = record  # the benchmarks read each call back; a long-running server must not keep them
        self.calls: list[tuple[str, dict, float, LlmReply]] = []  # (prompt, variables, seconds, reply)
        self._lock = threading.Lock()

    def latency(self, reply: LlmReply) -> float:
        return self.first_token_seconds + self.seconds_per_token * reply.output_tokens

    def complete(self, prompt: Prompt) -> LlmReply:
        reply = self.planner.complete(prompt)
        started = time.perf_counter()
        time.sleep(self.latency(reply))
        if self.record:  # the time the call actually took: a sleep can overrun on a busy machine
            with self._lock:
                self.calls.append((prompt.name, prompt.variables, time.perf_counter() - started, reply))
        return reply


class WordLlamaEmbedder:
    """256-dimension static embeddings whose weights ship inside the wordllama wheel."""

    dimension = 256

    def __init__(self, config: str = "l2_supercat") -> None:
        self.config = config
        self.model_id = f"wordllama-{config}-{self.dimension}"

    @cached_property
    def _model(self):
        root = logging.getLogger()
        level, handlers = root.level, list(root.handlers)
        import wordllama
        from wordllama import WordLlama

        # wordllama calls logging.basicConfig(level=INFO) on import, which put every library's
        # INFO lines (botocore's credential lookups) on the CLI's stderr: the application, not a
        # library, decides how it logs.
        root.setLevel(level)
        root.handlers[:] = handlers

        # Its loader looks for the tokenizer under the wrong folder name and then tries the
        # network; pointing cache_dir at the package folder finds both files offline.
        return WordLlama.load(
            config=self.config, dim=self.dimension, cache_dir=os.path.dirname(wordllama.__file__), disable_download=True
        )

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.embed(list(texts), norm=True)
        return [[float(x) for x in row] for row in vectors]


__all__ = ["OfflinePlanner", "SimulatedLatencyLlm", "WordLlamaEmbedder", "OFFLINE_PLANNER_NAME", "WRITER_LABEL",
           "LAB_WRITER_LABEL"]
