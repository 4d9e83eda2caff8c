"""A dry run's estimate (coursegen/domain/estimate.py): the arithmetic, and what it says of itself."""

import pytest

from coursegen.domain.estimate import (
    FIRST_TOKEN_SECONDS, OUTPUT_TOKENS_PER_SECOND, STEP_OVERHEAD_SECONDS, ModelCall, answer_tokens, estimate_content,
    makespan, model_price,
)

HAIKU = "us.anthropic.claude-3-5-haiku-20241022-v1:0"


def test_a_map_starts_items_in_order_each_in_the_first_free_slot():
    assert makespan([4, 1, 1, 1], 2) == 4  # the three short ones share the second slot
    assert makespan([1, 1, 4], 2) == 5  # the long one starts last, after a short one
    assert makespan([3, 3, 3], 1) == 9
    assert makespan([3, 3], 8) == 3  # more slots than items
    assert makespan([], 2) == 0


def test_tokens_cost_and_time_add_up_from_the_calls():
    batches = [[ModelCall(1000, 2000), ModelCall(1500, 2000)], [ModelCall(800, 1000)]]
    estimate = estimate_content(batches, lessons_planned=4, lessons_in_full=3, max_concurrency=2, model_id=HAIKU, offline=False)

    assert (estimate.model_calls, estimate.lessons_in_full, estimate.lessons_planned, estimate.batches) == (3, 3, 4, 2)
    assert (estimate.input_tokens, estimate.output_tokens) == (3300, 5000)
    per_in, per_out = model_price(HAIKU)
    model = 3300 * per_in + 5000 * per_out
    assert model < estimate.cost_usd < model + 0.002  # Lambda and Step Functions add a fraction of a cent
    call = lambda tokens: FIRST_TOKEN_SECONDS + tokens / OUTPUT_TOKENS_PER_SECOND  # noqa: E731
    first, second = STEP_OVERHEAD_SECONDS + 2 * call(2000), STEP_OVERHEAD_SECONDS + call(1000)
    assert estimate.sequential_seconds == round(first + second)
    assert estimate.wall_seconds == round(max(first, second))
    assert "not an LLM" not in estimate.basis and "no repairs counted" in estimate.basis


def test_a_model_with_no_listed_price_gets_tokens_and_time_but_no_dollars():
    estimate = estimate_content([[ModelCall(10, 10)]], lessons_planned=1, lessons_in_full=1, max_concurrency=1, model_id="llama3.1", offline=False)
    assert estimate.cost_usd is None and estimate.input_tokens == 10
    assert "No price is listed for llama3.1" in estimate.basis


def test_the_offline_writer_says_the_estimate_is_what_a_model_would_take():
    estimate = estimate_content([[ModelCall(10, 10)]], lessons_planned=1, lessons_in_full=1, max_concurrency=1, model_id=HAIKU, offline=True)
    assert "not an LLM" in estimate.basis


def test_a_lesson_answer_is_its_words_at_the_token_rate_plus_its_markup():
    assert answer_tokens(1000) > answer_tokens(500) > 500


def test_labs_run_after_the_batches_as_many_at_once():
    batch = [[ModelCall(100, 500)]]
    without = estimate_content(batch, lessons_planned=1, lessons_in_full=1, max_concurrency=2, model_id=HAIKU, offline=False)
    labs = [ModelCall(100, 500), ModelCall(100, 500), ModelCall(100, 500)]
    with_labs = estimate_content(batch, lessons_planned=1, lessons_in_full=1, max_concurrency=2, model_id=HAIKU,
                                 offline=False, labs=labs)
    lab = STEP_OVERHEAD_SECONDS + FIRST_TOKEN_SECONDS + 500 / OUTPUT_TOKENS_PER_SECOND
    assert (with_labs.labs, with_labs.model_calls) == (3, 4)
    assert with_labs.wall_seconds == pytest.approx(without.wall_seconds + 2 * lab, abs=1)  # 3 labs, 2 at once
    assert with_labs.output_tokens == without.output_tokens + 1500
