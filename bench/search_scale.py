"""pgvector top-k at scale: latency p50/p95 and recall@10 against exact search, with and without
the HNSW index, and ingestion throughput - on the embedded PostgreSQL, with synthetic vectors.

The vectors are 256-dimension unit vectors drawn around 200 random centres (clustered, as real
embeddings are; uniform noise would be the worst case for any ANN index). Queries are perturbed
data points. The index is the one the books table uses (its options are read from the
migrations): HNSW, vector_cosine_ops, {options}, searched with ef_search 40 (pgvector's
default), 100 and 200 (the product's).
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from coursegen.adapters.postgres import migrations
from coursegen_local.database import embedded_database_url

DIM, K, QUERIES = 256, 10, 100
EF_SEARCH = (40, 100, 200)


def books_index_options() -> str:
    """The WITH (...) of the books index as the latest migration that creates it leaves it."""
    created = [m for _, sql in migrations() for m in re.findall(r"CREATE INDEX books_embedding_hnsw .*?WITH \((.*?)\)", sql)]
    if not created:
        raise LookupError("no migration creates books_embedding_hnsw WITH (...): the bench would measure another index")
    return created[-1]


__doc__ = __doc__.format(options=books_index_options())


def vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(200, DIM)).astype(np.float32)
    data = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, DIM)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def timed_queries(conn: psycopg.Connection, queries: np.ndarray) -> tuple[list[list[int]], list[float]]:
    results, ms = [], []
    for query in queries:
        started = time.perf_counter()
        rows = conn.execute("SELECT id FROM bench_vectors ORDER BY embedding <=> %s LIMIT %s", (query, K)).fetchall()
        ms.append((time.perf_counter() - started) * 1000)
        results.append([row[0] for row in rows])
    return results, ms


def measure(sizes: tuple[int, ...] = (10_000, 100_000)) -> list[dict]:
    home = tempfile.mkdtemp(prefix="coursegen-bench-")
    atexit.register(shutil.rmtree, home, True)  # after pgserver's exit hook has stopped the server
    url = embedded_database_url(Path(home) / "pgdata")
    rng = np.random.default_rng(7)
    rows = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute("SET maintenance_work_mem = '1GB'")
        versions = {"pgvector": conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0],
                    "postgres": conn.execute("SHOW server_version").fetchone()[0].split()[0]}
        for n in sizes:
            data = vectors(n, rng)
            conn.execute("DROP TABLE IF EXISTS bench_vectors")
            conn.execute(f"CREATE TABLE bench_vectors (id integer PRIMARY KEY, embedding vector({DIM}))")
            started = time.perf_counter()
            with conn.cursor().copy("COPY bench_vectors (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "vector"])
                for i, vector in enumerate(data):
                    copy.write_row((i, vector))
            ingest_seconds = time.perf_counter() - started
            conn.execute("ANALYZE bench_vectors")
            picks = data[rng.integers(0, n, QUERIES)]
            queries = picks + 0.05 * rng.normal(size=picks.shape).astype(np.float32)
            exact, exact_ms = timed_queries(conn, queries)
            started = time.perf_counter()
            conn.execute(f"CREATE INDEX ON bench_vectors USING hnsw (embedding vector_cosine_ops) WITH ({books_index_options()})")
            build_seconds = time.perf_counter() - started
            row = versions | {"vectors": n, "ingest_rows_per_s": n / ingest_seconds, "index_build_s": build_seconds,
                   "exact_p50_ms": float(np.percentile(exact_ms, 50)), "exact_p95_ms": float(np.percentile(exact_ms, 95))}
            plan = "\n".join(r[0] for r in conn.execute(
                "EXPLAIN SELECT id FROM bench_vectors ORDER BY embedding <=> %s LIMIT 10", (queries[0],)).fetchall())
            row["index_used"] = "Index Scan" in plan
            for ef in EF_SEARCH:
                conn.execute(f"SET hnsw.ef_search = {ef}")
                found, ms = timed_queries(conn, queries)
                recall = np.mean([len(set(f) & set(e)) / K for f, e in zip(found, exact)])
                row |= {f"hnsw{ef}_p50_ms": float(np.percentile(ms, 50)), f"hnsw{ef}_p95_ms": float(np.percentile(ms, 95)),
                        f"hnsw{ef}_recall": float(recall)}
            rows.append(row)
        conn.execute("DROP TABLE IF EXISTS bench_vectors")
    return rows
