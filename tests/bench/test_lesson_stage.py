"""bench/lesson_stage.py on a small course: what `make bench` measures for the lesson stage holds
together - every lesson written, the batches read from the content execution's history, payloads
and history events measured (not assumed), the report section and its plot written. No timing is
asserted: speed is `make bench`'s to measure, not a shared CI machine's."""

import re

import pytest

from bench import lesson_stage, report
from bench.critical_path import course_cost, greedy_makespan
from coursegen.models import CourseRequest

PARTS, SECTIONS = 2, 4  # ceil(4 / 3) = 2 batches a part


@pytest.fixture(scope="module")
def small_run(repository, embedder):
    request = CourseRequest(query="Learn DCF valuation", hours=PARTS * SECTIONS * 5 / 60)
    return lesson_stage.run_course("small course", request, {"database": repository, "embedder": embedder},
                                   planner=lesson_stage.SectionsPerPartPlanner(PARTS, SECTIONS), max_concurrency=2)


def test_every_lesson_of_the_asked_shape_is_written_in_full(small_run):
    per_part = [sum(lesson.part_index == p for lesson in small_run.lessons) for p in range(PARTS)]
    assert per_part == [SECTIONS] * PARTS
    assert all(lesson.status == "full" and lesson.words > 0 for lesson in small_run.lessons)


def test_the_batches_come_from_the_content_execution_and_bound_the_critical_path(small_run):
    stage = lesson_stage.stage_timing(small_run)
    batches = PARTS * -(-SECTIONS // lesson_stage.BATCH_SIZE)
    assert len(stage.batch_seconds) == batches and all(seconds > 0 for seconds in stage.batch_seconds)
    assert stage.wall_seconds == pytest.approx(stage.before_map_seconds + stage.map_wall_seconds + stage.after_map_seconds, abs=0.002)
    around = stage.before_map_seconds + stage.after_map_seconds
    assert around + max(stage.batch_seconds) <= stage.critical_path_seconds <= around + stage.sequential_seconds + 1e-9
    assert greedy_makespan(stage.batch_seconds, 1) == pytest.approx(stage.sequential_seconds)


def test_payloads_events_and_tokens_are_measured_from_both_executions(small_run):
    figures = lesson_stage.course_figures(small_run)
    assert figures.batches == len(lesson_stage.stage_timing(small_run).batch_seconds)
    assert (figures.course_events, figures.content_events) == (len(small_run.course_history), len(small_run.content_history))
    assert 0 < figures.largest_payload_bytes <= lesson_stage.PAYLOAD_LIMIT
    assert re.search(r", (course|content) execution$", figures.largest_payload_at)
    assert figures.content_calls >= figures.lessons  # each full lesson asked the model at least once
    assert figures.content_output_tokens > 0 and figures.usage.output_tokens > figures.content_output_tokens
    cost = course_cost(figures.usage, real_scale=1.0)
    assert cost["total"] == pytest.approx(cost["step_functions"] + cost["lambda"] + cost["llm"]) and cost["llm"] > 0


def test_the_report_section_gives_every_figure_a_verdict_and_the_plot_is_a_png(small_run, tmp_path):
    figures = lesson_stage.course_figures(small_run)
    results = lesson_stage.LessonStageResults(seed=[lesson_stage.stage_timing(small_run)], seed_figures=figures,
                                              two_hours=figures, forty_parts=figures, hundred_hours=figures, quick=True)
    section = "\n".join(report.lesson_stage_section(results))
    assert section.startswith("## 7. The lesson stage")
    assert len(re.findall(r"\*\*(met|not met)\*\*", section)) == 4  # critical path, speedup, payload, history events
    report.plot_lesson_stage(results, tmp_path / "lesson_stage.png")
    assert (tmp_path / "lesson_stage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
