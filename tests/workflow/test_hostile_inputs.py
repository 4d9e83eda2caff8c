"""Hostile text in the query, the preferences and a library book goes through the whole workflow and
comes out as text: on every page of the site, in every package (each still valid), never as markup."""

from __future__ import annotations

import io
import zipfile

import pytest
from html5lib import parse

from coursegen.domain.grounding import course_subject
from coursegen.domain.artifacts import export_key, site_prefix
from coursegen.models import BookSummary, CoursePreferences, CourseRequest
from tests.artifacts.package_checks import validate_package

pytestmark = pytest.mark.workflow

SCRIPT = "<script>alert(1)</script>"
HANDLER = '"><img src=x onerror=alert(1)>'
QUERY = f"Learn DCF valuation {SCRIPT}"
HOSTILE_BOOK = BookSummary(
    book_id="hostile-001", title=f"DCF Valuation {SCRIPT} Explained", author=f"Mallory {HANDLER}", subject="finance", year=2020,
    summary=("Discounted cash flow valuation values a company by forecasting free cash flow, discounting it at the weighted "
             "average cost of capital and adding a terminal value. javascript:alert(1) {{7*7}} ~=#{}:\\ "
             + "Supercalifragilistic" * 20 + " Sensitivity analysis tests the drivers of value."),
    key_topics=[f"Terminal value {SCRIPT}", "Free cash flow forecasting"])


@pytest.fixture
def hostile_book(clean_courses, embedder):
    # found first, whatever its hostile words: its vector is the query's own
    [embedding] = embedder.embed([course_subject(QUERY)])
    clean_courses.upsert_books([HOSTILE_BOOK], [embedding], embedder.model_id)
    yield HOSTILE_BOOK
    with clean_courses.pool.connection() as conn:
        conn.execute("DELETE FROM books WHERE book_id = %s", (HOSTILE_BOOK.book_id,))


def no_markup_from_input(page: bytes, name: str) -> None:
    tree = parse(page, namespaceHTMLElements=False)
    assert tree.findall(".//script") == [], name
    for element in tree.iter():
        for attribute, value in element.attrib.items():
            assert not attribute.lower().startswith("on"), (name, element.tag, attribute)
            assert not value.strip().lower().startswith("javascript:"), (name, element.tag, attribute)
    assert b"<script>alert" not in page and b"<img src=x" not in page, name


def test_hostile_query_preferences_and_book_stay_text_on_every_page_and_in_every_package(run_workflow, hostile_book):
    request = CourseRequest(
        query=QUERY, hours=1, deploy_to_staging=True,
        preferences=CoursePreferences(audience=f"Analysts {HANDLER}", focus=f"terminal value {SCRIPT} 'quotes' \"double\""))
    result, runner = run_workflow(request)
    assert result.status["status"] == "complete", result.status
    course_id = result.course_id
    retrieved = {book.book_id for book in runner.container.states.load(course_id).book_summaries}
    assert hostile_book.book_id in retrieved  # it grounds the course: the landing page and sources show it

    prefix = site_prefix(course_id)
    pages = {key.removeprefix(prefix): runner.payload(key) for key in runner.container.payloads.list_keys(prefix)}
    html_pages = {name: data for name, data in pages.items() if name.endswith(".html")}
    assert "index.html" in html_pages and "sources.html" in html_pages
    for name, page in html_pages.items():
        no_markup_from_input(page, name)
    assert "Mallory" in pages["sources.html"].decode()  # the book's author is shown, as text

    quiz = runner.container.database.get_quiz(course_id)
    for kind in ("scorm", "qti", "gift"):
        data = runner.payload(export_key(course_id, kind))
        assert validate_package(kind, data if kind != "gift" else data.decode(), quiz=quiz if kind != "scorm" else None) == [], kind
    scorm = zipfile.ZipFile(io.BytesIO(runner.payload(export_key(course_id, "scorm"))))
    for name in scorm.namelist():
        if name.endswith(".html"):
            no_markup_from_input(scorm.read(name), f"scorm:{name}")
    assert not runner.invalid_events and all(len(str(e["detail"]).encode()) < 1024 for e in runner.published_events())
