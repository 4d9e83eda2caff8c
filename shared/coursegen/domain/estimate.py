"""What writing a course's lessons will take, before one is written (the request's `dry_run`):
tokens, dollars and time, from the lesson plan, the prompts the run would send, and rates written
down here. An estimate, not a measurement: `make bench` measures the same stage.

Prices are public on-demand prices (us-east-1) written from the AWS pricing pages; this code
fetches nothing. A model whose price is not listed gets tokens and time, and no dollar figure.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from coursegen.models import ContentEstimate

PRICES_AS_OF = "2025, us-east-1, on-demand"
AWS_PRICES = {
    "state_transition": 0.025 / 1000,  # Step Functions Standard, per transition
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second": 0.0000166667,  # x86
}
# Dollars per 1M input / output tokens, by a part of the Bedrock model id (cross-region ids such as
# "us.anthropic.claude-3-5-haiku-20241022-v1:0" contain it). The first that matches wins.
MODEL_PRICES: tuple[tuple[str, float, float], ...] = (
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-3-haiku", 0.25, 1.25),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-3-7-sonnet", 3.00, 15.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("nova-micro", 0.035, 0.14),
    ("nova-lite", 0.06, 0.24),
    ("nova-pro", 0.80, 3.20),
)
# Time: the model's first token, then its output at a steady rate. Typical of Bedrock on-demand
# for the models above; a deployment measures its own (the run's `execution_time_seconds`).
FIRST_TOKEN_SECONDS = 1.0
OUTPUT_TOKENS_PER_SECOND = 50.0
BATCH_LAMBDA_GB = 0.5  # GenerateBatchContent's memory, billed while it waits (tests/template keep it the template's)
# Steps and state transitions the content stage takes (counted from its ASL: a few fixed states,
# then each batch's Map iteration with its two Tasks, each lab's with one); priced, not timed.
STEPS_PER_BATCH, STEPS_PER_LAB, FIXED_STEPS = 2, 1, 3
TRANSITIONS_PER_BATCH, TRANSITIONS_PER_LAB, FIXED_TRANSITIONS = 3, 2, 12
STEP_OVERHEAD_SECONDS = 0.5  # a Lambda step's own work beside the model call it waits on
CHARS_PER_TOKEN = 4  # prompt text; the figure the offline planner's token counts use
TOKENS_PER_WORD = 1.35  # written prose, English (German and French run higher)
LESSON_MARKUP_TOKENS = 120  # headings, objective ids, citations, sources: beside the prose
VISUAL_ANSWER_TOKENS = 200  # a diagram spec (a few steps or points and a caption), or "none"
LAB_WORDS = 800  # a lab: goal, setup, steps, expected result, solution, self-check


@dataclass(frozen=True)
class ModelCall:
    """One model call the run would make."""

    input_tokens: int
    output_tokens: int


def prompt_tokens(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


def answer_tokens(target_words: int) -> int:
    return round(target_words * TOKENS_PER_WORD) + LESSON_MARKUP_TOKENS


def model_price(model_id: str) -> tuple[float, float] | None:
    """Dollars per input and per output token, or None when the model's price is not listed."""
    for family, per_million_in, per_million_out in MODEL_PRICES:
        if family in model_id:
            return per_million_in / 1e6, per_million_out / 1e6
    return None


def makespan(durations: Sequence[float], slots: int) -> float:
    """When the last of these jobs ends if they start in order, each as soon as one of `slots` is
    free: how a Map with MaxConcurrency starts its items."""
    ends = [0.0] * max(1, min(slots, len(durations)))
    for duration in durations:
        heapq.heappush(ends, heapq.heappop(ends) + duration)
    return max(ends)


def call_seconds(call: ModelCall) -> float:
    return FIRST_TOKEN_SECONDS + call.output_tokens / OUTPUT_TOKENS_PER_SECOND


def estimate_content(
    batches: Sequence[Sequence[ModelCall]], *, lessons_planned: int, lessons_in_full: int, max_concurrency: int,
    model_id: str, offline: bool, labs: Sequence[ModelCall] = (),
) -> ContentEstimate:
    """The content stage of a course: each batch makes its calls (a lesson, then whether it needs
    a diagram) one after another (a batch with only placeholders is one quick step), batches run
    `max_concurrency` at once; then the labs, one a part, as many at once. No repair is counted:
    a lesson repaired once costs its prompt and its answer again."""
    calls = [call for batch in batches for call in batch] + list(labs)
    batch_seconds = [STEP_OVERHEAD_SECONDS + sum(call_seconds(c) for c in batch) for batch in batches]
    lab_seconds = [STEP_OVERHEAD_SECONDS + call_seconds(c) for c in labs]
    input_tokens = sum(c.input_tokens for c in calls)
    output_tokens = sum(c.output_tokens for c in calls)
    model_seconds = sum(call_seconds(c) for c in calls)
    price = model_price(model_id)
    cost = None
    if price is not None:
        steps = FIXED_STEPS + STEPS_PER_BATCH * len(batches) + STEPS_PER_LAB * len(labs)
        transitions = FIXED_TRANSITIONS + TRANSITIONS_PER_BATCH * len(batches) + TRANSITIONS_PER_LAB * len(labs)
        lambda_cost = (steps * AWS_PRICES["lambda_request"]
                       + BATCH_LAMBDA_GB * (model_seconds + STEP_OVERHEAD_SECONDS * steps) * AWS_PRICES["lambda_gb_second"])
        aws_cost = lambda_cost + transitions * AWS_PRICES["state_transition"]
        cost = round(input_tokens * price[0] + output_tokens * price[1] + aws_cost, 4)
    priced = "" if price is not None else f" No price is listed for {model_id}: no dollar figure."
    return ContentEstimate(
        lessons_planned=lessons_planned,
        lessons_in_full=lessons_in_full,
        batches=len(batches),
        model_calls=len(calls),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        model=model_id,
        cost_usd=cost,
        labs=len(labs),
        wall_seconds=round(makespan(batch_seconds, max_concurrency) + makespan(lab_seconds, max_concurrency)),
        sequential_seconds=round(sum(batch_seconds) + sum(lab_seconds)),
        max_concurrency=max_concurrency,
        basis=(
            f"Writing the lessons (the outline is done), priced as {model_id} on Bedrock ({PRICES_AS_OF} prices), at {FIRST_TOKEN_SECONDS:g} s to the first token and {OUTPUT_TOKENS_PER_SECOND:g} "
            f"output tokens a second, {max_concurrency} batches at once; no repairs counted.{priced}"
            + (" The offline writer itself costs nothing and is not an LLM: this is what a model would take." if offline else "")
        ),
    )
