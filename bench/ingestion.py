"""Importing a large library through IngestBooks: a synthetic N-book JSONL file uploaded to the
payload bucket (moto S3) and imported by the IngestBooks handler on the offline runner - the
product's own path: S3 read, line validation, WordLlama embeddings in batches, upserts into the
embedded PostgreSQL with its HNSW index, the report written back. Then the same upload again,
which must embed nothing.

    python -m bench.ingestion --books 5000

The books take the sample library's shape: each is a sample book with its sentences shuffled
and joined with another's, its topics mixed with a third's, so every summary is distinct text of
the sample's length.
"""

from __future__ import annotations

import argparse
import atexit
import json
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

from coursegen_local.template import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "books" / "sample_library.jsonl"
UPLOAD_KEY = "books/synthetic_library.jsonl"


def synthetic_library(count: int, seed: int = 5) -> list[str]:
    """`count` JSONL lines shaped like the sample library's, deterministic for a seed."""
    sample = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        base, other, third = rng.sample(sample, 3)
        sentences = [s for s in (base["summary"] + " " + other["summary"]).split(". ") if s]
        rng.shuffle(sentences)
        summary = ". ".join(sentences)[: len(base["summary"])].rstrip(". ") + "."
        topics = rng.sample(base["key_topics"] + third["key_topics"], min(8, len(base["key_topics"] + third["key_topics"])))
        lines.append(json.dumps({"book_id": f"syn-{i:06d}", "title": f"{base['title']} (volume {i})",
                                 "author": base.get("author", ""), "subject": base.get("subject", ""),
                                 "year": base.get("year"), "summary": summary, "key_topics": topics}))
    return lines


class CountingEmbedder:
    """The product's embedder, counting the calls the import makes on it."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.model_id, self.dimension = embedder.model_id, embedder.dimension
        self.calls = 0
        self.texts = 0

    def embed(self, texts):
        self.calls += 1
        self.texts += len(texts)
        return self.embedder.embed(texts)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(books: int) -> list[dict]:
    """Two IngestBooks invocations on one upload of `books` books, in a fresh database: a row each."""
    import boto3

    from coursegen.adapters.offline import WordLlamaEmbedder
    from coursegen.adapters.postgres import PostgresRepository, migrate
    from coursegen_local.database import embedded_database_url
    from coursegen_local.runner import LocalRunner

    home = tempfile.mkdtemp(prefix="coursegen-bench-ingest-")
    atexit.register(shutil.rmtree, home, True)  # after pgserver's exit hook has stopped the server
    url = embedded_database_url(Path(home) / "pgdata")
    embedder = CountingEmbedder(WordLlamaEmbedder())
    embedder.embed(["warm-up: the model loads once, before the clock starts"])
    migrate(url, embedder.dimension)
    repository = PostgresRepository(url).open()
    body = "\n".join(synthetic_library(books)).encode()
    event = json.loads((PROJECT_ROOT / "events" / "ingest_books.json").read_text())
    event["detail"]["object"] |= {"key": UPLOAD_KEY, "size": len(body)}
    rows = []
    try:
        with LocalRunner(database=repository, embedder=embedder) as runner:
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.put_object(Bucket=runner.container.settings.payload_bucket, Key=UPLOAD_KEY, Body=body)
            for run in ("first upload", "same upload again"):
                calls, texts = embedder.calls, embedder.texts
                started = time.perf_counter()
                result = runner.invoke("IngestBooksFunction", event)
                seconds = time.perf_counter() - started
                if not result["complete"] or result["rejected"]:
                    raise RuntimeError(f"the import did not take every book: {result}")
                rows.append({"run": run, "books": result["imported"], "file_mb": len(body) / 1e6,
                             "batches": result["batches"], "embedded": result["embedded"], "seconds": seconds,
                             "books_per_s": result["imported"] / seconds, "embedder_calls": embedder.calls - calls,
                             "texts_embedded": embedder.texts - texts, "peak_rss_mb": peak_rss_mb()})
        stored = repository.count_books()
    finally:
        repository.close()
    if stored != books:
        raise RuntimeError(f"{stored} books stored for {books} in the file")
    return rows


def table(rows: list[dict]) -> list[str]:
    lines = ["| run | books | batches | seconds | books/s | embedder calls (texts) | peak RSS (MB) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r['books']:,} | {r['batches']} | {r['seconds']:.1f} | {r['books_per_s']:,.0f} | "
                     f"{r['embedder_calls']} ({r['texts_embedded']:,}) | {r['peak_rss_mb']:.0f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingestion", description=__doc__.split("\n\n")[0])
    parser.add_argument("--books", type=int, default=5000, help="books in the synthetic file (default 5000)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON (python -m bench reads them)")
    args = parser.parse_args(argv)
    if not 1 <= args.books <= 1_000_000:
        parser.error("--books must be between 1 and 1,000,000")
    rows = measure(args.books)
    print(json.dumps(rows) if args.json else "\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
