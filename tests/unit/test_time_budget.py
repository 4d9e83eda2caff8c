"""The 5% time budget, and how a course designer sizes parts."""

import pytest

from coursegen.domain.time_budget import check_time, needs_review, plan_guidance, progress_percent
from coursegen.models import CoursePreferences, Depth, Pace


@pytest.mark.parametrize(
    ("total", "within"),
    [(114, True), (120, True), (126, True), (113, False), (127, False)],
)
def test_tolerance_is_95_to_105_percent_inclusive(total, within):
    check = check_time(total, 120)
    assert check.within_tolerance is within
    assert (check.min_acceptable, check.max_acceptable) == (114, 126)


def test_variance_is_signed_percent_of_the_target():
    assert check_time(90, 120).variance_percent == -25.0
    assert check_time(132, 120).variance_percent == 10.0


def test_outside_tolerance_is_a_warning_not_an_error():
    assert check_time(150, 120).severity == "warning"
    assert check_time(121, 120).severity == "ok"
    assert "+25.0%" in check_time(150, 120).describe()


def test_review_only_while_outside_and_attempts_remain():
    outside, inside = check_time(150, 120), check_time(120, 120)
    assert needs_review(outside, 0, 2) and needs_review(outside, 1, 2)
    assert not needs_review(outside, 2, 2)
    assert not needs_review(inside, 0, 2)


@pytest.mark.parametrize(("hours", "low", "high"), [(0.5, 1, 3), (1, 2, 4), (2, 3, 5), (8, 4, 8), (40, 20, 40)])
def test_part_count_grows_with_the_course_like_a_designer_would(hours, low, high):
    guidance = plan_guidance(hours)
    assert low <= guidance.target_parts <= high
    assert guidance.min_parts <= guidance.target_parts <= guidance.max_parts
    assert f"Plan {guidance.target_parts} parts" in guidance.parts_count_guidance
    assert f"exactly {round(hours * 60)} minutes" in guidance.parts_guidance


def test_depth_shifts_part_count_and_pace_shifts_section_length():
    overview = plan_guidance(8, CoursePreferences(depth=Depth.overview))
    deep = plan_guidance(8, CoursePreferences(depth=Depth.deep))
    assert deep.target_parts > overview.target_parts
    relaxed = plan_guidance(2, CoursePreferences(pace=Pace.relaxed))
    intensive = plan_guidance(2, CoursePreferences(pace=Pace.intensive))
    assert relaxed.section_minutes_low > intensive.section_minutes_high - 5
    assert "relaxed" in relaxed.parts_guidance and "intensive" in intensive.parts_guidance


def test_progress_only_moves_forward_through_the_phases_and_the_review_loop():
    steps = [
        progress_percent("queued", 0, 0),
        progress_percent("embedding", 0, 0),
        progress_percent("searching_books", 0, 0),
        progress_percent("planning_parts", 0, 0),
        *(progress_percent("generating_sections", done, 5) for done in range(6)),
        progress_percent("assembling_outline", 5, 5),
        progress_percent("reviewing_outline", 5, 5, 0),
        progress_percent("assembling_outline", 5, 5, 1),
        progress_percent("reviewing_outline", 5, 5, 1),
        progress_percent("assembling_outline", 5, 5, 2),
        progress_percent("storing", 5, 5, 2),
        progress_percent("planning_lessons", 5, 5, 2),
        *(progress_percent("writing_lessons", 5, 5, 2, done, 12) for done in range(13)),
        progress_percent("building_book", 5, 5, 2, 12, 12),
        progress_percent("complete", 5, 5, 2),
    ]
    assert steps == sorted(steps)
    assert steps[0] == 0 and steps[-1] == 100
