"""Outline approval (issue 15, point 4): the checks on what a reviewer hands back while the
execution waits after the outline - an edited outline, or feedback for a re-plan.

An edited outline is read by the parser the workflow stores outlines with
(parse_text_outline_to_database) and held to the same 5% time budget (check_time). Every refusal
is a DecisionInvalid whose reason says what to change. Pure: services/outline.py applies them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping

from coursegen.domain.context import book_refs as course_book_refs
from coursegen.domain.parsing import _SOURCES, parse_outline_total_time, parse_text_outline_to_database
from coursegen.domain.time_budget import check_time
from coursegen.errors import DecisionInvalid
from coursegen.models import CourseOutline, CourseState

MAX_OUTLINE_CHARS = 200_000
# A backstop for the service: the decision API (domain/lifecycle.py) holds feedback and re-plans to
# tighter bounds before a decision is recorded, so nothing it accepts is refused here.
MAX_FEEDBACK_CHARS = 4_000
MAX_REPLANS = 10  # each re-plan pays for a whole outline again; and every earlier feedback goes into the prompt

_BRACKETS = re.compile(r"\[([^\]]+)\]")
# A bracketed token shaped like a library book id ('fin-001'): outside a Sources line it is still a citation.
_BOOK_ID_SHAPE = re.compile(r"^[A-Za-z]{2,}-\d{2,}$")


def check_outline_edit(
    text: str, target_minutes: int, book_refs: Mapping[str, str] | None = None, fallback_title: str = ""
) -> CourseOutline:
    """The reviewer's edited outline, parsed and within 5% of target_minutes; DecisionInvalid("outline", why) otherwise.

    book_refs (as domain.context.book_refs gives them: 'FIN-001' -> 'fin-001') are the books the
    course found; a citation of any other book is refused rather than dropped. None: not checked.
    Part minutes are taken from their sections (what is stored and taught), whatever a header says.
    """
    if not isinstance(text, str) or not text.strip():
        raise DecisionInvalid("outline", "the edited outline is empty: send the whole outline, "
                                         "'Part N: Title (M minutes)' headers with timed sections under them")
    if len(text) > MAX_OUTLINE_CHARS:
        raise DecisionInvalid("outline", f"the edited outline is {len(text):,} characters long; "
                                         f"at most {MAX_OUTLINE_CHARS:,} are accepted")
    _refuse_control_characters(text)
    parsed = parse_text_outline_to_database(text, book_refs, fallback_title)
    if not parsed.ok or parsed.value is None:
        raise DecisionInvalid("outline", f"the edited outline cannot be read: {parsed.error}")
    outline = parsed.value
    if book_refs is not None:
        _refuse_unknown_books(text, book_refs)
    for part in outline.parts:
        part.minutes = sum(section.minutes for section in part.sections)
    total = outline.total_minutes
    stated = parse_outline_total_time(text)
    if stated.ok and stated.value is not None and stated.value.strategy == "section_sum" and stated.warnings:
        problem = stated.warnings[0].rstrip(".")
        raise DecisionInvalid("outline", f"{problem[:1].lower()}{problem[1:]}: correct the 'Total:' line or the "
                                         "section times (or leave the Total line out: the sections count)")
    check = check_time(total, target_minutes)
    if not check.within_tolerance:
        low, high = math.ceil(check.min_acceptable), math.floor(check.max_acceptable)
        percent = abs(check.variance_percent)
        shown = f"{percent:.0f}" if percent >= 10 else f"{percent:.1f}"
        direction = "under" if total < target_minutes else "over"
        raise DecisionInvalid("outline", f"the sections add up to {total} min, {shown} % {direction} the requested "
                                         f"{target_minutes} min; the budget allows {low}-{high} min")
    return outline


def check_course_outline_edit(text: str, state: CourseState) -> CourseOutline:
    """check_outline_edit for this course: its target, the books it found, its title. The state
    must be loaded with its text (include_text=True): the books are among the offloaded fields."""
    return check_outline_edit(text, state.target_minutes, course_book_refs(state.book_summaries), state.course_title)


def check_outline_feedback(feedback: str, earlier: int = 0) -> str:
    """A re-plan's feedback, stripped; DecisionInvalid("feedback", why) when it cannot be taken.
    `earlier`: how many re-plans the course had already."""
    if not isinstance(feedback, str) or not feedback.strip():
        raise DecisionInvalid("feedback", "a re-plan needs feedback: say what the new outline should change")
    feedback = feedback.strip()
    if len(feedback) > MAX_FEEDBACK_CHARS:
        raise DecisionInvalid("feedback", f"the feedback is {len(feedback):,} characters long; "
                                          f"at most {MAX_FEEDBACK_CHARS:,} are accepted")
    _refuse_control_characters(feedback, "feedback")
    if earlier >= MAX_REPLANS:
        raise DecisionInvalid("feedback", f"the outline was re-planned {earlier} times already (at most {MAX_REPLANS}): "
                                          "approve it, or send an edited outline")
    return feedback


def _refuse_control_characters(text: str, field: str = "outline") -> None:
    """Tabs and line breaks are text; any other control character (NUL among them) is refused, by line."""
    for number, line in enumerate(text.splitlines() or [text], start=1):
        for char in line:
            if unicodedata.category(char) == "Cc" and char not in "\t\n\r":
                raise DecisionInvalid(field, f"line {number} holds a control character (U+{ord(char):04X}): "
                                             "remove it, only tabs and line breaks are allowed")


def _refuse_unknown_books(text: str, book_refs: Mapping[str, str]) -> None:
    known = {key.upper() for key in book_refs}
    unknown: list[str] = []
    for line in text.splitlines():
        on_sources = bool(_SOURCES.match(line))
        for bracket in _BRACKETS.findall(line):
            for ref in (r.strip() for r in re.split(r"[,;\s]+", bracket)):
                if ref and ref.upper() not in known and (on_sources or _BOOK_ID_SHAPE.match(ref)) and ref not in unknown:
                    unknown.append(ref)
    if unknown:
        allowed = ", ".join(sorted(book_refs.values())) or "none"
        raise DecisionInvalid("outline", f"it cites {', '.join(f'[{ref}]' for ref in unknown[:5])}, not among the "
                                         f"course's books ({allowed}): cite only those, or drop the citation")
