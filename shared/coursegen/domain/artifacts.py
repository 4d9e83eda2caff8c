"""Where a course's published artifacts live in the payload bucket: one place names every key.

Published artifacts (book, quiz, landing page, site, packages, evidence pack) live under
`published/{course_id}/`, which the bucket keeps; a step's scratch (plans, drafts, usage records)
lives under `courses/{course_id}/`, which it expires after 30 days (template.yaml).
Each is per course, not per request: a rewrite (a resume, a republish) replaces the file in place,
so no course ever has two quizzes, two sites or two packages of one format.
"""

from __future__ import annotations

import mimetypes

EXPORT_FORMATS = {  # format -> (file name, media type)
    "scorm": ("course.scorm.zip", "application/zip"),
    "qti": ("course.qti.zip", "application/zip"),
    "gift": ("course.gift.txt", "text/plain; charset=utf-8"),
}


def course_prefix(course_id: str) -> str:
    """Everything published of a course (the evidence pack hashes what is under it)."""
    return f"published/{course_id}/"


# The folders under course_prefix that hold the course's artifacts, each the evidence pack hashes;
# its own evidence/ folder is not one (a manifest cannot hold its own hash).
PUBLISHED_FOLDERS = ("book/", "quiz/", "landing/", "site/", "exports/")


def book_key(course_id: str, name: str) -> str:
    """The built book (course.md, course.html, course.epub) and its figures (figures/...)."""
    return f"published/{course_id}/book/{name}"


def quiz_key(course_id: str) -> str:
    return f"published/{course_id}/quiz/quiz.json"


def landing_page_key(course_id: str) -> str:
    return f"published/{course_id}/landing/index.html"


def site_prefix(course_id: str) -> str:
    """The course site, one object per file (site path appended: index.html, lessons/1-1.html, ...)."""
    return f"published/{course_id}/site/"


def export_key(course_id: str, export_format: str) -> str:
    return f"published/{course_id}/exports/{EXPORT_FORMATS[export_format][0]}"


def evidence_key(course_id: str) -> str:
    return f"published/{course_id}/evidence/manifest.json"


def usage_prefix(course_id: str) -> str:
    """Each step invocation's model calls and time (adapters/metering.py writes, the evidence pack reads)."""
    return f"courses/{course_id}/usage/"


_MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
                ".txt": "text/plain; charset=utf-8", ".json": "application/json", ".js": "text/javascript; charset=utf-8",
                ".xml": "application/xml", ".xsd": "application/xml", ".zip": "application/zip"}


def media_type(path: str) -> str:
    """A site or package file's Content-Type, by its suffix (text in UTF-8)."""
    suffix = path[path.rfind("."):].lower() if "." in path else ""
    return _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
