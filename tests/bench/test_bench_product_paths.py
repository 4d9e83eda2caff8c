"""The benchmarks time the product's own code: search through the repository's `search`, the
library through `import_library` and the IngestBooks handler - never SQL or loops of their own."""

from bench import ingestion, search_scale
from coursegen.adapters.postgres import PostgresRepository
from coursegen.services.library import LibraryIngestion


def counting(monkeypatch, owner, name: str) -> list:
    calls: list = []
    real = getattr(owner, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def test_search_at_scale_imports_and_searches_through_the_repository(monkeypatch):
    searches = counting(monkeypatch, PostgresRepository, "search")
    upserts = counting(monkeypatch, PostgresRepository, "upsert_books")
    [row] = search_scale.measure((300,))
    assert len(searches) == search_scale.QUERIES * (1 + len(search_scale.EF_SEARCH))  # exact, then each ef_search
    assert sum(len(books) for _, books, *_ in upserts) == 300
    assert row["index_used"] and row["hnsw200_recall"] > 0.5


def test_the_ingestion_bench_runs_the_ingest_books_handler_and_the_second_upload_embeds_nothing(monkeypatch):
    ingests = counting(monkeypatch, LibraryIngestion, "ingest")
    first, again = ingestion.measure(150)
    assert len(ingests) == 2
    assert (first["books"], first["embedder_calls"], first["texts_embedded"]) == (150, 3, 150)
    assert (again["books"], again["embedder_calls"], again["texts_embedded"]) == (150, 0, 0)


def test_the_synthetic_library_is_distinct_books_of_the_sample_shape():
    lines = ingestion.synthetic_library(200)
    assert len(set(lines)) == 200 and ingestion.synthetic_library(200) == lines  # deterministic
    from coursegen.services.library import parse_library_lines
    books, rejected = parse_library_lines(lines)
    assert len(books) == 200 and not rejected
    assert len({book.summary for _, book in books}) == 200
