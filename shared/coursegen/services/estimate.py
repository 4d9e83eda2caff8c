"""EstimateContent (statemachine/course_content.asl.json), a dry run's last step: the lessons are
planned and batched, none is written; the course records what writing them would take."""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel, Field

from coursegen.domain.estimate import (
    LAB_WORDS, VISUAL_ANSWER_TOKENS, ModelCall, answer_tokens, estimate_content, prompt_tokens,
)
from coursegen.domain.labs import lab_prompt, plan_labs
from coursegen.domain.lessons import expand_batches, lesson_prompt, placeholder_lesson, target_words
from coursegen.domain.prompts import render_prompt
from coursegen.domain.visuals import visual_prompt_variables
from coursegen.models import COURSE_ID_PATTERN, ContentMode, Phase
from coursegen.ports import PayloadStore, StateStore
from coursegen.services.lessons import in_full, lesson_plans


class EstimateInput(BaseModel):
    course_id: str = Field(pattern=COURSE_ID_PATTERN)
    max_lessons_per_batch: int = Field(3, ge=1, le=20)
    max_concurrency: int = Field(2, ge=1, le=40)


class ContentEstimation:
    def __init__(self, *, states: StateStore, payloads: PayloadStore, model_id: str, offline: bool) -> None:
        self.states = states
        self.payloads = payloads
        self.model_id = model_id  # what the estimate is priced as
        self.offline = offline

    def estimate(self, step: EstimateInput) -> dict:
        state = self.states.load(step.course_id, entering=Phase.estimating.value)
        plans = lesson_plans(self.payloads, state)
        pace = state.pending_course_prefs.pace
        books = state.book_summaries
        standins = {p.lesson_index: replace(placeholder_lesson(p), words=target_words(p.minutes, pace), minutes=p.minutes)
                    for p in plans}  # a lesson not written yet, at its target length (its takeaways unknown)
        calls: dict[int, list[ModelCall]] = {}
        for plan in plans:
            if not in_full(state, plan):
                continue  # a placeholder calls no model
            previous = [standins[p.lesson_index] for p in plans
                        if p.part_index == plan.part_index and p.section_index < plan.section_index]
            covered = [o for p in plans if p.lesson_index < plan.lesson_index for o in p.objectives]
            prompt = lesson_prompt(plan, course_outline_context=state.course_outline_context, previous_lessons=previous,
                                   covered_objectives=covered, books=books, preferences=state.pending_course_prefs,
                                   language=state.language)
            words = target_words(plan.minutes, pace)
            visual = render_prompt("lessons.propose_visual", visual_prompt_variables(
                lesson_number=plan.number, lesson_title=plan.title, lesson_markdown="word " * words, language=state.language))
            # the lesson, then ProcessBatchVisuals' question about it, in the same Map iteration
            calls[plan.lesson_index] = [ModelCall(prompt_tokens(prompt.text), answer_tokens(words)),
                                        ModelCall(prompt_tokens(visual.text), VISUAL_ANSWER_TOKENS)]
        by_part: dict[int, list] = {}
        for plan in plans:
            by_part.setdefault(plan.part_index, []).append(plan)
        batches = [
            [call for p in by_part[b["module_number"] - 1][b["batch_start_idx"]:b["batch_end_idx"]]
             for call in calls.get(p.lesson_index, [])]
            for b in expand_batches(plans, step.max_lessons_per_batch)
        ]
        labs = []
        if state.content_mode == ContentMode.theory_and_labs:
            for lab in plan_labs(plans):
                part = by_part[lab.part_index]
                if any(p.lesson_index in calls for p in part):  # else a placeholder lab: no model call
                    prompt = lab_prompt(lab, course_outline_context=state.course_outline_context,
                                        part_lessons=[standins[p.lesson_index] for p in part], books=books,
                                        preferences=state.pending_course_prefs, language=state.language)
                    labs.append(ModelCall(prompt_tokens(prompt.text), answer_tokens(LAB_WORDS)))
        estimate = estimate_content(batches, lessons_planned=len(plans), lessons_in_full=len(calls), labs=labs,
                                    max_concurrency=step.max_concurrency, model_id=self.model_id, offline=self.offline)
        state.estimate = estimate
        self.states.save(state)
        # what the course machine reads of a content run: no lesson written
        return {"lessons": len(plans), "full_lessons": 0}
