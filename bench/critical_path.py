"""Generation time against its critical path, and the cost of a course.

Full courses run through the offline runner with the offline planner answering at a simulated
model latency (a fixed start plus time per output token, scaled down from a real model's so the
run stays short). Each call's latency is measured, so the critical path is computed from the
very latencies the run waited on: the parts plan, then the expansions scheduled on MaxConcurrency
slots in part order, each on the first free slot, then any review: the least time these calls
could take under a Map, which starts its items in order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from coursegen.adapters.offline import OfflinePlanner, SimulatedLatencyLlm
from coursegen.config import Settings
from coursegen.domain.estimate import AWS_PRICES, PRICES_AS_OF, model_price
from coursegen.domain.prompts import Prompt
from coursegen.models import CourseRequest
from coursegen_local.runner import LocalRunner
from coursegen_local.template import SamTemplate

PART_MINUTES = 20
FIRST_TOKEN, PER_TOKEN = 0.25, 0.01  # seconds; a real model's ~0.5 s + ~10 ms/token, with shorter answers
REAL_SCALE = 4  # real calls are about this much slower: a model's answers run to ~500 tokens, the planner's ~125


class FixedPartsPlanner:
    """The offline planner asked for exactly `parts` parts (the guidance would choose its own)."""

    def __init__(self, parts: int) -> None:
        self.parts = parts
        self.planner = OfflinePlanner()
        self.name = self.planner.name

    def complete(self, prompt: Prompt):
        if prompt.name == "courses.generate_parts":
            variables = dict(prompt.variables, parts_count_guidance=f"Plan {self.parts} parts.")
            prompt = dataclasses.replace(prompt, variables=variables)
        return self.planner.complete(prompt)


def greedy_makespan(durations: list[float], slots: int) -> float:
    """When the last of the items ends if each starts, in order, on the first free slot."""
    free_at = [0.0] * max(1, slots)
    for duration in durations:
        slot = free_at.index(min(free_at))
        free_at[slot] += duration
    return max(free_at) if durations else 0.0


@dataclass
class PathRun:
    parts: int
    max_concurrency: int
    wall_seconds: float
    map_wall_seconds: float  # ExpandParts alone, entered to exited
    critical_path_seconds: float
    transitions: int
    lambda_invocations: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    llm_seconds: float  # the model calls' latencies, summed
    largest_payload_bytes: int

    @property
    def ratio(self) -> float:
        return self.wall_seconds / self.critical_path_seconds


def run_course(parts: int, max_concurrency: int, first_token: float, per_token: float, adapters: dict,
               query: str = "Learn DCF valuation") -> PathRun:
    """One course of exactly `parts` parts; the offline planner makes no more parts than the
    grounding has topics, so a long course needs a broad query."""
    llm = SimulatedLatencyLlm(first_token, per_token, planner=FixedPartsPlanner(parts), record=True)
    overrides = {"MapMaxConcurrency": str(max_concurrency)}
    with LocalRunner(parameter_overrides=overrides, llm=llm, **adapters) as runner:
        # The outline stage's critical path (issue 5): lessons as placeholders, which ask no model.
        request = CourseRequest(query=query, hours=parts * PART_MINUTES / 60, full_lessons_count=0)
        result = runner.run(request, poll_seconds=0.5, timeout_seconds=1800)
        history = runner.history(runner.execution_arn(result.course_id))
    if result.execution_status != "SUCCEEDED":
        raise RuntimeError(f"the {parts}-part course did not complete: {result.status}")
    if len(result.course.outline.parts) != parts:
        raise RuntimeError(f"asked for {parts} parts, the planner made {len(result.course.outline.parts)}: "
                           f"the books found for {query!r} hold too few topics")
    wall = _seconds_between(history[0], history[-1])
    map_wall = _seconds_between(next(e for e in history if e["type"] == "MapStateEntered"),
                                next(e for e in reversed(history) if e["type"] == "MapStateExited"))
    plan = sum(s for name, _, s, _ in llm.calls if name == "courses.generate_parts")
    per_part: dict[int, float] = {}  # a part's calls (with any repair) run in one Map iteration
    for name, variables, seconds, _ in llm.calls:
        if name == "courses.expand_part":
            per_part[variables["part_index"]] = per_part.get(variables["part_index"], 0.0) + seconds
    review = sum(s for name, _, s, _ in llm.calls if name == "courses.review_outline")
    critical = plan + greedy_makespan([per_part[i] for i in sorted(per_part)], max_concurrency) + review
    return PathRun(
        parts=parts,
        max_concurrency=max_concurrency,
        wall_seconds=wall,
        map_wall_seconds=map_wall,
        critical_path_seconds=critical,
        transitions=result.transitions,
        lambda_invocations=result.lambda_invocations,
        llm_calls=len(llm.calls),
        input_tokens=sum(reply.input_tokens for *_, reply in llm.calls),
        output_tokens=sum(reply.output_tokens for *_, reply in llm.calls),
        llm_seconds=sum(seconds for _, _, seconds, _ in llm.calls),
        largest_payload_bytes=result.largest_payload_bytes,
    )


def _seconds_between(first: dict, last: dict) -> float:
    return (last["timestamp"] - first["timestamp"]).total_seconds()


DEFAULT_MODEL = Settings.model_fields["llm_model_id"].default
# The prices a dry run's estimate uses (coursegen/domain/estimate.py), for the default model.
PRICES = {
    "date": f"{PRICES_AS_OF} (check the AWS pricing pages for today's)",
    **AWS_PRICES,
    "input_token": model_price(DEFAULT_MODEL)[0],
    "output_token": model_price(DEFAULT_MODEL)[1],
}
LAMBDA_GB = SamTemplate().doc["Globals"]["Function"]["MemorySize"] / 1024  # every workflow function's
LAMBDA_SECONDS_PER_STEP = 0.15  # a step's own work, beside the model call it waits on


def course_cost(run: PathRun, real_scale: float = REAL_SCALE) -> dict[str, float]:
    """Dollars per course. LLM-calling Lambdas are billed while they wait on the model, so their
    duration is the model's latency at real scale; the API call that started the course is one
    more invocation."""
    invocations = run.lambda_invocations + 1
    gb_seconds = LAMBDA_GB * (run.llm_seconds * real_scale + LAMBDA_SECONDS_PER_STEP * invocations)
    cost = {
        "step_functions": run.transitions * PRICES["state_transition"],
        "lambda": invocations * PRICES["lambda_request"] + gb_seconds * PRICES["lambda_gb_second"],
        "llm": run.input_tokens * PRICES["input_token"] + run.output_tokens * PRICES["output_token"],
    }
    cost["total"] = sum(cost.values())
    return cost
