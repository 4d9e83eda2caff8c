"""What a poller sees: status, phase, progress and a readable error, from the course state."""

from __future__ import annotations

import json
from typing import Any

from coursegen.domain.time_budget import progress_percent
from coursegen.models import CourseState, Status


def _nested_failure(document: dict) -> tuple[str, str] | None:
    """A failed child execution's (error, cause), when the document is its DescribeExecution
    answer: the Cause of a states:startExecution.sync task whose execution failed (AWS spells the
    keys Error/Cause, moto error/cause)."""
    if not ("ExecutionArn" in document or "executionArn" in document):
        return None
    error = document.get("Error", document.get("error"))
    cause = document.get("Cause", document.get("cause"))
    if error is None and cause is None:
        return None
    return str(error or ""), str(cause or "")


def readable_cause(cause: str) -> str:
    """A Lambda failure's Cause is a JSON document with a stack trace; users get its message only.
    A failed child execution's Cause (its DescribeExecution answer) is read down to the child's own
    cause, however deep the nesting."""
    try:
        document = json.loads(cause)
    except (TypeError, ValueError):
        return cause
    if isinstance(document, dict) and "errorMessage" in document:
        return str(document["errorMessage"])
    if isinstance(document, dict) and (nested := _nested_failure(document)) is not None:
        error, inner = nested
        return readable_cause(inner) if inner else error
    return cause


def underlying_error(error: str, cause: str) -> str:
    """The error name to report: a failed child execution's own error (LlmUnavailable) rather than
    the parent task's States.TaskFailed; otherwise `error` as it is."""
    try:
        document = json.loads(cause)
    except (TypeError, ValueError):
        return error
    if isinstance(document, dict) and (nested := _nested_failure(document)) is not None and nested[0]:
        return underlying_error(nested[0], nested[1])
    return error


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
    # what the publishing stage made (null until it has)
    view |= {"quiz_id": state.quiz_id or None, "quiz_questions_count": state.quiz_questions_count,
             "landing_page_id": state.landing_page_id or None, "staging_url": state.staging_url or None,
             "evidence_pack_path": state.evidence_pack_path or None}
    if state.dry_run:
        view["dry_run"] = True
        view["estimate"] = state.estimate.model_dump(mode="json") if state.estimate else None
    if state.time_warning:
        view["warning"] = state.time_warning
    if state.status == Status.error:
        view["error"] = {"type": state.error_type, "message": readable_cause(state.error_message), "phase": phase}
    return view
