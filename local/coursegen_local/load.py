"""A bounded load test: start N courses at once against `coursegen serve` and check none is lost.

    python -m coursegen_local.load --courses 50

It starts `coursegen serve` as a separate process on a free loopback port, with its own data
folder, the sample library, and the offline planner answering with a simulated model latency.
N clients POST at the same moment; then every course is polled (bounded in time) until it is
complete or failed. It prints the figures and exits 1 if any course was lost or inconsistent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy

from coursegen_local.template import PROJECT_ROOT

# Outlines with placeholder lessons (full_lessons_count 0): the load and API-latency figures are
# about the orchestration under many courses; a simulated model writing every lesson in full
# (~7 s a lesson at the simulated rate) would only make each course longer.
BODY = {"query": "Learn DCF valuation", "hours": 2, "preferences": {"depth": "balanced", "pace": "moderate"},
        "full_lessons_count": 0}


def call(base: str, path: str, body: dict | None = None, timeout: float = 30, headers: dict | None = None) -> tuple[int, dict]:
    """POST the body (GET without one); the status and the JSON answer, whatever the status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1), interpolated between the closest ranks: numpy's default, the
    same as statistics.quantiles(method="inclusive"). The one percentile every figure uses; with
    few samples a high percentile is close to the maximum, so reports give the sample count beside it."""
    return float(numpy.percentile(values, q * 100))


class LocalServer:
    """`coursegen serve` as a separate process on a free loopback port, with its own data folder,
    the sample library, and the offline planner answering at a simulated model latency."""

    def __init__(self, first_token: float, per_token: float, max_running: int | None = None) -> None:
        """max_running: `coursegen serve --max-running` (None: its default)."""
        self.first_token, self.per_token = first_token, per_token
        self.serve_options = ["--max-running", str(max_running)] if max_running else []

    def __enter__(self) -> "LocalServer":
        coursegen = str(Path(sys.executable).parent / "coursegen")
        self.home = tempfile.mkdtemp(prefix="coursegen-serve-")
        self.env = os.environ | {"COURSEGEN_HOME": self.home, "LLM_PROVIDER": "simulated",
                                 "DATABASE_URL": "", "SIMULATED_LLM_FIRST_TOKEN_SECONDS": str(self.first_token),
                                 "SIMULATED_LLM_SECONDS_PER_TOKEN": str(self.per_token)}
        subprocess.run([coursegen, "books", "import", str(PROJECT_ROOT / "data/books/sample_library.jsonl")],
                       env=self.env, check=True, capture_output=True)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.log = Path(self.home) / "serve.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([coursegen, "serve", "--port", str(port), *self.serve_options], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                call(self.base, "/courses", timeout=2)
                return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.__exit__(None, None, None)
                    raise RuntimeError("coursegen serve did not start") from None
                time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        # serve stops its embedded PostgreSQL on SIGTERM, once its running courses are done; a
        # second SIGTERM abandons them (a harness that stops mid-course has no use for them)
        for grace in (5, 30):
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            self.process.kill()
        shutil.rmtree(self.home, ignore_errors=True)

    def errors(self, limit: int = 3) -> list[str]:
        """The server's first logged errors (Powertools' JSON lines at level ERROR), for a report
        that failed: what a 500 hid from its client."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line[:3000] for line in lines if '"level":"ERROR"' in line.replace(" ", "")][:limit]

    def wait_for(self, course_ids: list[str], timeout: float) -> dict[str, tuple[str, float]]:
        """Poll until every course is complete or failed (or the time is up): id -> (status, seconds)."""
        began, finished = time.monotonic(), {}
        while len(finished) < len(course_ids) and time.monotonic() - began < timeout:
            for course_id in course_ids:
                if course_id not in finished:
                    _, status = call(self.base, f"/courses/{course_id}/status")
                    if status.get("status") in ("complete", "error"):
                        finished[course_id] = (status["status"], time.monotonic() - began)
            time.sleep(0.5)
        return finished


def run(courses: int, first_token: float, per_token: float, timeout: float) -> int:
    with LocalServer(first_token, per_token) as server:
        base = server.base
        start_gate = threading.Barrier(courses)
        accepted: list[tuple[int, dict, float]] = [None] * courses  # type: ignore[list-item]

        def client(i: int) -> None:
            start_gate.wait()
            started = time.perf_counter()
            try:
                status, body = call(base, "/courses", BODY)
            except OSError as error:  # counted as not accepted, never silently dropped
                status, body = 0, {"error": str(error)}
            accepted[i] = (status, body, time.perf_counter() - started)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(courses)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = [body.get("course_id") for status, body, _ in accepted if status == 202]
        post_ms = [seconds * 1000 for _, _, seconds in accepted]
        finished = server.wait_for(ids, timeout)

        complete = [c for c, (s, _) in finished.items() if s == "complete"]
        readable = sum(1 for c in complete if call(base, f"/courses/{c}")[0] == 200)
        lost = courses - len(finished)
        durations = [seconds for _, seconds in finished.values()]
        rows = [
            ("courses started at once", courses),
            ("POST answered 202", sum(1 for s, _, _ in accepted if s == 202)),
            ("POST latency p50 / p99 / max (ms)", f"{percentile(post_ms, 0.5):.0f} / {percentile(post_ms, 0.99):.0f} / {max(post_ms):.0f}"),
            ("complete", len(complete)),
            ("failed (status error)", len(finished) - len(complete)),
            ("lost (no final status within the timeout)", lost),
            ("complete and readable with GET /courses/{id}", readable),
            ("every course finished, after the last POST (s)", f"{max(durations):.1f}" if durations else "-"),
            ("course finish time p50 / p99 (s)", f"{percentile(durations, 0.5):.1f} / {percentile(durations, 0.99):.1f}" if durations else "-"),
            ("simulated model latency", f"{first_token} s + {per_token * 1000:.1f} ms per output token"),
        ]
        width = max(len(name) for name, _ in rows)
        print(f"\nLoad test: {courses} courses at once against coursegen serve\n")
        for name, value in rows:
            print(f"  {name:<{width}}  {value}")
        for status, body, _ in accepted:
            if status != 202:  # what a refused POST answered: the first thing to read when this fails
                print(f"  refused: {status} {json.dumps(body)[:300]}")
        consistent = lost == 0 and readable == len(complete) and len(finished) == courses and len(ids) == courses
        print("\nresult:", "OK - none lost, statuses consistent" if consistent else "FAILED")
        if not consistent:
            for line in server.errors():
                print("  server logged:", line)
        return 0 if consistent else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursegen_local.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--courses", type=int, default=50, help="courses started at once (default 50)")
    parser.add_argument("--first-token-seconds", type=float, default=0.5, help="simulated model start latency (default 0.5)")
    parser.add_argument("--seconds-per-token", type=float, default=0.002, help="simulated time per output token (default 0.002)")
    parser.add_argument("--timeout", type=float, default=600, help="give up waiting after this many seconds (default 600)")
    args = parser.parse_args(argv)
    if not 1 <= args.courses <= 500:
        parser.error("--courses must be between 1 and 500")
    return run(args.courses, args.first_token_seconds, args.seconds_per_token, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
