"""make bench: every benchmark of issues 5, 12 and 13, on this machine, in about fifteen minutes.

Writes results/report.md and PNG plots beside it. `python -m bench --quick` runs a smaller grid
(for a smoke test of the harness); the report says which grid ran.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import api_latency, lesson_stage, memory, report, search_scale
from bench.critical_path import FIRST_TOKEN, PER_TOKEN, run_course

RESULTS = Path(__file__).resolve().parents[1] / "results"


def shared_adapters() -> dict:
    """One embedded database with the sample library and one embedder, shared by every course run."""
    from coursegen.adapters.offline import WordLlamaEmbedder
    from coursegen.adapters.postgres import PostgresRepository, migrate
    from coursegen.services.library import import_library
    from coursegen_local.database import embedded_database_url
    from coursegen_local.template import PROJECT_ROOT

    home = tempfile.mkdtemp(prefix="coursegen-bench-")
    atexit.register(shutil.rmtree, home, True)  # runs after pgserver's own exit hook stops the server
    url = embedded_database_url(Path(home) / "pgdata")
    migrate(url, WordLlamaEmbedder.dimension)
    repository, embedder = PostgresRepository(url).open(), WordLlamaEmbedder()
    import_library((PROJECT_ROOT / "data/books/sample_library.jsonl").read_text().splitlines(), embedder, repository)
    return {"database": repository, "embedder": embedder}


class Stages:
    """Says which benchmark runs now; the report gives the time each took."""

    def __init__(self) -> None:
        self.took: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def begin(self, name: str) -> None:
        self.end()
        print(f"{name} ...", flush=True)
        self._current = (name, time.monotonic())

    def end(self) -> None:
        if self._current:
            name, began = self._current
            self.took[name] = time.monotonic() - began
            self._current = None

    def summary(self) -> str:
        return (f"Whole run: {sum(self.took.values()):.0f} s ("
                + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.took.items()) + ").\n")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small grid: checks the harness, not the figures")
    parser.add_argument("--out", type=Path, default=RESULTS, metavar="DIR", help=f"where the report and plots go (default {RESULTS.name}/)")
    args = parser.parse_args()
    parts_grid, concurrency_grid = ((3, 6), (1, 2, 4)) if args.quick else ((3, 6, 12, 24), (1, 2, 4, 8))
    args.out.mkdir(parents=True, exist_ok=True)
    stages = Stages()

    stages.begin("critical path")  # 1-2: the same runs give the cost
    adapters = shared_adapters()
    run_course(3, 4, 0.0, 0.0, adapters)  # warm-up: imports, the embedder, the database pool
    runs = [run_course(p, m, FIRST_TOKEN, PER_TOKEN, adapters) for p in parts_grid for m in concurrency_grid]
    stages.begin("payloads and memory")  # 5
    # a part per topic at most: a broad query whose 8 books all pass the grounding gate well (60 topics)
    forty = run_course(40, 4, 0.0, 0.0, adapters, query="Learn equity valuation and corporate finance")
    stages.begin("lesson stage")  # 7: issue 13's figures
    lessons = lesson_stage.measure(adapters, quick=args.quick)
    adapters["database"].close()
    rss_mb = memory.peak_rss_mb()
    stages.begin("API latency")  # 3
    api = api_latency.measure(api_latency.QUICK_LEVELS if args.quick else api_latency.LEVELS)
    stages.begin("search at scale")  # 4
    search = search_scale.measure((10_000,) if args.quick else (10_000, 100_000))
    stages.begin("library ingestion")  # 6: in its own process, so its peak RSS is the import's alone
    books = 300 if args.quick else 5000
    done = subprocess.run([sys.executable, "-m", "bench.ingestion", "--books", str(books), "--json"],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"python -m bench.ingestion failed:\n{done.stderr[-3000:]}")
    ingest = json.loads(done.stdout.strip().splitlines()[-1])
    stages.end()

    heading = (f"# coursegen benchmarks\n\n{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
               f"{os.cpu_count()} cores, Python {platform.python_version()}"
               + (" - **quick grid** (harness check, not the figures)" if args.quick else "") + ".\n")
    lines = [heading, *report.critical_path_section(runs), *report.cost_section(runs), *report.api_section(api),
             *report.search_section(search), *report.payload_section(runs, forty, rss_mb), *report.ingestion_section(ingest),
             *report.lesson_stage_section(lessons), stages.summary()]
    report.plot_critical_path(runs, args.out / "critical_path.png")
    report.plot_search(search, args.out / "search.png")
    report.plot_lesson_stage(lessons, args.out / "lesson_stage.png")
    (args.out / "report.md").write_text("\n".join(lines) + "\n")
    print((args.out / "report.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
