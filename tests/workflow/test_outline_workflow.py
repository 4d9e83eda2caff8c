"""The outline workflow end to end: the ASL on moto, the handlers in-process, real PostgreSQL.
Each test is a named case: what the model (or a step) does, and what the user gets."""

from __future__ import annotations

import re

import pytest

from coursegen.adapters.offline import SimulatedLatencyLlm
from coursegen.errors import LlmThrottled
from coursegen.models import CourseRequest
from coursegen_local.faults import Fault
from coursegen_local.runner import LocalRunner
from tests.conftest import course_rows, section_rows
from tests.fakes import ScriptedLlm
from tests.workflow.conftest import DCF

pytestmark = pytest.mark.workflow


def inflate(factor: float):
    """Distort the planner's section times, as a model that miscounts would."""
    return lambda text: re.sub(r"\((\d+) minutes\)", lambda m: f"({round(int(m.group(1)) * factor)} minutes)", text)


def test_happy_path_stores_a_grounded_course_within_five_percent(run_workflow, clean_courses):
    result, runner = run_workflow()
    assert result.execution_status == "SUCCEEDED", result.status
    course = result.course
    assert result.status["status"] == "complete" and result.status["progress"]["percent"] == 100
    assert abs(course.total_minutes - 120) <= 6
    assert course.generator == "offline planner (not an LLM)"
    cited = {book_id for part in course.outline.parts for s in part.sections for book_id in s.book_ids}
    assert cited and cited <= {source["book_id"] for source in course.sources}
    assert all(book_id.startswith("fin-") for book_id in cited)
    assert course_rows(clean_courses) == 1
    assert result.largest_payload_bytes < 4096  # ids, counts and keys only
    assert runner.invocations["ExpandPart"] == len(course.outline.parts)


def test_within_five_percent_no_review_runs(run_workflow):
    result, runner = run_workflow()
    assert not result.course.document()["reviewed"]
    assert "ReviewOutline" not in runner.invocations
    assert runner.invocations["AssembleOutline"] == 1


def test_outside_five_percent_the_review_runs_and_fixes_it(run_workflow):
    llm = ScriptedLlm(fallback=lambda p: inflate(1.5) if p.name == "courses.expand_part" else None)
    result, runner = run_workflow(llm=llm)
    assert result.execution_status == "SUCCEEDED"
    assert result.course.review_attempts == 1 and runner.invocations["ReviewOutline"] == 1
    assert runner.invocations["AssembleOutline"] == 2
    assert abs(result.course.total_minutes - 120) <= 6
    review_prompt = llm.calls["courses.review_outline"][0]
    assert review_prompt.variables["current_total"] > 126 and review_prompt.variables["target_total"] == 120


def test_the_review_loop_is_bounded_and_keeps_the_course_with_a_warning(run_workflow):
    stubborn = ScriptedLlm(fallback=lambda p: inflate(1.5) if p.name != "courses.generate_parts" else None)
    result, runner = run_workflow(llm=stubborn, parameter_overrides={"MaxReviewAttempts": "2"})
    assert result.execution_status == "SUCCEEDED"
    assert runner.invocations["ReviewOutline"] == 2
    assert result.course.review_attempts == 2
    assert "Kept after 2 review(s)" in result.course.time_warning
    assert not result.course.within_tolerance


def test_an_unparseable_answer_is_repaired_by_reprompting(run_workflow):
    llm = ScriptedLlm({"courses.generate_parts": ["I'd love to help! Valuation is fascinating."]})
    result, runner = run_workflow(llm=llm)
    assert result.execution_status == "SUCCEEDED"
    assert len(llm.calls["courses.generate_parts"]) == 2
    assert "No parts found" in llm.calls["courses.generate_parts"][1].text
    assert runner.invocations["PlanParts"] == 1  # repaired inside the step, not by a retry


def test_an_answer_that_stays_unparseable_fails_the_course_with_the_reason(run_workflow, clean_courses):
    llm = ScriptedLlm(fallback=lambda p: "no structure at all" if p.name == "courses.generate_parts" else None)
    result, _ = run_workflow(llm=llm)
    assert result.status["status"] == "error"
    assert result.status["error"]["type"] == "LlmOutputInvalid"
    assert "2 repair(s)" in result.status["error"]["message"]
    assert result.status["error"]["phase"] == "planning_parts"
    assert course_rows(clean_courses) == 0


def test_llm_throttling_is_retried_by_the_state_machine(run_workflow):
    llm = ScriptedLlm({"courses.generate_parts": [LlmThrottled("slow down"), LlmThrottled("slow down")]})
    result, runner = run_workflow(llm=llm)
    assert result.execution_status == "SUCCEEDED"
    assert runner.invocations["PlanParts"] == 3


def test_a_throttled_lambda_service_is_retried_too(run_workflow):
    result, runner = run_workflow(faults=[Fault("SearchBooks", "Lambda.TooManyRequestsException", times=2)])
    assert result.execution_status == "SUCCEEDED"
    assert runner.invocations["SearchBooks"] == 3


def test_no_books_found_fails_clearly_and_says_what_to_do(run_workflow, clean_courses):
    result, runner = run_workflow(CourseRequest(query="quantum knitting for cats", hours=1))
    assert result.execution_status == "FAILED"
    error = result.status["error"]
    assert error["type"] == "NoBooksFound" and "coursegen books import" in error["message"]
    assert "PlanParts" not in runner.invocations
    assert course_rows(clean_courses) == 0


def test_one_part_failing_for_good_fails_the_course_with_no_partial_course(run_workflow, clean_courses):
    fault = Fault("ExpandPart", "LlmUnavailable", "model endpoint down", times=-1, when=lambda p: p["part_index"] == 1)
    result, runner = run_workflow(faults=[fault])
    assert result.execution_status == "FAILED"
    assert result.status["status"] == "error"
    assert result.status["error"] == {"type": "LlmUnavailable", "message": "model endpoint down", "phase": "generating_sections"}
    assert "StoreCourse" not in runner.invocations
    assert course_rows(clean_courses) == 0


def test_the_same_course_id_run_twice_is_one_course_not_two(run_workflow, clean_courses):
    first, runner = run_workflow(course_id="same-course")
    runner.start(DCF, course_id="same-course", execution_name="same-course-rerun")
    second = runner.wait("same-course", execution_name="same-course-rerun")
    assert first.execution_status == second.execution_status == "SUCCEEDED"
    assert course_rows(clean_courses) == 1
    assert section_rows(clean_courses, "same-course") == first.course.outline.section_count


def test_every_expansion_sees_all_sibling_part_titles(run_workflow):
    llm = ScriptedLlm()
    result, _ = run_workflow(llm=llm)
    titles = [p.title for p in result.course.outline.parts]
    for prompt in llm.calls["courses.expand_part"]:
        assert all(title in prompt.variables["existing_outline"] for title in titles)
        assert prompt.variables["part_title"] not in prompt.variables["remaining_text"]


def test_a_forty_part_course_keeps_every_payload_small(run_workflow):
    plan = "Course title: Forty\n" + "\n".join(f"Part {i}: Topic number {i} (30 minutes)" for i in range(1, 41))
    llm = ScriptedLlm({"courses.generate_parts": [plan]})
    result, runner = run_workflow(CourseRequest(query="Learn DCF valuation", hours=20), llm=llm,
                                  parameter_overrides={"MapMaxConcurrency": "8"})
    assert result.execution_status == "SUCCEEDED", result.status
    assert len(result.course.outline.parts) == 40 and runner.invocations["ExpandPart"] == 40
    assert result.largest_payload_bytes < 8192


def test_a_review_that_drops_parts_never_replaces_the_outline(run_workflow):
    def cut_in_half(text: str) -> str:  # a review answer that stops halfway, as a cut-off model does
        lines = text.splitlines()
        return "\n".join(lines[: len(lines) // 2])

    llm = ScriptedLlm(fallback=lambda p: inflate(1.5) if p.name == "courses.expand_part"
                      else cut_in_half if p.name == "courses.review_outline" else None)
    result, runner = run_workflow(llm=llm)
    assert result.execution_status == "SUCCEEDED"
    parts_planned = len(llm.calls["courses.expand_part"])
    assert len(result.course.outline.parts) == parts_planned  # every part kept
    assert "gave no usable outline" in result.course.time_warning or "Kept after" in result.course.time_warning
    assert any("return every part" in p.text for p in llm.calls["courses.review_outline"])


def test_a_truncated_answer_is_asked_again_with_a_bigger_budget(run_workflow):
    from coursegen.ports import LlmReply

    class CutOffOnce(ScriptedLlm):
        cut = False

        def complete(self, prompt):
            if prompt.name == "courses.generate_parts" and not self.cut:
                self.cut = True
                self.calls[prompt.name].append(prompt)
                return LlmReply("Part 1: Foundations (30 minu", 10, 1500, truncated=True)
            return super().complete(prompt)

    llm = CutOffOnce()
    result, _ = run_workflow(llm=llm)
    assert result.execution_status == "SUCCEEDED"
    first, second = llm.calls["courses.generate_parts"][:2]
    assert second.max_tokens == 2 * first.max_tokens and "cut off" in second.text


def test_an_execution_input_missing_a_field_fails_before_anything_is_recorded(run_workflow):
    _, runner = run_workflow()
    runner.sfn.start_execution(stateMachineArn=runner.state_machine_arn, name="bad-input",
                               input='{"course_id": "bad-input", "query": "Learn DCF valuation"}')
    result = runner.wait("bad-input")
    assert result.execution_status == "FAILED"
    execution = runner.sfn.describe_execution(executionArn=runner.execution_arn("bad-input"))
    assert execution["error"] == "InvalidExecutionInput" and "events/start_execution.json" in execution["cause"]
    assert result.status["phase"] == "queued" and result.course is None  # no state record was written


def test_logs_carry_ids_and_counts_never_the_query(run_workflow):
    import io
    import logging

    from coursegen.handlers import logger

    buffer = io.StringIO()
    capture = logging.StreamHandler(buffer)
    capture.setFormatter(logger.registered_formatter)  # the JSON lines CloudWatch would get
    logger.addHandler(capture)
    logger.setLevel("INFO")
    try:
        result, _ = run_workflow(CourseRequest(query="Learn DCF valuation for Zanzibar Widgets Ltd", hours=1))
    finally:
        logger.setLevel("WARNING")
        logger.removeHandler(capture)
    logs = buffer.getvalue()
    assert result.course_id in logs and "step completed" in logs
    assert "Zanzibar" not in logs


def test_with_one_running_slot_a_second_course_waits_queued_until_the_first_ends(clean_courses, embedder):
    llm = SimulatedLatencyLlm(0.05, 0.0)
    with LocalRunner(max_running=1, llm=llm, database=clean_courses, embedder=embedder) as runner:
        first, second = runner.start(DCF), runner.start(DCF)
        assert runner.status(second)["phase"] == "queued"
        results = [runner.wait(course_id, timeout_seconds=120) for course_id in (first, second)]
        first_history, second_history = (runner.history(runner.execution_arn(r.course_id)) for r in results)
    assert all(r.status["status"] == "complete" for r in results)
    assert second_history[0]["timestamp"] >= first_history[-1]["timestamp"]
