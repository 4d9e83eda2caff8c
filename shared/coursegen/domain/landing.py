"""The landing page's words: the one part of the page a model writes.

Pure: no I/O. landing_prompt renders the registry's WRITE_LANDING_COPY template from the course's
title, parts and objectives; parse_landing_copy checks the model's one JSON object against
models.LandingCopy and the bounds below. Every fact on the page (the syllabus and its minutes, the
total time, the sources, a price) comes from the course itself, never from the model: the prompt
says so, and a copy that names a price (a currency amount) is repaired.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from pydantic import ValidationError

from coursegen.domain.lessons import normalise_objective
from coursegen.domain.parsing import ParseResult, parse_json_object
from coursegen.domain.prompts import WRITE_LANDING_COPY, Prompt, learner_profile
from coursegen.domain.time_budget import plan_guidance
from coursegen.models import CoursePreferences, LandingCopy, describe_validation_error

MAX_HEADLINE_CHARS = 120
MAX_SUBTITLE_CHARS = 240
MIN_OUTCOMES, MAX_OUTCOMES = 3, 8
MAX_OUTCOME_CHARS = 160
MAX_AUDIENCE_CHARS = 400
MAX_CALL_TO_ACTION_CHARS = 40
MAX_PROMPT_OBJECTIVES = 40  # a long course's objectives, sampled across it: the prompt stays small
LIMITS = {"headline": MAX_HEADLINE_CHARS, "subtitle": MAX_SUBTITLE_CHARS, "audience": MAX_AUDIENCE_CHARS,
          "call_to_action": MAX_CALL_TO_ACTION_CHARS}
LANDING_SHAPE = '{"headline", "subtitle", "outcomes": [3 to 8], "audience", "call_to_action"}'
# A price the model made up: "$49", "49 €", "EUR 49", "USD" (the page shows the request's own price).
_PRICE = re.compile(r"[$€£¥]\s?\d|\d\s?[$€£¥]|\b(?:USD|EUR|GBP|CHF|JPY)\b")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text)


def check_landing_copy(copy: LandingCopy) -> list[str]:
    """What is wrong with a landing copy ([] when nothing is), each problem something to fix."""
    problems: list[str] = []
    texts = {name: getattr(copy, name) for name in LIMITS}
    everything = list(texts.items()) + [(f"outcome {i}", text) for i, text in enumerate(copy.outcomes, 1)]
    dirty = [name for name, text in everything if _has_control_characters(text)]
    if dirty:
        problems.append(f"Remove the control characters from the {', '.join(dirty)}.")
    for name, text in texts.items():
        if not text.strip():
            problems.append(f"The {name} is empty: write it.")
        elif len(_one_line(text)) > LIMITS[name]:
            problems.append(f"The {name} has {len(_one_line(text))} characters: shorten it to {LIMITS[name]}.")
    if not MIN_OUTCOMES <= len(copy.outcomes) <= MAX_OUTCOMES:
        problems.append(f"There are {len(copy.outcomes)} outcomes: write {MIN_OUTCOMES} to {MAX_OUTCOMES}.")
    empty = [i for i, text in enumerate(copy.outcomes, 1) if not text.strip()]
    if empty:
        problems.append(f"Outcome(s) {', '.join(map(str, empty))} are empty: write them.")
    long = [i for i, text in enumerate(copy.outcomes, 1) if len(_one_line(text)) > MAX_OUTCOME_CHARS]
    if long:
        problems.append(f"Outcome(s) {', '.join(map(str, long))} are longer than {MAX_OUTCOME_CHARS} characters: "
                        "shorten them.")
    keys = [normalise_objective(text) for text in copy.outcomes]
    repeated = sorted({i for i, key in enumerate(keys, 1) if key and keys.index(key) != i - 1})
    if repeated:
        problems.append(f"Outcome(s) {', '.join(map(str, repeated))} repeat an earlier one: make each outcome different.")
    priced = [name for name, text in everything if _PRICE.search(text)]
    if priced:
        problems.append(f"The {', '.join(priced)} name a price: leave prices out (the page shows the course's own).")
    return problems


def parse_landing_copy(text: str) -> ParseResult[LandingCopy]:
    """Check the model's landing copy; every problem found is listed, each as something to fix."""
    parsed = parse_json_object(text, LANDING_SHAPE)
    if not parsed.ok or parsed.value is None:
        return ParseResult.fail(parsed.error)
    try:
        copy = LandingCopy.model_validate(parsed.value)
    except ValidationError as error:
        return ParseResult.fail(f"{describe_validation_error(error, whole='answer')}: answer with {LANDING_SHAPE}.")
    problems = check_landing_copy(copy)
    if problems:
        return ParseResult.fail(" ".join(problems))
    return ParseResult(value=LandingCopy(
        headline=_one_line(copy.headline), subtitle=_one_line(copy.subtitle),
        outcomes=[_one_line(outcome) for outcome in copy.outcomes], audience=_one_line(copy.audience),
        call_to_action=_one_line(copy.call_to_action)))


# --- the prompt ----------------------------------------------------------------------------------


def format_syllabus(parts: Sequence[tuple[str, int]]) -> str:
    """'Part 1: <title> (35 minutes)', a line a part."""
    return "\n".join(f"Part {i}: {title} ({minutes} minutes)" for i, (title, minutes) in enumerate(parts, 1))


def sampled_objectives(objectives: Sequence[str], limit: int = MAX_PROMPT_OBJECTIVES) -> list[str]:
    """The objectives, each once, evenly sampled across the course when there are more than `limit`."""
    unique, seen = [], set()
    for text in objectives:
        if text.strip() and normalise_objective(text) not in seen:
            seen.add(normalise_objective(text))
            unique.append(text.strip())
    if len(unique) <= limit:
        return unique
    return [unique[i * len(unique) // limit] for i in range(limit)]


def landing_prompt(course_title: str, parts: Sequence[tuple[str, int]], objectives: Sequence[str], audience: str,
                   language: str, preferences: CoursePreferences) -> Prompt:
    """parts: the outline's (part title, minutes); objectives: its lessons' objectives, in order;
    audience: the request's (preferences.audience), which the learner profile states."""
    guidance = plan_guidance(1.0, preferences)  # the section range depends on the pace alone
    profile = preferences.model_copy(update={"audience": audience.strip()})
    variables = {
        "course_title": course_title,
        "syllabus": format_syllabus(parts),
        "objectives": "\n".join(f"- {text}" for text in sampled_objectives(objectives)) or "(none listed)",
        "learner_profile": learner_profile(
            profile, language, (guidance.section_minutes_low, guidance.section_minutes_high)),
        "language": language,
    }
    return WRITE_LANDING_COPY.render(variables)
