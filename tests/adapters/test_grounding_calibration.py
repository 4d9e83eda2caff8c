"""The grounding gate is calibrated from data (bench/calibrate_grounding.py): with the committed
threshold every off-topic calibration query is refused and every on-topic one accepted, and the
committed document is what the script writes from a fresh measurement."""

import re

import pytest

from bench.calibrate_grounding import DOC, choose_threshold, measure, write_doc
from coursegen.config import Settings
from coursegen.domain.grounding import course_subject
from coursegen.services.outline import OutlineSettings
from tests.conftest import ROOT

THRESHOLD = Settings().search_min_similarity


@pytest.fixture(scope="module")
def measured(repository, embedder):
    return measure(repository, embedder)


def test_off_topic_queries_are_refused_and_on_topic_ones_accepted_by_the_search(measured, repository, embedder):
    vectors = embedder.embed([course_subject(row.query) for row in measured])
    for row, vector in zip(measured, vectors, strict=True):
        found = repository.search(vector, 8, THRESHOLD, model_id=embedder.model_id)  # the product's call
        assert bool(found) == row.on_topic, (row.query, row.best, THRESHOLD)


def test_the_calibration_separates_the_sets_and_chose_the_committed_threshold(measured):
    threshold, rule = choose_threshold(measured)
    assert rule.startswith("midpoint of the gap")  # the two sets do not overlap
    assert threshold == THRESHOLD == OutlineSettings().min_similarity
    assert {row.subject for row in measured if row.on_topic} == {
        "finance", "accounting", "data-science", "software-engineering", "psychology", "marketing", "history", "culinary"}


def test_the_committed_document_is_what_the_script_writes(measured, embedder):
    assert DOC.read_text() == write_doc(measured, embedder.model_id)
    assert f"**Threshold: {THRESHOLD:.2f}**" in DOC.read_text()


def test_the_readme_states_the_committed_threshold():
    row = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `SEARCH_MIN_SIMILARITY`"))
    assert re.search(rf"\| {THRESHOLD:g} \|", row), row


def test_the_library_subjects_come_most_books_first(repository):
    subjects = repository.subjects()
    assert subjects[0] == "finance"  # 12 books; the others hold 6 or 3
    assert set(subjects) >= {"accounting", "data-science", "software-engineering", "psychology", "marketing",
                             "history", "culinary"}
    assert "" not in subjects
