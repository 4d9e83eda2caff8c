"""The arithmetic the benchmark report rests on: the critical path's schedule, percentiles, cost."""

import inspect
import re
import statistics

import pytest

from bench.critical_path import LAMBDA_GB, LAMBDA_SECONDS_PER_STEP, PRICES, PathRun, course_cost, greedy_makespan
from coursegen_local.load import percentile
from tests.conftest import ROOT


def test_expansions_on_one_slot_run_one_after_another():
    assert greedy_makespan([2.0, 1.0, 3.0], 1) == 6.0


def test_expansions_start_in_part_order_on_the_first_free_slot():
    # slot A: 3; slot B: 1, 1, 1 - the long first part sets the end, as the Map would run it
    assert greedy_makespan([3.0, 1.0, 1.0, 1.0], 2) == 3.0
    assert greedy_makespan([1.0] * 6, 4) == 2.0  # two rounds


def test_more_slots_than_parts_is_the_longest_part():
    assert greedy_makespan([1.0, 2.5, 0.5], 8) == 2.5
    assert greedy_makespan([], 4) == 0.0


def test_percentiles_interpolate_between_ranks():
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([0.0, 100.0], 0.99) == pytest.approx(99.0)
    assert percentile([7.0], 0.99) == 7.0


def test_the_percentile_is_the_inclusive_method_of_the_standard_library():
    samples = [12.0, 3.5, 7.25, 100.0, 41.0, 8.0, 9.5, 15.0, 2.0, 66.0, 5.0]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")  # cuts[i] is the (i + 1)th percentile
    for q in (50, 90, 95, 99):
        assert percentile(samples, q / 100) == pytest.approx(cuts[q - 1])


def test_no_other_percentile_code_in_the_benchmarks_or_the_load_test():
    """Every figure's percentile is coursegen_local.load.percentile: none computed another way."""
    sources = [*(ROOT / "bench").glob("*.py"), ROOT / "local" / "coursegen_local" / "load.py"]
    other = re.compile(r"np\.percentile|numpy\.quantile|np\.quantile|statistics\.(median|quantiles)|sorted\(.*\)\[int")
    helper = inspect.getsource(percentile)
    for path in sources:
        text = path.read_text().replace(helper, "")
        assert not other.search(text), f"{path.name} computes a percentile of its own: {other.search(text).group(0)}"


def test_a_course_costs_its_transitions_invocations_and_tokens():
    run = PathRun(parts=3, max_concurrency=4, wall_seconds=4.0, map_wall_seconds=2.0, critical_path_seconds=3.8, transitions=20,
                  lambda_invocations=8, llm_calls=4, input_tokens=10_000, output_tokens=500, llm_seconds=6.0,
                  largest_payload_bytes=900)
    cost = course_cost(run, real_scale=4)
    assert cost["step_functions"] == pytest.approx(20 * PRICES["state_transition"])
    assert cost["llm"] == pytest.approx(10_000 * PRICES["input_token"] + 500 * PRICES["output_token"])
    # 9 invocations (the workflow's 8 and the API's); the LLM steps billed while they wait on the model at real scale
    gb_seconds = LAMBDA_GB * (6.0 * 4 + LAMBDA_SECONDS_PER_STEP * 9)
    assert cost["lambda"] == pytest.approx(9 * PRICES["lambda_request"] + gb_seconds * PRICES["lambda_gb_second"])
    assert cost["total"] == pytest.approx(cost["step_functions"] + cost["lambda"] + cost["llm"])


def test_lambda_memory_is_the_templates():
    assert LAMBDA_GB == 0.5  # template.yaml Globals: MemorySize 512
