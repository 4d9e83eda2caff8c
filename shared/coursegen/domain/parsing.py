"""Parsing the model's text: parts plans, timed outlines, durations.

Every parser takes arbitrary text and returns a ParseResult: a value, or an error message that
says what was wrong. None of them raises on bad input — a model's answer is data, not code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from coursegen.models import CourseOutline, OutlinePart, Part, Section

T = TypeVar("T")


@dataclass(frozen=True)
class ParseResult(Generic[T]):
    value: T | None = None
    error: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.value is not None and not self.error

    @classmethod
    def fail(cls, error: str) -> "ParseResult[T]":
        return cls(value=None, error=error)


# --- durations ---------------------------------------------------------------------------

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_HOURS = re.compile(_NUMBER + r"\s*-?\s*(?:h|hr|hrs|hour|hours)\b", re.IGNORECASE)
_MINUTES = re.compile(_NUMBER + r"\s*-?\s*(?:m|min|mins|minute|minutes)\b", re.IGNORECASE)
_ANY_DURATION = re.compile(
    _NUMBER + r"\s*-?\s*(?:h|hr|hrs|hour|hours|m|min|mins|minute|minutes)\b"
    r"(?:\s*(?:and\s+)?" + _NUMBER + r"\s*-?\s*(?:m|min|mins|minute|minutes)\b)?",
    re.IGNORECASE,
)
MAX_SANE_MINUTES = 100 * 60 * 2


def parse_duration(text: str) -> int | None:
    """Minutes in "45 min", "45 minutes", "1h 30m", "1.5 hours", "90-minute", "2 hrs"; else None."""
    if not text:
        return None
    hours = sum(float(m.group(1).replace(",", ".")) for m in _HOURS.finditer(text))
    minutes = sum(float(m.group(1).replace(",", ".")) for m in _MINUTES.finditer(text))
    total = round(hours * 60 + minutes)
    if (hours == 0 and minutes == 0) or total > MAX_SANE_MINUTES:
        return None
    return total


def _split_trailing_duration(text: str) -> tuple[str, int | None]:
    """'Intro to DCF (45 minutes)' -> ('Intro to DCF', 45). The last duration on the line wins."""
    matches = list(_ANY_DURATION.finditer(text))
    if not matches:
        return _clean_title(text), None
    last = matches[-1]
    minutes = parse_duration(last.group(0))
    head = text[: last.start()]
    return _clean_title(head), minutes


def _clean_title(text: str) -> str:
    text = re.sub(r"[*_`#]+", "", text)
    text = re.sub(r"[\s(\[{:;,.\-–—|~]+$", "", text.strip())
    text = re.sub(r"^[\s:.\-–—)|]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


# --- parts plan ----------------------------------------------------------------------------

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
_PART_HEADER = re.compile(
    r"^\s*(?:[#>*\-\s]*)\s*(?:\*\*)?\s*(?:Part|Module|Unit)\s+(\d+|[IVXivx]+)\b\s*(?:\*\*)?\s*[:.\-–—)]?\s*(.*)$",
    re.IGNORECASE,
)
_NUMBERED_ITEM = re.compile(r"^\s*(?:\*\*)?(\d+)[.)]\s+(.*)$")
_COURSE_TITLE = re.compile(r"^\s*(?:#\s*)?(?:\*\*)?\s*Course(?:\s+title)?\s*(?:\*\*)?\s*:\s*(.+)$", re.IGNORECASE)
_DESCRIPTION = re.compile(r"^\s*(?:\*\*)?(?:Covers|Description|Summary|Focus)(?:\*\*)?\s*:\s*(.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class PartsPlan:
    title: str
    parts: list[Part]

    @property
    def total_minutes(self) -> int:
        return sum(part.minutes for part in self.parts)


def _part_number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    return _ROMAN.get(token.lower())


def parse_parts_text(text: str) -> ParseResult[PartsPlan]:
    """Parse 'Part N: Title (M minutes)' lines (or a numbered list of timed titles) into parts.

    Accepts markdown decoration, Module/Unit for Part, roman numerals, and any duration form
    parse_duration knows. A part with no time, duplicated numbers, or no parts at all is an error.
    """
    if not text or not text.strip():
        return ParseResult.fail("The parts plan is empty: expected lines like 'Part 1: Title (30 minutes)'.")
    title = ""
    headers: list[tuple[int, str, int | None]] = []
    descriptions: dict[int, str] = {}
    for line in text.splitlines():
        if not title and (match := _COURSE_TITLE.match(line)):
            title = _clean_title(match.group(1))
            continue
        match = _PART_HEADER.match(line)
        if match and (number := _part_number(match.group(1))) is not None:
            name, minutes = _split_trailing_duration(match.group(2))
            headers.append((number, name, minutes))
            continue
        if headers and (match := _DESCRIPTION.match(line)):
            descriptions[len(headers) - 1] = match.group(1).strip()
    if not headers:
        for line in text.splitlines():
            match = _NUMBERED_ITEM.match(line)
            if match:
                name, minutes = _split_trailing_duration(match.group(2))
                if minutes is not None:
                    headers.append((int(match.group(1)), name, minutes))
    if not headers:
        return ParseResult.fail(
            "No parts found: expected lines like 'Part 1: Title (30 minutes)', one per part."
        )
    numbers = [number for number, _, _ in headers]
    if len(set(numbers)) != len(numbers):
        return ParseResult.fail(f"Part numbers repeat ({numbers}): each part needs its own number.")
    untimed = [number for number, _, minutes in headers if not minutes]
    if untimed:
        return ParseResult.fail(
            f"Part(s) {untimed} have no duration: write each as 'Part N: Title (M minutes)'."
        )
    untitled = [number for number, name, _ in headers if not name]
    if untitled:
        return ParseResult.fail(f"Part(s) {untitled} have no title.")
    parts = [
        Part(index=i, title=name, minutes=minutes or 0, description=descriptions.get(i, ""))
        for i, (_, name, minutes) in enumerate(sorted(headers, key=lambda h: h[0]))
    ]
    return ParseResult(value=PartsPlan(title=title, parts=parts))


# --- outlines ------------------------------------------------------------------------------

_SECTION_LEAD = re.compile(r"^\s*(?:#{2,6}|[-*+]\s|\d+\.\d+|(?:\*\*)?\s*(?:Section|Lesson|Topic)\b)", re.IGNORECASE)
_SECTION_HEADER = re.compile(
    r"^\s*(?:#{2,6}|[-*+])?\s*(?:\*\*)?\s*"
    r"(?:(?:Section|Lesson|Topic)\s*(?:\d+(?:\.\d+)?)?\s*[:.\-–—)]?\s*|\d+\.\d+[.):]?\s+)?(.*)$",
    re.IGNORECASE,
)
_OBJECTIVES = re.compile(r"^\s*[-*]?\s*(?:\*\*)?(?:Objectives?|Learning objectives?|Goals?)(?:\*\*)?\s*:\s*(.*)$", re.IGNORECASE)
_SOURCES = re.compile(r"^\s*[-*]?\s*(?:\*\*)?(?:Sources?|Books?|References?)(?:\*\*)?\s*:\s*(.*)$", re.IGNORECASE)
_TOTAL_LINE = re.compile(
    r"^\s*(?:[#*>\-\s]*)(?:\*\*)?\s*(?:Estimated\s+)?Total(?:\s+(?:course\s+)?(?:time|duration|length))?\s*(?:\*\*)?\s*[:=\-–—]\s*(.+)$",
    re.IGNORECASE,
)
_BOOK_REF = re.compile(r"\[([A-Za-z0-9._:-]+)\]")


def _book_ids(text: str, book_refs: dict[str, str]) -> list[str]:
    """'[fin-001], [fin-003]' -> those ids, when they are known; an unknown one is dropped, not invented."""
    ids: list[str] = []
    for ref in _BOOK_REF.findall(text):
        book_id = book_refs.get(ref.upper())
        if book_id and book_id not in ids:
            ids.append(book_id)
    return ids


def parse_text_outline_to_database(
    outline_text: str, book_refs: dict[str, str] | None = None, fallback_title: str = ""
) -> ParseResult[CourseOutline]:
    """Turn an outline's text into parts and timed sections, ready for the course tables.

    Parts are 'Part N: Title (M minutes)' headers; sections are timed lines under them
    ('### Section 2.1: Title (15 minutes)', '- 2.1 Title (15 min)', ...), each optionally
    followed by 'Objectives:' and 'Sources: [fin-001], [fin-002]' lines. Lines it does not know
    (commentary, notes, totals) are skipped.
    """
    book_refs = {key.upper(): value for key, value in (book_refs or {}).items()}
    if not outline_text or not outline_text.strip():
        return ParseResult.fail("The outline is empty.")
    title = fallback_title
    parts: list[OutlinePart] = []
    warnings: list[str] = []
    current: Section | None = None
    for raw_line in outline_text.splitlines():
        line = raw_line.rstrip()
        if not line.strip() or _TOTAL_LINE.match(line):
            continue
        if match := _COURSE_TITLE.match(line):
            title = _clean_title(match.group(1)) or title
            continue
        if match := _PART_HEADER.match(line):
            if _part_number(match.group(1)) is not None:
                name, minutes = _split_trailing_duration(match.group(2))
                parts.append(OutlinePart(index=len(parts), title=name or f"Part {len(parts) + 1}", minutes=minutes or 0))
                current = None
                continue
        if parts and (match := _OBJECTIVES.match(line)) and current is not None:
            current.objectives.extend(o.strip() for o in re.split(r"[;•]", match.group(1)) if o.strip())
            continue
        if parts and (match := _SOURCES.match(line)) and current is not None:
            current.book_ids.extend(i for i in _book_ids(match.group(1), book_refs) if i not in current.book_ids)
            continue
        if parts and _SECTION_LEAD.match(line) and (match := _SECTION_HEADER.match(line)):
            name, minutes = _split_trailing_duration(match.group(1))
            if minutes is not None and name:
                part = parts[-1]
                current = Section(
                    part_index=part.index,
                    index=len(part.sections),
                    title=name,
                    minutes=minutes,
                    book_ids=_book_ids(match.group(1), book_refs),
                )
                part.sections.append(current)
                continue
    if not parts:
        return ParseResult.fail("No parts found in the outline: expected 'Part N: Title (M minutes)' headers.")
    empty = [part.index + 1 for part in parts if not part.sections]
    if empty:
        return ParseResult.fail(
            f"Part(s) {empty} have no timed sections: expected lines like '### Section 1.1: Title (15 minutes)'."
        )
    for part in parts:
        section_sum = sum(section.minutes for section in part.sections)
        if part.minutes and section_sum != part.minutes:
            warnings.append(f"Part {part.index + 1}: sections add up to {section_sum} min, header says {part.minutes}.")
    outline = CourseOutline(title=title or "Untitled course", parts=parts)
    return ParseResult(value=outline, warnings=tuple(warnings))


@dataclass(frozen=True)
class TotalTime:
    minutes: int
    strategy: str  # "total_line" | "section_sum" | "part_sum"


def parse_outline_total_time(outline_text: str) -> ParseResult[TotalTime]:
    """The outline's total time, by three strategies in order:

    1. an explicit total line ('Total: 2 hours', '**Total time:** 115 minutes');
    2. the sum of section durations;
    3. the sum of part durations.
    A stated total that disagrees with the sections by more than 5% loses to the sections (models
    add badly), with a warning that says so.
    """
    if not outline_text or not outline_text.strip():
        return ParseResult.fail("The outline is empty: no total time to read.")
    stated: int | None = None
    for line in outline_text.splitlines():
        if match := _TOTAL_LINE.match(line):
            stated = parse_duration(match.group(1)) or stated
    parsed = parse_text_outline_to_database(outline_text)
    section_sum = parsed.value.total_minutes if parsed.ok and parsed.value else None
    if stated:
        if section_sum and abs(stated - section_sum) > 0.05 * section_sum:
            return ParseResult(
                value=TotalTime(section_sum, "section_sum"),
                warnings=(f"The stated total ({stated} min) disagrees with the sections ({section_sum} min).",),
            )
        return ParseResult(value=TotalTime(stated, "total_line"))
    if section_sum:
        return ParseResult(value=TotalTime(section_sum, "section_sum"))
    part_sum = 0
    for line in outline_text.splitlines():
        match = _PART_HEADER.match(line)
        if match and _part_number(match.group(1)) is not None:
            part_sum += _split_trailing_duration(match.group(2))[1] or 0
    if part_sum:
        return ParseResult(value=TotalTime(part_sum, "part_sum"))
    return ParseResult.fail(
        "Could not read the outline's total time: no 'Total:' line, no timed sections and no timed parts."
    )
