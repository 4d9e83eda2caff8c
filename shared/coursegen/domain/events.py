"""What the domain events say that the state machine cannot work out itself (seed 004).

The ASL builds each event from its state, but it has no function to cut a string: the request's
title, description and audiences (a user's words, up to 500 + 200 + 200 characters, several bytes
each) are cut here, by EmbedQuery, so course.generation.requested stays under 1 KB, its bound.
"""

from __future__ import annotations

import json

from coursegen.models import CourseRequest

TEXT_FIELD_BYTES = 160  # title, description, each audience: 3 x 160 B + ids and flags stay well under 1 KB
TEMPLATE_ID = "custom"  # seed 004's template_id: every outline here is planned from the library, none from a template


def _json_bytes(text: str) -> int:
    """What the text takes in the event's JSON: quotes and backslashes escaped, non-ASCII as \\u escapes."""
    return len(json.dumps(text).encode()) - 2  # as ASCII JSON (\\u escapes): the larger, the 1 KB check's measure


def clipped(text: str, limit: int = TEXT_FIELD_BYTES) -> str:
    """The text, one line, cut at a character boundary to at most `limit` bytes as the event's JSON
    writes it (escapes included: a title of quotes takes twice its length), an ellipsis saying so."""
    line = " ".join(text.split())
    if _json_bytes(line) <= limit:
        return line
    budget, low, high = limit - len("…".encode()), 0, len(line)
    while low < high:  # the longest prefix within the budget
        middle = (low + high + 1) // 2
        low, high = (middle, high) if _json_bytes(line[:middle]) <= budget else (low, middle - 1)
    return line[:low].rstrip() + "…"


def requested_fields(request: CourseRequest) -> dict:
    """course.generation.requested's fields from the request (the ids and the language the ASL has).
    full_lessons_count: null means every lesson in full."""
    audience = request.preferences.audience
    return {
        "title": clipped(request.query),
        "description": clipped(request.preferences.focus),
        "target_audiences": [clipped(audience)] if audience else [],
        "dry_run": request.dry_run,
        "full_lessons_count": request.full_lessons_count,
    }
