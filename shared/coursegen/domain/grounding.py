"""Grounding: the text a query is searched by, and what a refused query is told.

The offline embedder (WordLlama) averages the vectors of the words it is given, so the request's
framing ("Learn ...", "How to ...", "... for beginners") weighs as much as its subject: "Learn to
play the violin" matched a book on learning strategies better than "Learn accounting" matched
the accounting books (docs/grounding-calibration.md measures both). Searching by the subject
alone separates what the library teaches from what it does not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Words that say "teach me" rather than what to teach, at the start or the end of a query.
_LEADING = re.compile(
    r"^(?:(?:i\s+(?:want|would\s+like|'d\s+like)\s+to|i'd\s+like\s+to|please|help\s+me|can\s+you)\s+)?"
    r"(?:(?:learn(?:ing)?|teach\s+me|study(?:ing)?|understand(?:ing)?|master(?:ing)?|get\s+started\s+with)"
    r"(?:\s+(?:about|how\s+to|to))?"
    r"|(?:an?\s+)?(?:intro(?:duction)?|course|crash\s+course|primer|guide)\s+(?:to|on|in|about)"
    r"|how\s+to|(?:the\s+)?(?:basics|fundamentals|essentials)\s+of)\s+",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"\s*(?:(?:for|as\s+an?)\s+(?:absolute\s+)?(?:beginners?|dummies|newcomers|novices)|101|from\s+scratch|"
    r"basics|fundamentals|made\s+easy|crash\s+course)$",
    re.IGNORECASE,
)

MAX_MESSAGE = 300  # ExplainFailure's one line, and the failed event's limit


def course_subject(query: str) -> str:
    """The subject a request names: 'Learn to play the violin' -> 'play the violin'. A query that
    is nothing but framing ('Learn the basics') stays as it is."""
    subject = _LEADING.sub("", query.strip().rstrip(".?!").strip(), count=1)  # one layer: "How to study" keeps "study"
    subject = _TRAILING.sub("", subject).strip(" :,-")
    subject = re.sub(r"^(?:the|an?)\s+", "", subject, flags=re.IGNORECASE) if " " in subject else subject
    return subject if subject.lower() not in ("", "the", "a", "an") else query.strip()


def no_books_message(subjects: Sequence[str]) -> str:
    """Why nothing was generated, what the library covers (its subjects, most books first, as
    many as fit in one line) and how to add books. Never the query: this line goes into events."""
    head = "No book in the library is close enough to this query."
    tail = "Add books with coursegen books import FILE.jsonl (in AWS: upload it under books/ in the payload bucket)."
    if not subjects:
        return f"{head} The library is empty. {tail}"

    def line(named: Sequence[str]) -> str:
        rest = len(subjects) - len(named)  # a long subject list is cut, and says so
        covers = ", ".join(named) + (f" and {rest} more" if rest else "")
        return f"{head} The library covers: {covers}. {tail}"

    named = [s if len(s) <= 40 else s[:39] + "…" for s in subjects]
    while len(named) > 1 and len(line(named)) > MAX_MESSAGE:
        named.pop()
    return line(named)
