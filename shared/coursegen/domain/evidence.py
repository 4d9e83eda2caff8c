"""The evidence pack: one JSON manifest of how a course was made.

What was asked (never who asked), the books it drew on and how similar each was, the provider and
model, every prompt by name and the hash of its text, tokens and time per step (from the usage
records adapters/metering.py writes), the checks and their results, and a hash of every published
artifact. Pure: the service (services/evidence.py) gathers the inputs and writes the manifest.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from coursegen.domain.lessons import LENGTH_TOLERANCE, target_words
from coursegen.domain.time_budget import check_time
from coursegen.models import CourseState, Pace, QuestionKind, StoredQuiz

SCHEMA_VERSION = 1
STEP_TOTALS = ("invocations", "failed", "seconds", "calls", "input_tokens", "output_tokens")


def evidence_manifest(
    *,
    state: CourseState,
    usage_records: Sequence[dict],
    lesson_checks: Sequence[dict],
    quiz_problems: list[str] | None,
    artifacts: Mapping[str, bytes],
    provider: str,
    model: str,
    generated_at: str,
) -> dict[str, Any]:
    """The manifest (JSON-able, EVIDENCE_SCHEMA). usage_records: one per step invocation
    {step, started_at, seconds, ok, calls}; lesson_checks: lesson_length_check's answers, each with
    its lesson's lesson_id, number and title; quiz_problems: None when the course has no quiz."""
    steps = _steps(usage_records)
    return {
        "schema_version": SCHEMA_VERSION,
        "course_id": state.course_id,
        "generated_at": generated_at,
        "request": _request(state),
        "sources": [{"book_id": book.book_id, "title": book.title, "similarity": round(book.similarity, 4)}
                    for book in state.book_summaries],
        "model": {"provider": provider, "model": model, "generator": state.generator},
        "prompts": _prompts(usage_records),
        "steps": steps,
        "totals": _sum(steps.values()),
        "estimate": state.estimate.model_dump(mode="json") if state.estimate else None,  # a dry run's answer
        "checks": [_time_budget_check(state), _lesson_lengths_check(lesson_checks), _quiz_check(quiz_problems)],
        "artifacts": [_artifact(key, artifacts[key]) for key in sorted(artifacts)],  # one at a time: a lazy mapping stays small
    }


def _artifact(key: str, data: bytes) -> dict[str, Any]:
    return {"key": key, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _request(state: CourseState) -> dict[str, Any]:
    # What was asked, not who asked: the owner (the principal: a tenant or user id) is left out, and
    # the request holds no e-mail or name field. The rest describes the course - its subject, length
    # and learners as a group - and is what the course itself and every prompt already show.
    return {
        "query": state.pending_course_query,
        "hours": state.pending_course_hours,
        "language": state.language,
        "preferences": state.pending_course_prefs.model_dump(mode="json"),
        "full_lessons_count": state.full_lessons_count,
        "content_mode": state.content_mode.value,
        "dry_run": state.dry_run,
        "generate_quiz": state.generate_quiz,
        "generate_landing_page": state.generate_landing_page,
        "deploy_to_staging": state.deploy_to_staging,
        "price": state.price.model_dump(mode="json") if state.price else None,
    }


def _prompts(records: Sequence[dict]) -> list[dict[str, Any]]:
    """Each distinct prompt text (a repair re-prompt is another text) by name, with its calls."""
    counts: dict[tuple[str, str], int] = {}
    for record in records:
        for call in record.get("calls", []):
            key = (call["prompt"], call["prompt_sha256"])
            counts[key] = counts.get(key, 0) + 1
    return [{"name": name, "sha256": sha, "calls": calls} for (name, sha), calls in sorted(counts.items())]


def _steps(records: Sequence[dict]) -> dict[str, dict[str, Any]]:
    """Per step: its invocations (each retry and each Map iteration is one), how many failed, and
    their seconds, calls and tokens summed (parallel invocations' seconds overlap in wall time)."""
    steps: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: (r["step"], r.get("started_at", ""))):
        calls = record.get("calls", [])
        steps[record["step"]] = _sum([steps.get(record["step"], {}), {
            "invocations": 1, "failed": 0 if record.get("ok") else 1, "seconds": record.get("seconds", 0),
            "calls": len(calls), "input_tokens": sum(c.get("input_tokens", 0) for c in calls),
            "output_tokens": sum(c.get("output_tokens", 0) for c in calls),
        }])
    return steps


def _sum(rows) -> dict[str, Any]:
    rows = list(rows)
    total = {name: sum(row.get(name, 0) for row in rows) for name in STEP_TOTALS}
    total["seconds"] = round(total["seconds"], 3)
    return total


# -- the checks ---------------------------------------------------------------------------------


def _check(name: str, result: str, detail: dict[str, Any]) -> dict[str, Any]:
    """result: passed, failed or skipped; ok: nothing failed (a skipped check is ok)."""
    return {"name": name, "result": result, "ok": result != "failed", "detail": detail}


def _time_budget_check(state: CourseState) -> dict[str, Any]:
    if state.total_minutes is None or state.target_minutes <= 0:
        return _check("time_budget", "skipped", {"reason": "no outline was measured"})
    measured = check_time(state.total_minutes, state.target_minutes)
    return _check("time_budget", "passed" if measured.within_tolerance else "failed", {
        "target_minutes": measured.target_minutes, "total_minutes": measured.total_minutes,
        "variance_percent": measured.variance_percent, "min_acceptable": measured.min_acceptable,
        "max_acceptable": measured.max_acceptable, "review_attempts": state.review_attempts,
    })


def lesson_length_check(words: int, minutes: int, pace: Pace) -> dict[str, Any]:
    """A lesson's words against its minutes at the pace: the lesson writer's own rule
    (domain/lessons.parse_lesson repairs a lesson more than LENGTH_TOLERANCE off target_words)."""
    target = target_words(minutes, pace)
    return {
        "words": words, "minutes": minutes, "target_words": target,
        "min_words": math.ceil(target * (1 - LENGTH_TOLERANCE)), "max_words": math.floor(target * (1 + LENGTH_TOLERANCE)),
        "ok": not target or abs(words - target) <= LENGTH_TOLERANCE * target,
    }


def _lesson_lengths_check(checks: Sequence[dict]) -> dict[str, Any]:
    if not checks:
        return _check("lesson_lengths", "skipped", {"reason": "no lesson was written in full"})
    outside = [check for check in checks if not check["ok"]]
    return _check("lesson_lengths", "failed" if outside else "passed", {
        "checked": len(checks), "within_range": len(checks) - len(outside),
        "outside": [{name: check[name] for name in ("lesson_id", "number", "title", "words", "target_words",
                                                    "min_words", "max_words") if name in check} for check in outside],
    })


def _quiz_check(problems: list[str] | None) -> dict[str, Any]:
    if problems is None:
        return _check("quiz_schema", "skipped", {"reason": "the course has no quiz"})
    return _check("quiz_schema", "failed" if problems else "passed", {"problems": list(problems)})


def quiz_schema_problems(quiz: StoredQuiz) -> list[str]:
    """What the stored quiz's shape promises and its model does not enforce: questions, unique ids,
    four options to a multiple-choice question and two to a true/false one, a correct answer among them."""
    problems = [] if quiz.questions else ["the quiz has no question"]
    if len(set(quiz.question_ids)) != len(quiz.question_ids):
        problems.append("two questions share an id")
    for number, question in enumerate(quiz.questions, start=1):
        expected = 4 if question.kind == QuestionKind.multiple_choice else 2
        if len(question.options) != expected:
            problems.append(f"question {number} ({question.kind.value}) has {len(question.options)} options, not {expected}")
        if question.correct_index >= len(question.options):
            problems.append(f"question {number}'s correct answer ({question.correct_index}) is not one of its options")
    return problems


# -- the manifest's JSON Schema (tests validate every manifest against it) -----------------------

_COUNT = {"type": "integer", "minimum": 0}
_SECONDS = {"type": "number", "minimum": 0}
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_TOTALS = {"type": "object", "required": list(STEP_TOTALS), "additionalProperties": False,
           "properties": {name: _SECONDS if name == "seconds" else _COUNT for name in STEP_TOTALS}}

EVIDENCE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "coursegen evidence pack manifest",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema_version", "course_id", "generated_at", "request", "sources", "model", "prompts", "steps",
                 "totals", "estimate", "checks", "artifacts"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "course_id": {"type": "string", "minLength": 1},
        "generated_at": {"type": "string", "minLength": 1},
        "request": {
            "type": "object",
            "additionalProperties": False,  # a field added here is a decision: no owner, no personal data
            "required": ["query", "hours", "language", "preferences", "full_lessons_count", "content_mode", "dry_run",
                         "generate_quiz", "generate_landing_page", "deploy_to_staging", "price"],
            "properties": {
                "query": {"type": "string"},
                "hours": {"type": "number"},
                "language": {"type": "string"},
                "preferences": {"type": "object", "required": ["depth", "pace"],
                                "properties": {"depth": {"type": "string"}, "pace": {"type": "string"},
                                               "audience": {"type": "string"}, "focus": {"type": "string"}}},
                "full_lessons_count": {"type": ["integer", "null"], "minimum": 0},
                "content_mode": {"type": "string"},
                "dry_run": {"type": "boolean"},
                "generate_quiz": {"type": "boolean"},
                "generate_landing_page": {"type": "boolean"},
                "deploy_to_staging": {"type": "boolean"},
                "price": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["amount", "currency"]}]},
            },
        },
        "sources": {"type": "array", "items": {
            "type": "object", "required": ["book_id", "title", "similarity"], "additionalProperties": False,
            "properties": {"book_id": {"type": "string"}, "title": {"type": "string"}, "similarity": {"type": "number"}}}},
        "model": {"type": "object", "required": ["provider", "model", "generator"], "additionalProperties": False,
                  "properties": {"provider": {"type": "string"}, "model": {"type": "string"}, "generator": {"type": "string"}}},
        "prompts": {"type": "array", "items": {
            "type": "object", "required": ["name", "sha256", "calls"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1}, "sha256": _SHA256, "calls": {"type": "integer", "minimum": 1}}}},
        "steps": {"type": "object", "additionalProperties": _TOTALS},
        "totals": _TOTALS,
        "estimate": {"type": ["object", "null"]},
        "checks": {"type": "array", "items": {
            "type": "object", "required": ["name", "result", "ok", "detail"], "additionalProperties": False,
            "properties": {"name": {"enum": ["time_budget", "lesson_lengths", "quiz_schema"]},
                           "result": {"enum": ["passed", "failed", "skipped"]},
                           "ok": {"type": "boolean"}, "detail": {"type": "object"}}}},
        "artifacts": {"type": "array", "items": {
            "type": "object", "required": ["key", "sha256", "bytes"], "additionalProperties": False,
            "properties": {"key": {"type": "string", "minLength": 1}, "sha256": _SHA256, "bytes": _COUNT}}},
    },
}
