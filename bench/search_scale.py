"""pgvector top-k at scale: latency p50/p95 and recall@10 against exact search, with and without
the HNSW index, and ingestion throughput - on the embedded PostgreSQL, with synthetic vectors.

The books table is the product's (its migrations), filled through the product's import
(`import_library`: JSONL lines validated, batches checked against what is stored, upserted) with
an embedder that hands back the synthetic vectors, and searched through the repository's own
`search` (the SQL, `hnsw.ef_search` and the row mapping every course's search runs). The rows go
in before the index is built, then the index is built by the statement of the migration that
creates it: HNSW, vector_cosine_ops, {options}. Exact search is the same `search` before the
index exists; HNSW is searched with ef_search 40 (pgvector's default), 100 and 200 (the product's).
The vectors are 256-dimension unit vectors drawn around 200 random centres (clustered, as real
embeddings are; uniform noise would be the worst case for any ANN index). Queries are perturbed
data points.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from coursegen.adapters.postgres import PostgresRepository, migrate, migrations
from coursegen.services.library import embedding_text, import_library
from coursegen.models import BookSummary
from coursegen_local.database import embedded_database_url
from coursegen_local.load import percentile

DIM, K, QUERIES = 256, 10, 100
EF_SEARCH = (40, 100, 200)


def books_index_statement() -> str:
    """The CREATE INDEX of the books' HNSW index as the latest migration that creates it leaves it."""
    created = [m for _, sql in migrations() for m in re.findall(r"CREATE INDEX books_embedding_hnsw .*?WITH \(.*?\)", sql)]
    if not created:
        raise LookupError("no migration creates books_embedding_hnsw WITH (...): the bench would measure another index")
    return created[-1]


def books_index_options() -> str:
    return re.search(r"WITH \((.*?)\)$", books_index_statement()).group(1)


__doc__ = __doc__.format(options=books_index_options())


def vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(200, DIM)).astype(np.float32)
    data = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, DIM)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


class SyntheticEmbedder:
    """Hands the import the vector made for each book's text, as a real embedder would embed it."""

    model_id, dimension = "bench-synthetic-256", DIM

    def __init__(self, by_text: dict[str, np.ndarray]) -> None:
        self.by_text = by_text

    def embed(self, texts):
        return [self.by_text[text] for text in texts]


def library(data: np.ndarray) -> tuple[list[str], SyntheticEmbedder]:
    """A JSONL line per vector, book_id v<row>, and the embedder that knows their vectors."""
    books = [BookSummary(book_id=f"v{i}", title=f"Synthetic book {i}", summary=f"Synthetic summary of book {i}, for the search bench.")
             for i in range(len(data))]
    return [book.model_dump_json() for book in books], SyntheticEmbedder({embedding_text(b): v for b, v in zip(books, data)})


def timed_searches(repository: PostgresRepository, queries: np.ndarray) -> tuple[list[list[str]], list[float]]:
    results, ms = [], []
    for query in queries:
        started = time.perf_counter()
        found = repository.search(query, K, min_similarity=-1.0)  # every one of the top K, however far
        ms.append((time.perf_counter() - started) * 1000)
        results.append([book.book_id for book in found])
    return results, ms


def latency(prefix: str, ms: list[float]) -> dict:
    return {f"{prefix}_p50_ms": percentile(ms, 0.5), f"{prefix}_p95_ms": percentile(ms, 0.95)}


def measure(sizes: tuple[int, ...] = (10_000, 100_000)) -> list[dict]:
    home = tempfile.mkdtemp(prefix="coursegen-bench-")
    atexit.register(shutil.rmtree, home, True)  # after pgserver's exit hook has stopped the server
    url = embedded_database_url(Path(home) / "pgdata")
    migrate(url, DIM)
    rng = np.random.default_rng(7)
    rows = []
    with psycopg.connect(url, autocommit=True) as admin:
        register_vector(admin)
        admin.execute("SET maintenance_work_mem = '1GB'")  # this session builds the index
        versions = {"pgvector": admin.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0],
                    "postgres": admin.execute("SHOW server_version").fetchone()[0].split()[0]}
        for n in sizes:
            admin.execute("DROP INDEX IF EXISTS books_embedding_hnsw")
            admin.execute("TRUNCATE books")
            data = vectors(n, rng)
            lines, embedder = library(data)
            picks = data[rng.integers(0, n, QUERIES)]
            queries = picks + 0.05 * rng.normal(size=picks.shape).astype(np.float32)
            repositories = {ef: PostgresRepository(url, ef_search=ef).open() for ef in EF_SEARCH}
            try:
                started = time.perf_counter()
                report = import_library(lines, embedder, repositories[EF_SEARCH[-1]])
                ingest_seconds = time.perf_counter() - started
                if report.imported != n:
                    raise RuntimeError(f"{report.imported} of {n} synthetic books imported: {report.rejected[:3]}")
                admin.execute("ANALYZE books")
                exact, exact_ms = timed_searches(repositories[EF_SEARCH[-1]], queries)
                started = time.perf_counter()
                admin.execute(books_index_statement())
                build_seconds = time.perf_counter() - started
                plan = "\n".join(r[0] for r in admin.execute(
                    "EXPLAIN SELECT book_id FROM books ORDER BY embedding <=> %s LIMIT 10", (queries[0],)).fetchall())
                row = versions | {"vectors": n, "ingest_rows_per_s": n / ingest_seconds, "index_build_s": build_seconds,
                                  "index_used": "Index Scan" in plan} | latency("exact", exact_ms)
                for ef, repository in repositories.items():
                    found, ms = timed_searches(repository, queries)
                    recall = float(np.mean([len(set(f) & set(e)) / K for f, e in zip(found, exact)]))
                    row |= latency(f"hnsw{ef}", ms) | {f"hnsw{ef}_recall": recall}
            finally:
                for repository in repositories.values():
                    repository.close()
            rows.append(row)
        admin.execute("TRUNCATE books")
    return rows


if __name__ == "__main__":
    print(json.dumps(measure((10_000,)), indent=2))
