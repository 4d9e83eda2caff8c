"""The benchmark report marks each figure of issue 5 met or not by the right comparison, from
measurements made up here (the measuring itself is `make bench`'s, not a test's)."""

from bench import report
from bench.critical_path import PathRun


def run(parts: int, max_concurrency: int, wall: float, critical: float, payload: int = 2_000) -> PathRun:
    return PathRun(parts=parts, max_concurrency=max_concurrency, wall_seconds=wall, map_wall_seconds=wall / 2,
                   critical_path_seconds=critical, transitions=20 + parts, lambda_invocations=5 + parts,
                   llm_calls=1 + parts, input_tokens=5_000 * parts, output_tokens=100 * parts, llm_seconds=1.5 * parts,
                   largest_payload_bytes=payload)


def verdict_of(lines: list[str], figure: str) -> str:
    [line] = [line for line in lines if line.startswith(f"\nFigure: {figure}") or line.startswith(f"- {figure}")]
    return "not met" if "**not met**" in line else "met"


def search_row(vectors: int, **recalls_and_p95) -> dict:
    row = {"pgvector": "0.6.0", "postgres": "16.2", "vectors": vectors, "ingest_rows_per_s": 1e5, "index_build_s": 1.0, "exact_p50_ms": 20.0,
           "exact_p95_ms": 30.0, "index_used": True}
    for ef in (40, 100, 200):
        row |= {f"hnsw{ef}_p50_ms": 1.0, f"hnsw{ef}_p95_ms": 2.0, f"hnsw{ef}_recall": 1.0}
    return row | recalls_and_p95


def test_only_six_or_more_parts_at_max_concurrency_four_or_more_count_against_the_path_figure():
    slow_small = [run(3, 1, 10, 5), run(3, 4, 10, 5), run(6, 1, 11, 10), run(6, 4, 10.5, 10)]
    assert verdict_of(report.critical_path_section(slow_small), "wall <= 1.10") == "met"
    assert verdict_of(report.critical_path_section([run(6, 1, 11, 10), run(6, 4, 11.5, 10)]), "wall <= 1.10") == "not met"
    assert verdict_of(report.critical_path_section([run(6, 4, 11, 10)]), "wall <= 1.10") == "met"  # 1.10 itself


def test_without_a_max_concurrency_one_run_there_is_no_speedup_to_give():
    assert "| 6 | 4 | 10.50 | 10.00 | 1.050 | n/a | 5.25 | n/a |" in "\n".join(report.critical_path_section([run(6, 4, 10.5, 10)]))


def test_speedups_are_against_max_concurrency_one_of_the_same_part_count():
    lines = report.critical_path_section([run(12, 1, 20, 19), run(12, 4, 10, 9.5)])
    assert "| 12 | 4 | 10.00 | 9.50 | 1.053 | 2.00x |" in "\n".join(lines)
    assert "2.00x faster" not in "\n".join(lines)  # no MaxConcurrency 2 run: no claim about the seeds' halving


def test_post_p99_must_stay_under_200_ms_at_ten_clients_on_the_default_server():
    def rows(default_p99: float) -> list[dict]:
        row = {"requests": 100, "post_p50_ms": 50.0, "get_p50_ms": 40.0, "get_p99_ms": 90.0, "completed": 100, "failed": []}
        return [row | {"clients": 10, "max_running": None, "post_p99_ms": default_p99},
                row | {"clients": 10, "max_running": 100, "post_p99_ms": 900.0}]  # the all-at-once row is not the figure

    assert verdict_of(report.api_section(rows(199.0)), "POST p99") == "met"
    assert verdict_of(report.api_section(rows(200.0)), "POST p99") == "not met"


def test_failed_requests_are_counted_with_their_reasons_and_fail_the_figure():
    row = {"clients": 10, "max_running": None, "requests": 98, "post_p50_ms": 5.0, "post_p99_ms": 5.0, "get_p50_ms": 5.0,
           "get_p99_ms": 5.0, "completed": 98, "failed": ["POST 0 ConnectionResetError", "POST 0 ConnectionResetError"]}
    lines = report.api_section([row])
    assert "| 2: POST 0 ConnectionResetError |" in "\n".join(lines)
    assert verdict_of(lines, "POST p99") == "not met"  # fast, but not every request was answered


def test_hnsw_is_judged_at_the_cheapest_ef_search_that_reaches_the_recall_at_the_largest_size():
    reached_at_100 = search_row(100_000, hnsw40_recall=0.92, hnsw100_recall=0.98, hnsw100_p95_ms=4.0)
    lines = report.search_section([search_row(10_000), reached_at_100])
    assert "ef_search 100, p95 4.00 ms, recall 0.980 - **met**" in "\n".join(lines)
    too_slow = search_row(100_000, hnsw40_recall=0.9, hnsw100_recall=0.97, hnsw100_p95_ms=12.0)
    assert verdict_of(report.search_section([too_slow]), "HNSW p95") == "not met"
    never_reached = search_row(100_000, hnsw40_recall=0.8, hnsw100_recall=0.9, hnsw200_recall=0.94)
    assert verdict_of(report.search_section([never_reached]), "HNSW p95") == "not met"


def test_the_hnsw_figure_is_not_met_by_a_grid_that_stops_short_of_100k():
    lines = report.search_section([search_row(10_000)])
    assert "not measured (this grid stops at 10,000) - **not met**" in "\n".join(lines)


def test_any_state_payload_over_8_kb_fails_the_payload_figure_even_outside_the_40_part_course():
    forty = run(40, 4, 1, 1, payload=3_000)
    assert verdict_of(report.payload_section([run(6, 4, 1, 1)], forty, 375), "Largest state payload") == "met"
    assert verdict_of(report.payload_section([run(6, 4, 1, 1, payload=8_193)], forty, 375), "Largest state payload") == "not met"
    assert verdict_of(report.payload_section([run(6, 4, 1, 1, payload=8_192)], forty, 375), "Largest state payload") == "met"


def ingestion_rows(texts_again: int, books_again: int = 5_000) -> list[dict]:
    first = {"run": "first upload", "books": 5_000, "file_mb": 6.1, "batches": 79, "embedded": 5_000, "seconds": 50.0,
             "books_per_s": 100.0, "embedder_calls": 79, "texts_embedded": 5_000, "peak_rss_mb": 400.0}
    again = first | {"run": "same upload again", "books": books_again, "embedded": texts_again, "seconds": 2.0,
                     "embedder_calls": 1 if texts_again else 0, "texts_embedded": texts_again}
    return [first, again]


def test_the_same_upload_again_must_embed_nothing_and_keep_every_book():
    assert verdict_of(report.ingestion_section(ingestion_rows(0)), "the same upload again") == "met"
    assert verdict_of(report.ingestion_section(ingestion_rows(3)), "the same upload again") == "not met"
    assert verdict_of(report.ingestion_section(ingestion_rows(0, books_again=4_990)), "the same upload again") == "not met"
    assert "| first upload | 5,000 | 79 | 50.0 | 100 | 79 (5,000) | 400 |" in report.ingestion_section(ingestion_rows(0))
