"""ProcessBatchVisuals (seed 003's VisualPlanner, statemachine/course_content.asl.json): for each
full lesson of one batch, the model may propose one diagram; a valid one is drawn as SVG into the
course's artifacts and recorded with its lesson.

A figure is optional: an answer that does not validate, or a renderer that fails, is a warning and
no figure - the lesson stands. The outcome is kept in the lesson's artifact under "figure" (the
figure's record, or null for none), so a re-run asks again about no lesson. Batches run in
parallel, so this step never writes the course state: BuildBook, the single writer, gathers the
records into CourseState.selected_lecture_figures.
"""

from __future__ import annotations

import json
import logging

from coursegen.domain.prompts import render_prompt
from coursegen.domain.visuals import (
    InvalidVisual, LessonFigure, checked_svg, figure_record, parse_visual_answer, visual_prompt_variables,
)
from coursegen.errors import LlmOutputInvalid, PayloadMissing
from coursegen.ports import FigureRenderer, Llm, PayloadStore, StateStore
from coursegen.services.lessons import BatchInput, lesson_key, lesson_plans
from coursegen.services.outline import artifact_key

log = logging.getLogger(__name__)


def figure_key(state, lesson_id: str) -> str:
    return artifact_key(state, f"figures/{lesson_id}.svg")


class VisualWorkflow:
    def __init__(self, *, llm: Llm, states: StateStore, payloads: PayloadStore, renderer: FigureRenderer) -> None:
        self.llm = llm
        self.states = states
        self.payloads = payloads
        self.renderer = renderer

    def process_batch(self, batch: BatchInput) -> dict:
        state = self.states.load(batch.course_id, include_text=False)  # read only: sibling batches run at once
        part = [plan for plan in lesson_plans(self.payloads, state) if plan.part_index == batch.module_number - 1]
        figures = 0
        for plan in part[batch.batch_start_idx: batch.batch_end_idx]:
            key = lesson_key(state, plan)
            kept = json.loads(self.payloads.get_text(key))  # GenerateBatchContent wrote it just before
            if kept.get("status") != "full" or "figure" in kept:  # a placeholder, or decided by an earlier run
                figures += bool(kept.get("figure"))
                continue
            figure = self._figure(state, plan, kept["markdown"])
            self.payloads.put_text(key, json.dumps(kept | {"figure": figure}))
            figures += figure is not None
        return {"module_number": batch.module_number, "batch_index": batch.batch_index, "figures": figures}

    def _figure(self, state, plan, markdown: str) -> dict | None:
        prompt = render_prompt("lessons.propose_visual", visual_prompt_variables(
            lesson_number=plan.number, lesson_title=plan.title, lesson_markdown=markdown, language=state.language))
        try:
            answer = self.llm.complete(prompt).text  # LlmThrottled / LlmUnavailable: the Task retries
        except LlmOutputInvalid as error:  # a refusal, an empty answer, a 4xx: no figure, never no lesson
            log.warning("figure dropped: the model gave no usable answer", extra={"lesson_id": plan.lesson_id, "error": str(error)[:200]})
            return None
        try:
            spec = parse_visual_answer(answer, plan.lesson_id)
            if spec is None:
                return None  # the model says no diagram helps this lesson
            svg = self.renderer.render(spec)
        except InvalidVisual as error:
            log.warning("figure dropped: the proposed diagram is invalid", extra={"lesson_id": plan.lesson_id, "problem": str(error)})
            return None
        except Exception as error:  # noqa: BLE001 - a renderer's failure costs the figure, never the lesson
            log.warning("figure dropped: the renderer failed", extra={"lesson_id": plan.lesson_id, "error": type(error).__name__})
            return None
        key = figure_key(state, plan.lesson_id)
        self.payloads.put_text(key, svg, "image/svg+xml")
        return figure_record(spec, key, self.llm.name)


def lesson_figures(payloads: PayloadStore, state, plans) -> tuple[dict[str, LessonFigure], list[dict]]:
    """BuildBook's gathering: each lesson's figure (its record, kept with the lesson by
    ProcessBatchVisuals, and its SVG), in course order. A figure whose SVG is gone or no longer
    checks out is left out with a warning: the book goes on without it."""
    figures: dict[str, LessonFigure] = {}
    records: list[dict] = []
    for plan in plans:
        record = json.loads(payloads.get_text(lesson_key(state, plan))).get("figure")
        if not record:
            continue
        try:
            svg = checked_svg(payloads.get_text(record["svg_key"]))
        except (PayloadMissing, InvalidVisual) as error:
            log.warning("figure left out of the book", extra={"lesson_id": plan.lesson_id, "error": type(error).__name__})
            continue
        figures[plan.lesson_id] = LessonFigure(lesson_id=plan.lesson_id, caption=record["caption"], svg=svg)
        records.append(record)
    return figures, records
