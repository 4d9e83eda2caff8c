"""Parsing the model's text: parts plans, timed outlines, durations.

Every parser takes arbitrary text and returns a ParseResult: a value, or an error message that
says what was wrong. None of them raises on bad input — a model's answer is data, not code.
"""

from __future__ import annotations

import json
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

_NUMBER = r"(\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:[.,]\d+)?)"
_HOURS_UNIT = r"(?:h|hr|hrs|hour|hours)(?![a-z])"
_MINUTES_UNIT = r"(?:m|min|mins|minute|minutes)(?![a-z])"
# One duration expression: "1 hour 15 minutes", "1h30m", "1.5 hours", "90-minute", "45 min".
_DURATION = re.compile(
    rf"{_NUMBER}\s*-?\s*{_HOURS_UNIT}(?:\s*(?:and\s+)?{_NUMBER}\s*-?\s*{_MINUTES_UNIT})?"
    rf"|{_NUMBER}\s*-?\s*{_MINUTES_UNIT}",
    re.IGNORECASE,
)
_PARENTHESIZED = re.compile(r"\(([^()]*)\)")
_CITATIONS = re.compile(r"\[[^\]]*\]")
MAX_SANE_MINUTES = 100 * 60 * 2


def _number(text: str) -> float:
    """'1,000' is a thousand; '1,5' is one and a half (a decimal comma)."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", text):
        return float(text.replace(",", ""))
    return float(text.replace(",", "."))


def _minutes(match: re.Match) -> int:
    hours, extra_minutes, minutes = match.group(1), match.group(2), match.group(3)
    if hours is not None:
        return round(_number(hours) * 60 + (_number(extra_minutes) if extra_minutes else 0))
    return round(_number(minutes))


def parse_duration(text: str) -> int | None:
    """Minutes of the first duration in the text ("45 min", "1h 30m", "1.5 hours", "90-minute",
    "2 hrs", "1,000 minutes"); None if there is none, it is zero, or it is absurd. Later forms
    ("240 minutes (4 hours)") restate the first, so they are not added to it."""
    match = _DURATION.search(text or "")
    if match is None:
        return None
    minutes = _minutes(match)
    return minutes if 0 < minutes <= MAX_SANE_MINUTES else None


def _split_trailing_duration(text: str) -> tuple[str, int | None]:
    """A header's title and minutes. The time is the first duration in the last parentheses that
    hold one ('Case study (25 minutes, incl. 5 min discussion)' -> 25), else the last duration on
    the line ('Forecasting - 45 min'). The title is what comes before it, without citations."""
    for group in reversed(list(_PARENTHESIZED.finditer(text))):
        minutes = parse_duration(group.group(1))
        if minutes is not None:
            return _clean_title(text[: group.start()]), minutes
    matches = list(_DURATION.finditer(text))
    if not matches:
        return _clean_title(text), None
    last = matches[-1]
    return _clean_title(text[: last.start()]), parse_duration(last.group(0))


def _clean_title(text: str) -> str:
    text = _CITATIONS.sub("", text)
    text = re.sub(r"[*_`#]+", "", text)
    text = re.sub(r"[\s(\[{:;,.\-–—|~]+$", "", text.strip())
    text = re.sub(r"^[\s:.\-–—)|]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


# --- parts plan ----------------------------------------------------------------------------

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
_PART_HEADER = re.compile(
    r"^\s*(?P<lead>#{1,6}\s*|>\s*|[-*]\s+)?(?P<bold>\*\*)?\s*(?:Part|Module|Unit)\s+(?P<num>\d+|[IVXivx]+)\b"
    r"(?:\s+of\s+\d+)?\s*(?:\*\*)?\s*(?P<pre>\([^)]*\))?\s*(?P<sep>[:.\-–—)])?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_NUMBERED_ITEM = re.compile(r"^\s*(?:\*\*)?(\d+)[.)]\s+(.*)$")
_LABEL = r"^\s*[-*]?\s*(?:\*\*)?(?:{})(?:\*\*)?\s*:\s*(?:\*\*)?\s*(.*)$"
_COURSE_TITLE = re.compile(r"^\s*(?:#\s*)?" + _LABEL.removeprefix(r"^\s*").format(r"Course(?:\s+title)?"), re.IGNORECASE)
_DESCRIPTION = re.compile(_LABEL.format("Covers|Description|Summary|Focus"), re.IGNORECASE)


@dataclass(frozen=True)
class _PartHeader:
    number: int
    title: str
    minutes: int | None


def _part_header(line: str) -> _PartHeader | None:
    """'## Part 2: Title (45 minutes)', '**Part 1 (30 minutes): Title**', 'Module III - Title - 1h'.
    Prose that merely mentions a part ('Part 1 sets up the vocabulary', '- Part 1 recap (20 min)')
    has no heading marker, bold or separator after the number, and is not a header."""
    match = _PART_HEADER.match(line)
    lead = (match.group("lead") or "") if match else ""
    if match is None or not (match.group("sep") or lead.startswith("#") or match.group("bold")):
        return None
    token = match.group("num")
    number = int(token) if token.isdigit() else _ROMAN.get(token.lower())
    if number is None:
        return None
    title, minutes = _split_trailing_duration(match.group("rest"))
    if minutes is None and match.group("pre"):
        minutes = parse_duration(match.group("pre"))
    return _PartHeader(number, title, minutes)


@dataclass(frozen=True)
class PartsPlan:
    title: str
    parts: list[Part]

    @property
    def total_minutes(self) -> int:
        return sum(part.minutes for part in self.parts)


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
        if header := _part_header(line):
            headers.append((header.number, header.title, header.minutes))
            continue
        if headers and (match := _DESCRIPTION.match(line)):
            descriptions[len(headers) - 1] = match.group(1).strip()
    # A number restated without a time ('### Part 2: Forecasting' after 'Part 2: ... (45 min)')
    # is a mention, not a second part.
    timed = {number for number, _, minutes in headers if minutes}
    kept = [h for h in headers if h[2] or h[0] not in timed]
    descriptions = {kept.index(h): descriptions[i] for i, h in enumerate(headers) if h in kept and i in descriptions}
    headers = kept
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
    order = sorted(range(len(headers)), key=lambda i: headers[i][0])
    parts = [
        Part(index=position, title=headers[i][1], minutes=headers[i][2] or 0, description=descriptions.get(i, ""))
        for position, i in enumerate(order)
    ]
    return ParseResult(value=PartsPlan(title=title, parts=parts))


# --- outlines ------------------------------------------------------------------------------

_SECTION_HEADER = re.compile(
    r"^\s*(?P<marker>#{2,6}|[-*+](?=\s)|\d+\.\d+(?=[.):\s])|\d+(?=[.)]\s))?[.):]?\s*(?:\*\*)?\s*"
    r"(?P<label>(?:Section|Lesson|Topic)\b\s*(?:\d+(?:\.\d+)*)?\s*[:.\-–—)]?)?\s*"
    r"(?:\d+(?:\.\d+)+[.):]?\s+)?(?P<rest>.*)$",
    re.IGNORECASE,
)
_OBJECTIVES = re.compile(_LABEL.format(r"Objectives?|Learning objectives?|Goals?"), re.IGNORECASE)
_SOURCES = re.compile(_LABEL.format(r"Sources?|Books?|References?"), re.IGNORECASE)
_TOTAL_LINE = re.compile(
    r"^\s*(?:[#*>\-\s]*)(?:\*\*)?\s*(?:Estimated\s+)?Total(?:\s+(?:course\s+)?(?:time|duration|length))?\s*(?:\*\*)?\s*[:=\-–—]\s*(.+)$",
    re.IGNORECASE,
)
_MENTIONS_TOTAL = re.compile(r"\btotal\b", re.IGNORECASE)
_HEADING = re.compile(r"^\s*#{2,6}\s")


def _book_ids(text: str, book_refs: dict[str, str]) -> list[str]:
    """'[fin-001], [fin-003]' or '[fin-001, fin-003]' -> those ids, when they are known; an unknown
    one is dropped, not invented."""
    ids: list[str] = []
    for bracket in re.findall(r"\[([^\]]+)\]", text):
        for ref in re.split(r"[,;\s]+", bracket):
            book_id = book_refs.get(ref.strip().upper())
            if book_id and book_id not in ids:
                ids.append(book_id)
    return ids


def _section_kind(match: re.Match) -> str | None:
    """How a section line is marked: '###' -> 'h3', '-' -> 'bullet', '2.1' -> 'numbered',
    a bare 'Section 2.1:' -> 'label'. None: not marked as a section at all."""
    marker = match.group("marker")
    if marker and marker.startswith("#"):
        return f"h{len(marker)}"
    if marker in ("-", "*", "+"):
        return "bullet"
    if marker:
        return "numbered"
    return "label" if match.group("label") else None


def parse_text_outline_to_database(
    outline_text: str, book_refs: dict[str, str] | None = None, fallback_title: str = ""
) -> ParseResult[CourseOutline]:
    """Turn an outline's text into parts and timed sections, ready for the course tables.

    Parts are 'Part N: Title (M minutes)' headers; sections are timed lines under them
    ('### Section 2.1: Title (15 minutes)', '- 2.1 Title (15 min)', ...), each optionally
    followed by 'Objectives:' and 'Sources: [fin-001], [fin-002]' lines. The first section of a
    part sets how its sections are marked: timed lines marked otherwise (activities under a
    section, '####' sub-points) belong to that section, not beside it. Lines that mention a
    total are never sections. Other lines (commentary, notes) are skipped.
    """
    book_refs = {key.upper(): value for key, value in (book_refs or {}).items()}
    if not outline_text or not outline_text.strip():
        return ParseResult.fail("The outline is empty.")
    title = fallback_title
    parts: list[OutlinePart] = []
    kinds: dict[int, str] = {}
    untimed: list[str] = []
    warnings: list[str] = []
    current: Section | None = None
    for raw_line in outline_text.splitlines():
        line = raw_line.rstrip()
        if not line.strip() or _TOTAL_LINE.match(line):
            continue
        if match := _COURSE_TITLE.match(line):
            title = _clean_title(match.group(1)) or title
            continue
        if header := _part_header(line):
            parts.append(OutlinePart(index=len(parts), title=header.title or f"Part {len(parts) + 1}", minutes=header.minutes or 0))
            current = None
            continue
        if not parts:
            continue
        if match := _OBJECTIVES.match(line):
            if current is not None:
                current.objectives.extend(o.strip() for o in re.split(r"[;•]", match.group(1)) if o.strip())
            continue
        if match := _SOURCES.match(line):
            if current is not None:
                current.book_ids.extend(i for i in _book_ids(match.group(1), book_refs) if i not in current.book_ids)
            continue
        match = _SECTION_HEADER.match(line)
        kind = _section_kind(match) if match else None
        part = parts[-1]
        if kind is None or _MENTIONS_TOTAL.search(line) or kinds.get(part.index, kind) != kind:
            if _HEADING.match(line) and kinds.get(part.index, kind) == kind:
                current = None  # an untimed heading of the section kind ends the section before it
            continue
        name, minutes = _split_trailing_duration(match.group("rest"))
        if minutes is None or not name:
            if match.group("label"):
                untimed.append(name or line.strip())
            if kinds.get(part.index) == kind:
                current = None
            continue
        kinds[part.index] = kind
        current = Section(
            part_index=part.index, index=len(part.sections), title=name, minutes=minutes,
            book_ids=_book_ids(match.group("rest"), book_refs),
        )
        part.sections.append(current)
    if not parts:
        return ParseResult.fail("No parts found in the outline: expected 'Part N: Title (M minutes)' headers.")
    if untimed:
        return ParseResult.fail(
            f"Section(s) {untimed[:5]} have no duration: write each as '### Section N.M: Title (M minutes)'."
        )
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
    part_sum = sum((header.minutes or 0) for line in outline_text.splitlines() if (header := _part_header(line)))
    if part_sum:
        return ParseResult(value=TotalTime(part_sum, "part_sum"))
    return ParseResult.fail(
        "Could not read the outline's total time: no 'Total:' line, no timed sections and no timed parts."
    )


# --- JSON answers ----------------------------------------------------------------------------


def parse_json_object(text: str, shape: str) -> ParseResult[dict]:
    """The one JSON object of an answer, whatever surrounds it (a ```json fence, a sentence before
    or after). `shape` says what the object should look like, for the repair message."""
    start, end = (text or "").find("{"), (text or "").rfind("}")
    if start < 0 or end < start:
        return ParseResult.fail(f"The answer holds no JSON object: answer with one JSON object, {shape}.")
    try:  # strict=False: a line break typed inside a string is tolerated (control characters are the checks' to refuse)
        data = json.loads(text[start:end + 1], strict=False)
    except json.JSONDecodeError as error:
        return ParseResult.fail(f"The answer is not valid JSON ({error.msg} at line {error.lineno} column {error.colno}): "
                                f"answer with one JSON object, {shape}.")
    if not isinstance(data, dict):
        return ParseResult.fail(f"The answer is not a JSON object: answer with one, {shape}.")
    return ParseResult(value=data)
