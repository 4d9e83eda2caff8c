"""ProcessBatchVisuals through the content ASL on the local runner: a figure the model proposes is
drawn, recorded in selected_lecture_figures and shown in the book; an invalid one is dropped with a
warning and its lesson kept; the offline planner draws only what a lesson states."""

from __future__ import annotations

import io
import json
import logging
import zipfile
import xml.etree.ElementTree as ElementTree

import boto3
import html5lib
import pytest

from coursegen.models import CourseRequest
from coursegen.services.lessons import book_keys
from tests.fakes import ScriptedLlm

pytestmark = pytest.mark.workflow

SVG = "{http://www.w3.org/2000/svg}"
FLOW = {"kind": "flow", "caption": "From cash flows to value & back <again>",
        "steps": ["Forecast free cash flow", "Discount at the WACC <script>", "Add the terminal value $"]}
INVALID = {"kind": "bar", "caption": "One bar is not a chart", "points": [{"label": "WACC", "value": 9}]}


def proposals(prompt):
    """1.1 gets a flow, 1.2 an invalid chart, every other lesson the offline planner's answer."""
    number = prompt.variables.get("lesson_number") if prompt.name == "lessons.propose_visual" else None
    return {"1.1": json.dumps(FLOW), "1.2": json.dumps(INVALID)}.get(number)


def s3_object(runner, key: str) -> bytes:
    return boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=runner.container.settings.payload_bucket, Key=key)["Body"].read()


def test_a_proposed_figure_is_drawn_recorded_and_in_the_book_and_an_invalid_one_is_dropped(run_workflow, clean_courses, caplog):
    llm = ScriptedLlm(fallback=proposals)
    with caplog.at_level(logging.WARNING, logger="coursegen.services.visuals"):
        result, runner = run_workflow(llm=llm)
    assert result.execution_status == "SUCCEEDED" and result.status["status"] == "complete", result.status

    # the offline planner declines every lesson of the DCF course (none states a procedure or numbers)
    asked = {prompt.variables["lesson_number"] for prompt in llm.calls["lessons.propose_visual"]}
    total = result.status["progress"]["lessons_total"]
    assert len(llm.calls["lessons.propose_visual"]) == total and {"1.1", "1.2"} <= asked

    state = runner.container.states.load(result.course_id)
    [figure] = state.selected_lecture_figures
    lessons = clean_courses.list_lessons(result.course_id)
    first = next(lesson for lesson in lessons if (lesson.part_index, lesson.section_index) == (0, 0))
    assert figure["lesson_id"] == first.lesson_id and figure["kind"] == "flow" and figure["caption"] == FLOW["caption"]
    assert figure["svg_key"].startswith(f"courses/{result.course_id}/")
    svg = ElementTree.fromstring(s3_object(runner, figure["svg_key"]))
    texts = " ".join(line.text for line in svg.iter(f"{SVG}tspan"))  # a box's lines, escaped text read back
    assert "Discount at the WACC <script>" in texts and not list(svg.iter(f"{SVG}script"))

    # the invalid proposal: a warning naming the lesson, no figure, the lesson kept in full
    second = next(lesson for lesson in lessons if (lesson.part_index, lesson.section_index) == (0, 1))
    dropped = [r for r in caplog.records if "figure dropped" in r.getMessage()]
    assert [getattr(r, "lesson_id", None) for r in dropped] == [second.lesson_id]
    assert second.status == "full" and second.words > 0 and len(lessons) == total

    # the book: the HTML shows the figure as an image of its SVG, the EPUB carries it, the Markdown refers to it
    keys = book_keys(result.course_id)
    page = html5lib.parse(s3_object(runner, keys["html"]).decode(), treebuilder="etree", namespaceHTMLElements=False)
    [image] = [img for img in page.iter("img") if img.get("src", "").startswith("data:image/svg+xml;base64,")]
    assert image.get("alt") == FLOW["caption"]
    with zipfile.ZipFile(io.BytesIO(s3_object(runner, keys["epub"]))) as book:
        [item] = [name for name in book.namelist() if name.endswith(".svg")]
        assert ElementTree.fromstring(book.read(item)).tag == f"{SVG}svg"
    markdown = s3_object(runner, keys["md"]).decode()
    assert "](figures/lesson-1-1.svg)" in markdown
    assert s3_object(runner, f"published/{result.course_id}/book/figures/lesson-1-1.svg").startswith(b"<svg")


def test_a_rerun_of_the_visual_step_asks_again_about_no_lesson(run_workflow):
    llm = ScriptedLlm(fallback=proposals)
    result, runner = run_workflow(llm=llm)
    asked = len(llm.calls["lessons.propose_visual"])
    batch = {"course_id": result.course_id, "module_number": 1, "batch_index": 1, "total_batches": 1,
             "batch_start_idx": 0, "batch_end_idx": 3}
    answer = runner.invoke("ProcessBatchVisualsFunction", batch)
    assert answer["figures"] == 1 and len(llm.calls["lessons.propose_visual"]) == asked


ACCOUNTING = CourseRequest(query="Learn accrual accounting and revenue recognition", hours=1)


def test_the_offline_planner_draws_a_procedure_a_lesson_states(run_workflow):
    result, runner = run_workflow(ACCOUNTING)
    assert result.status["status"] == "complete", result.status
    figures = runner.container.states.load(result.course_id).selected_lecture_figures
    assert figures, "the accounting library states procedures (the five-step revenue model): the planner draws one"
    for figure in figures:
        assert figure["kind"] == "flow" and "offline planner" in figure["caption"] and "not an LLM" in figure["caption"]
        assert ElementTree.fromstring(s3_object(runner, figure["svg_key"])).tag == f"{SVG}svg"
