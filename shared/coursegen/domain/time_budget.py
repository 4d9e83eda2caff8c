"""The time budget: how long a course should be, how its parts are sized, and whether an
outline's total is close enough to the request (95%-105%)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from coursegen.models import CoursePreferences, Depth, Pace

TOLERANCE = 0.05


@dataclass(frozen=True)
class TimeCheck:
    total_minutes: int
    target_minutes: int
    variance_percent: float
    min_acceptable: float
    max_acceptable: float

    @property
    def within_tolerance(self) -> bool:
        return self.min_acceptable <= self.total_minutes <= self.max_acceptable

    @property
    def severity(self) -> str:
        """'ok' inside 95%-105%; 'warning' outside it: the course is kept, the user told why."""
        return "ok" if self.within_tolerance else "warning"

    def describe(self) -> str:
        return (
            f"{self.total_minutes} min against a target of {self.target_minutes} min "
            f"({self.variance_percent:+.1f}%; acceptable {self.min_acceptable:g}-{self.max_acceptable:g} min)"
        )


def check_time(total_minutes: int, target_minutes: int) -> TimeCheck:
    if target_minutes <= 0:
        raise ValueError("target_minutes must be positive")
    variance = (total_minutes - target_minutes) / target_minutes * 100
    return TimeCheck(
        total_minutes=total_minutes,
        target_minutes=target_minutes,
        variance_percent=round(variance, 2),
        min_acceptable=round(target_minutes * (1 - TOLERANCE), 1),
        max_acceptable=round(target_minutes * (1 + TOLERANCE), 1),
    )


def needs_review(check: TimeCheck, review_attempts: int, max_review_attempts: int) -> bool:
    return not check.within_tolerance and review_attempts < max_review_attempts


@dataclass(frozen=True)
class PartPlanGuidance:
    """How a course designer would cut the time into parts, as numbers and as prompt text."""

    target_parts: int
    min_parts: int
    max_parts: int
    part_minutes_low: int
    part_minutes_high: int
    section_minutes_low: int
    section_minutes_high: int
    parts_guidance: str
    parts_count_guidance: str


_SECTION_MINUTES = {Pace.relaxed: (20, 30), Pace.moderate: (10, 25), Pace.intensive: (10, 15)}
_DEPTH_PART_FACTOR = {Depth.overview: 1.25, Depth.balanced: 1.0, Depth.deep: 0.8}
# How each depth and pace is described to the model: the parts guidance and every prompt's
# learner_profile say it in these words.
DEPTH_TEXT = {
    Depth.overview: "Favour breadth: fewer, broader parts that survey the field.",
    Depth.balanced: "Balance concepts and practice: each part teaches a method and applies it.",
    Depth.deep: "Favour depth: more, narrower parts, each working one method through in detail.",
}
PACE_TEXT = {
    Pace.relaxed: "The pace is relaxed: longer sections with room for reflection.",
    Pace.moderate: "The pace is moderate.",
    Pace.intensive: "The pace is intensive: short, dense sections.",
}


def plan_guidance(hours: float, preferences: CoursePreferences | None = None) -> PartPlanGuidance:
    """Part count and sizes from the course length: short courses get 2-3 parts of 20-30 min;
    a working day gets 4-6 parts of about 90 min; beyond that parts stay near 75-90 min and
    their number grows. Depth shifts part length (deep: narrower parts), pace section length."""
    prefs = preferences or CoursePreferences()
    minutes = max(1, round(hours * 60))
    ideal_part = min(90.0, max(20.0, minutes / 4)) * _DEPTH_PART_FACTOR[prefs.depth]
    target = max(2 if minutes >= 40 else 1, round(minutes / ideal_part))
    low, high = max(1, math.floor(target * 0.75)), max(target, math.ceil(target * 1.25))
    part_low = max(10, _round5(minutes / high * 0.7))
    part_high = max(part_low, _round5(minutes / max(low, 1) * 1.3))
    section_low, section_high = _SECTION_MINUTES[prefs.pace]
    intro = max(5, _round5(minutes * 0.12))
    parts_guidance = (
        f"Open with a short foundations part (about {intro} minutes) that sets up vocabulary and the "
        f"central question; build the core methods in the middle parts, each resting on the one before; "
        f"close with an applied part (a worked case or a practice project) that uses everything. "
        f"{DEPTH_TEXT[prefs.depth]} {PACE_TEXT[prefs.pace]} "
        f"Parts run {part_low}-{part_high} minutes; sections inside them {section_low}-{section_high} minutes. "
        f"Give times in multiples of 5 minutes; the part times must add up to exactly {minutes} minutes."
    )
    count_text = f"Plan {target} parts (no fewer than {low}, no more than {high})."
    return PartPlanGuidance(
        target_parts=target,
        min_parts=low,
        max_parts=high,
        part_minutes_low=part_low,
        part_minutes_high=part_high,
        section_minutes_low=section_low,
        section_minutes_high=section_high,
        parts_guidance=parts_guidance,
        parts_count_guidance=count_text,
    )


def _round5(value: float) -> int:
    return int(5 * round(value / 5))


PHASE_PERCENT = {
    "queued": 0,
    "embedding": 2,
    "searching_books": 4,
    "planning_parts": 6,
    "generating_sections": 8,
    "assembling_outline": 34,
    "reviewing_outline": 35,
    "storing": 38,
    "awaiting_outline_approval": 39,  # review_outline: the outline stored, no lesson written until it is approved
    "planning_lessons": 40,
    "writing_lessons": 42,
    "writing_labs": 95,  # after every lesson (42-95%), before the book
    "building_book": 96,
    "estimating": 90,
    # the publishing stage (statemachine/course_publishing.asl.json): short steps after the book
    "publishing": 96,
    "writing_quiz": 97,
    "writing_landing_page": 97,
    "building_site": 98,
    "deploying_staging": 98,
    "writing_evidence": 99,
    "complete": 100,
}


def progress_percent(phase: str, parts_done: int, parts_total: int, review_attempts: int = 0,
                     lessons_done: int = 0, lessons_total: int = 0) -> int:
    """A percent that only moves forward as the phases do. The outline takes the first 40%
    (section generation fills 8-32%, the review loop climbs through 35-37% instead of falling
    back); writing the lessons, the longest stage, fills 42-95%."""
    if phase == "generating_sections" and parts_total:
        return 8 + round(24 * min(parts_done, parts_total) / parts_total)
    if phase == "writing_lessons" and lessons_total:
        return 42 + round(53 * min(lessons_done, lessons_total) / lessons_total)
    base = PHASE_PERCENT.get(phase, 0)
    if phase in ("assembling_outline", "reviewing_outline") and review_attempts:
        base = min(37, 35 + review_attempts)
    return base
