"""What a poller sees: status, phase, progress and a readable error, from the course state."""

from __future__ import annotations

import json
from typing import Any

from coursegen.domain.time_budget import progress_percent
from coursegen.models import CourseState, Status


def readable_cause(cause: str) -> str:
    """A Lambda failure's Cause is a JSON document with a stack trace; users get its message only."""
    try:
        document = json.loads(cause)
    except (TypeError, ValueError):
        return cause
    if isinstance(document, dict) and "errorMessage" in document:
        return str(document["errorMessage"])
    return cause


MAX_ERROR_MESSAGE = 300  # what the status record, the API and course.generation.failed carry


def one_readable_line(cause: str, limit: int = MAX_ERROR_MESSAGE) -> str:
    """The first line of a cause's readable message, at most `limit` characters ("" if none)."""
    lines = readable_cause(str(cause or "")).strip().splitlines()
    text = lines[0].strip() if lines else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def course_status(state: CourseState) -> dict[str, Any]:
    phase = state.phase.value
    complete = state.status == Status.complete
    view: dict[str, Any] = {
        "course_id": state.course_id,
        "status": state.status.value,
        "phase": "complete" if complete else phase,
        "progress": {
            "parts_total": state.progress.parts_total,
            "parts_done": state.progress.parts_done,
            "sections_total": state.progress.sections_total,
            "lessons_total": state.progress.lessons_total,
            "lessons_done": state.progress.lessons_done,
            "percent": 100 if complete else progress_percent(
                phase, state.progress.parts_done, state.progress.parts_total, state.review_attempts,
                state.progress.lessons_done, state.progress.lessons_total,
            ),
        },
        "query": state.pending_course_query,
        "hours": state.pending_course_hours,
        "review_attempts": state.review_attempts,
        "total_minutes": state.total_minutes,
        "variance_percent": state.variance_percent,
        "generator": state.generator,
        "updated_at": state.updated_at,
    }
    if state.time_warning:
        view["warning"] = state.time_warning
    if state.status == Status.error:
        view["error"] = {"type": state.error_type, "message": readable_cause(state.error_message), "phase": phase}
    return view
