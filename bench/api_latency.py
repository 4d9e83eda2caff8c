"""POST /courses and GET status latency on `coursegen serve` under 1, 10 and 50 concurrent clients.

Each client sends its requests back to back; every POST starts a real execution in the server
process (offline planner at a simulated model latency), so later requests share the machine with
the courses the earlier ones started - as they would share a laptop. Between levels the server
is left to finish every course, so each level starts from a quiet server."""

from __future__ import annotations

import threading
import time

from coursegen_local.load import BODY, LocalServer, call, percentile

LEVELS = {1: 20, 10: 10, 50: 2}  # concurrent clients -> POSTs (and status GETs) per client
QUICK_LEVELS = {1: 4, 10: 1}  # python -m bench --quick: checks the harness, not the figures
ALL_AT_ONCE = 100  # --max-running of the comparison run: every course the 10 clients start computes at once


def measure(levels: dict[int, int] = LEVELS, first_token: float = 0.5, per_token: float = 0.002) -> list[dict]:
    """A row per level on `coursegen serve` as started by default, then 10 clients again on a server
    that runs every course at once (what the default bound is for)."""
    with LocalServer(first_token, per_token) as server:
        warm(server)
        rows = [level(server, clients, per_client) | {"max_running": None} for clients, per_client in levels.items()]
    with LocalServer(first_token, per_token, max_running=ALL_AT_ONCE) as server:
        warm(server)
        rows.append(level(server, 10, levels[10]) | {"max_running": ALL_AT_ONCE})
    return rows


def warm(server: LocalServer) -> None:
    """One course first: the handlers' first call imports and connects, which is no request's latency."""
    _, first = call(server.base, "/courses", BODY)
    server.wait_for([first["course_id"]], timeout=120)


def level(server: LocalServer, clients: int, per_client: int) -> dict:
    """`clients` clients POST `per_client` courses each, back to back, each POST followed by one
    status GET; then the server is left to finish every course, so the next level starts quiet."""
    post_ms: list[float] = []
    get_ms: list[float] = []
    ids: list[str] = []
    failed: list[str] = []  # counted and reported, never silently dropped
    lock = threading.Lock()
    gate = threading.Barrier(clients)

    def timed(method: str, path: str, body: dict | None, expected: int) -> tuple[dict | None, float]:
        """The answer and its milliseconds, or None (and a line in `failed`) for any other answer."""
        started = time.perf_counter()
        try:
            status, answer = call(server.base, path, body)
        except (OSError, ValueError) as error:  # a refused or timed-out connection, an answer not JSON
            status, answer = 0, {"message": f"{type(error).__name__}: {error}"}
        took = (time.perf_counter() - started) * 1000
        if status != expected:
            with lock:
                failed.append(f"{method} {status} {answer.get('message', '')}"[:200])
            return None, took
        return answer, took

    def client() -> None:
        gate.wait()
        for _ in range(per_client):
            posted, post_took = timed("POST", "/courses", BODY, 202)
            if posted is None:
                continue
            answered, get_took = timed("GET", f"/courses/{posted['course_id']}/status", None, 200)
            with lock:
                post_ms.append(post_took)
                ids.append(posted["course_id"])
                if answered is not None:
                    get_ms.append(get_took)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished = server.wait_for(ids, timeout=600)
    return {
        "clients": clients,
        "requests": len(post_ms),
        "post_p50_ms": percentile(post_ms, 0.5), "post_p99_ms": percentile(post_ms, 0.99),
        "get_p50_ms": percentile(get_ms, 0.5), "get_p99_ms": percentile(get_ms, 0.99),
        "completed": sum(1 for status, _ in finished.values() if status == "complete"),
        "failed": failed,
    }
