"""`python -m bench --quick`: the harness behind `make bench` runs end to end and writes its report.

It checks the report's shape - every benchmark, a verdict on every figure, the plots - not the
figures themselves: speed is measured by `make bench`, not asserted on a shared machine."""

import re
import subprocess
import sys

from tests.conftest import ROOT


def test_the_quick_bench_writes_every_section_a_verdict_per_figure_and_the_plots(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = (tmp_path / "report.md").read_text()
    assert re.findall(r"^## (\d)\.", report, re.MULTILINE) == ["1", "2", "3", "4", "5", "6", "7"]
    verdicts = re.findall(r"\*\*(met|not met)\*\*", report)
    assert len(verdicts) == 9  # critical path, API p99, HNSW, payloads, ingestion re-run; lesson stage: path, speedup, payload, events
    assert "quick grid" in report and "Whole run:" in report
    for plot in ("critical_path.png", "search.png", "lesson_stage.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "INFO:" not in done.stderr  # no library's log lines on the console
