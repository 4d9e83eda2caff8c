"""Stopping `coursegen serve` loses no course it took: offline, a course's progress lives in the
server's process until it is stored, so serve finishes what it runs before it exits."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from coursegen_local.load import BODY, LocalServer, call


def start_a_course_then_stop(server: LocalServer, stops: int) -> dict:
    status, accepted = call(server.base, "/courses", BODY)
    assert status == 202
    for _ in range(stops):
        server.process.send_signal(signal.SIGTERM)  # what Ctrl-C does, and a supervisor sends
        time.sleep(0.5)
    return accepted


def test_a_stopped_server_finishes_its_running_course_refuses_new_ones_then_exits():
    with LocalServer(first_token=0.4, per_token=0.002) as server:
        accepted = start_a_course_then_stop(server, stops=1)
        status, refused = call(server.base, "/courses", BODY)
        assert status == 503 and "stopping" in refused["message"]
        progress = {"status": "processing"}
        for _ in range(240):
            try:
                status, progress = call(server.base, accepted["status_url"])
            except OSError:  # it exited between two polls: it was done (checked below, from its database)
                break
            if progress["status"] != "processing":
                break
            time.sleep(0.25)
        assert progress["status"] in ("processing", "complete"), progress
        assert server.process.wait(timeout=60) == 0
        shown = subprocess.run([str(Path(sys.executable).parent / "coursegen"), "show", accepted["course_id"], "--json"],
                               env=server.env, capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "complete", shown.stderr


def test_a_second_stop_abandons_the_running_courses_at_once_with_exit_130():
    with LocalServer(first_token=20.0, per_token=0.0) as server:
        start_a_course_then_stop(server, stops=2)
        assert server.process.wait(timeout=30) == 130  # not the minutes the course would take
