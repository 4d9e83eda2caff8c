"""PostgreSQL + pgvector, for real (pgserver): migrations, search, idempotent storage."""

import pytest

from coursegen.adapters.postgres import PostgresRepository, migrate
from coursegen.errors import ConfigurationError, DatabaseUnavailable
from coursegen.models import BookSummary, CourseOutline, CourseState, OutlinePart, Section
from tests.conftest import course_rows, section_rows


def test_migrations_are_versioned_and_apply_once(database_url):
    assert migrate(database_url, 256) == []  # the session fixture applied them already


def test_the_books_index_is_hnsw_with_the_denser_graph_the_benchmark_measured(repository):
    with repository.pool.connection() as conn:
        options = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'books_embedding_hnsw'").fetchone()["reloptions"]
    assert sorted(options) == ["ef_construction=128", "m=16"]


def test_a_different_embedding_dimension_is_refused_with_what_to_do(database_url):
    with pytest.raises(ConfigurationError, match="256-dimension embeddings but the embedder makes 1024"):
        migrate(database_url, 1024)


def test_search_finds_the_finance_books_for_a_valuation_query(repository, embedder):
    [query] = embedder.embed(["Learn DCF valuation"])
    found = repository.search(query, top_k=5, min_similarity=0.2, model_id=embedder.model_id)
    assert found and found[0].book_id.startswith("fin-")
    assert [b.similarity for b in found] == sorted((b.similarity for b in found), reverse=True)
    assert all(b.similarity >= 0.2 for b in found)


def test_min_similarity_filters_out_unrelated_books(repository, embedder):
    [query] = embedder.embed(["quantum knitting for cats"])
    assert repository.search(query, top_k=5, min_similarity=0.2, model_id=embedder.model_id) == []


def test_a_library_embedded_by_another_model_is_a_clear_error(repository, embedder):
    [query] = embedder.embed(["Learn DCF valuation"])
    with pytest.raises(ConfigurationError, match="re-import the library"):
        repository.search(query, top_k=3, min_similarity=0.0, model_id="some-other-model")


def test_reimporting_a_book_updates_it_and_never_duplicates(repository, embedder):
    before = repository.count_books()
    book = BookSummary(book_id="tmp-001", title="Temporary", summary="A temporary book used by one test only.")
    repository.upsert_books([book], embedder.embed(["x"]), embedder.model_id)
    repository.upsert_books([book.model_copy(update={"title": "Renamed"})], embedder.embed(["x"]), embedder.model_id)
    assert repository.count_books() == before + 1
    with repository.pool.connection() as conn:
        assert conn.execute("SELECT title FROM books WHERE book_id = 'tmp-001'").fetchone()["title"] == "Renamed"
        conn.execute("DELETE FROM books WHERE book_id = 'tmp-001'")


def outline(sections_per_part=(2, 1)) -> CourseOutline:
    parts = []
    for p, count in enumerate(sections_per_part):
        sections = [Section(part_index=p, index=s, title=f"S{p}.{s}", minutes=20, book_ids=["fin-001"]) for s in range(count)]
        parts.append(OutlinePart(index=p, title=f"P{p}", minutes=20 * count, sections=sections))
    return CourseOutline(title="DCF", parts=parts)


def state(course_id="c-1") -> CourseState:
    return CourseState(session_id=course_id, pending_course_query="Learn DCF", pending_course_hours=1,
                       generator="test", variance_percent=0.0)


def test_storing_the_same_course_twice_keeps_one_course_with_the_latest_outline(clean_courses):
    clean_courses.store_course(state(), outline((2, 1)))
    clean_courses.store_course(state(), outline((1, 1, 1)))
    assert course_rows(clean_courses) == 1
    stored = clean_courses.get_course("c-1")
    assert [len(p.sections) for p in stored.outline.parts] == [1, 1, 1]
    assert section_rows(clean_courses, "c-1") == 3
    assert stored.sources[0]["book_id"] == "fin-001"  # each section keeps the ids of its books


def test_a_failure_inside_the_transaction_leaves_no_partial_course(clean_courses):
    broken = outline((2,))
    broken.parts[0].sections.append(broken.parts[0].sections[0])  # duplicate primary key
    with pytest.raises(Exception):
        clean_courses.store_course(state("c-broken"), broken)
    assert course_rows(clean_courses, "c-broken") == 0
    assert section_rows(clean_courses, "c-broken") == 0


def test_courses_list_newest_first_and_page(clean_courses):
    for n in range(3):
        clean_courses.store_course(state(f"c-{n}"), outline())
    first_page = clean_courses.list_courses(limit=2)
    assert [c.course_id for c in first_page] == ["c-2", "c-1"]
    assert [c.course_id for c in clean_courses.list_courses(limit=2, before="c-1")] == ["c-0"]
    assert clean_courses.get_course("missing") is None


def test_an_unreachable_database_is_database_unavailable():
    repo = PostgresRepository("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", timeout_seconds=1)
    with pytest.raises(DatabaseUnavailable):
        repo.open()
    repo.close()
