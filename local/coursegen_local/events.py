"""The local event bus's side: every event the offline runner captures is checked against its
contract (its JSON Schema in events/schemas, its source, under 1 KB) and can be kept in a JSON
Lines log, which `coursegen events COURSE_ID` reads (in AWS the bus's archive keeps them).
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

import jsonschema

from coursegen_local.template import PROJECT_ROOT

SCHEMAS = PROJECT_ROOT / "events" / "schemas"
MAX_DETAIL_BYTES = 1024
_LOG_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def schemas() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}


def event_problems(event: dict) -> list[str]:
    """Why a published event breaks its contract (its JSON Schema, source, 1 KB), if it does."""
    schema = schemas().get(event["detail-type"])
    if schema is None:
        return [f"{event['detail-type']} has no schema in events/schemas"]
    problems = [] if event["source"] == "coursegen.courses" else [f"source {event['source']}"]
    try:
        jsonschema.validate(event["detail"], schema)
    except jsonschema.ValidationError as error:
        problems.append(f"{event['detail-type']}: {error.message}")
    if len(json.dumps(event["detail"]).encode()) >= MAX_DETAIL_BYTES:
        problems.append(f"{event['detail-type']} is 1 KB or more")
    return problems


def append(log: Path, events: list[dict]) -> None:
    if not events:
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with _LOG_LOCK, log.open("a", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event, sort_keys=True) + "\n")


def course_events(log: Path, course_id: str) -> list[dict]:
    """The events a course published, oldest first, each once (a redelivered event has the same id)."""
    if not log.is_file():
        return []
    seen, found = set(), []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash: the others still count
        if event.get("detail", {}).get("payload", {}).get("course_id") == course_id and event.get("id") not in seen:
            seen.add(event.get("id"))
            found.append(event)
    return sorted(found, key=lambda e: e.get("time", ""))
