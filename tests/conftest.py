"""Shared fixtures: a real PostgreSQL (pgserver, in a temporary folder), the sample library
embedded once with WordLlama, and a clean slate of courses for every test that asks for it."""

from __future__ import annotations

import json
import os
from pathlib import Path

# As the offline runner sets them, before any handler module is imported: coursegen.handlers reads
# POWERTOOLS_METRICS_DISABLED at import, and with metrics on Powertools prints them to stdout once
# 100 pile up - inside whichever test is running then (a CLI test that reads stdout fails on it).
for _name in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_TRACE_DISABLED"):
    os.environ.setdefault(_name, "true")

import pytest

from coursegen.adapters.offline import WordLlamaEmbedder
from coursegen.adapters.postgres import PostgresRepository, migrate
from coursegen.services.library import import_library
from coursegen_local.database import embedded_database_url
from coursegen_local.events import event_problems  # noqa: F401 - the tests' one contract check

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LIBRARY = ROOT / "data" / "books" / "sample_library.jsonl"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = embedded_database_url(tmp_path_factory.mktemp("pgdata"))
    migrate(url, WordLlamaEmbedder.dimension)
    return url


@pytest.fixture(scope="session")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@pytest.fixture(scope="session")
def repository(database_url, embedder):
    repo = PostgresRepository(database_url).open()
    report = import_library(SAMPLE_LIBRARY.read_text().splitlines(), embedder, repo)
    assert report.imported >= 40 and not report.rejected
    yield repo
    repo.close()


@pytest.fixture
def clean_courses(repository):
    with repository.pool.connection() as conn:
        conn.execute("TRUNCATE courses CASCADE")
    return repository


def course_rows(repository, course_id: str | None = None) -> int:
    with repository.pool.connection() as conn:
        if course_id is None:
            return conn.execute("SELECT count(*) AS n FROM courses").fetchone()["n"]
        return conn.execute("SELECT count(*) AS n FROM courses WHERE course_id = %s", (course_id,)).fetchone()["n"]


def lesson_rows(repository, course_id: str | None = None) -> int:
    """Rows of the lessons table (every revision), of one course or of all."""
    with repository.pool.connection() as conn:
        if course_id is None:
            return conn.execute("SELECT count(*) AS n FROM lessons").fetchone()["n"]
        return conn.execute("SELECT count(*) AS n FROM lessons WHERE course_id = %s", (course_id,)).fetchone()["n"]


def section_rows(repository, course_id: str) -> int:
    with repository.pool.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM course_sections WHERE course_id = %s", (course_id,)).fetchone()["n"]
