"""Workflow tests run statemachine/course_generation.asl.json through the offline runner, with
the real handlers, the real PostgreSQL and WordLlama; only the model is scripted per test."""

from __future__ import annotations

import pytest

from coursegen.models import CourseRequest
from coursegen_local.runner import LocalRunner

DCF = CourseRequest(query="Learn DCF valuation", hours=2)


@pytest.fixture
def run_workflow(clean_courses, embedder):
    """run_workflow(request, llm=..., faults=[...], parameter_overrides={...}) -> (RunResult, runner)"""
    opened = []

    def run(request: CourseRequest = DCF, *, course_id: str | None = None, **options):
        runner_options = {k: options.pop(k) for k in ("llm", "faults", "parameter_overrides", "execution_timeout_seconds")
                          if k in options}
        runner = LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder, **runner_options)
        runner.__enter__()
        opened.append(runner)
        return runner.run(request, course_id=course_id, timeout_seconds=120, **options), runner

    yield run
    for runner in opened:
        runner.__exit__(None, None, None)
