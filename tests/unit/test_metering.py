"""Usage metering: each step invocation's model calls - prompt, hash, tokens, time - written as one
record, per invocation (threads of one process apart), on failure too, never failing the step."""

from __future__ import annotations

import hashlib
import json
import logging
import threading

import pytest

from coursegen import bootstrap
from coursegen.adapters.metering import MeteredLlm, metered, metered_invocation
from coursegen.adapters.offline import OFFLINE_PLANNER_NAME
from coursegen.bootstrap import Container
from coursegen.config import Settings
from coursegen.domain.artifacts import usage_prefix
from coursegen.domain.prompts import Prompt
from coursegen.errors import LlmThrottled
from coursegen.handlers import workflow_step
from coursegen.services.outline import StepInput
from coursegen_local.runner import LambdaContext
from tests.fakes import MemoryPayloads, ScriptedLlm


def answering(script: dict | None = None) -> ScriptedLlm:
    """A test LLM that answers "answer" to whatever its script does not say."""
    return ScriptedLlm(script, fallback=lambda _: "answer")


def prompt(name: str, text: str = "Plan a course") -> Prompt:
    return Prompt(name=name, text=text, variables={}, max_tokens=100)


def records(payloads: MemoryPayloads, course_id: str = "c-1") -> dict[str, dict]:
    return {key: json.loads(payloads.get_text(key)) for key in payloads.list_keys(usage_prefix(course_id))}


def test_an_invocation_writes_its_calls_with_prompt_hashes_tokens_and_time():
    payloads, llm = MemoryPayloads(), MeteredLlm(answering({"a": ["one"], "b": ["two"]}))
    with metered_invocation("plan_parts", "c-1", lambda: payloads, "req-1"):
        llm.complete(prompt("a", "first text"))
        llm.complete(prompt("b", "second text"))
    [(key, record)] = records(payloads).items()
    assert key == "courses/c-1/usage/plan_parts/req-1.json"
    assert (record["step"], record["ok"], record["seconds"] >= 0, bool(record["started_at"])) == ("plan_parts", True, True, True)
    assert [{k: v for k, v in c.items() if k != "seconds"} for c in record["calls"]] == [
        {"prompt": "a", "prompt_sha256": hashlib.sha256(b"first text").hexdigest(), "input_tokens": 10, "output_tokens": 10},
        {"prompt": "b", "prompt_sha256": hashlib.sha256(b"second text").hexdigest(), "input_tokens": 10, "output_tokens": 10},
    ]
    assert all(isinstance(c["seconds"], float) and c["seconds"] >= 0 for c in record["calls"])


def test_each_invocation_is_its_own_record_and_calls_outside_one_are_not_metered():
    payloads, llm = MemoryPayloads(), MeteredLlm(answering())
    llm.complete(prompt("courses.generate_parts"))  # a service called directly, no handler: nothing to note it in
    for _ in range(2):  # a retry: no request id, a uuid apiece
        with metered_invocation("plan_parts", "c-1", lambda: payloads):
            llm.complete(prompt("courses.generate_parts"))
    assert [len(record["calls"]) for record in records(payloads).values()] == [1, 1]


def test_two_threads_at_once_each_collect_only_their_own_calls():
    payloads, llm = MemoryPayloads(), MeteredLlm(answering())
    both_in = threading.Barrier(2)

    def invocation(part: int) -> None:  # offline, parallel Map iterations are threads of one process
        with metered_invocation("expand_part", "c-1", lambda: payloads, f"req-{part}"):
            for n in range(5):
                both_in.wait()  # interleave the two invocations' calls
                llm.complete(prompt(f"part-{part}", f"part {part} call {n}"))

    threads = [threading.Thread(target=invocation, args=(part,)) for part in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = records(payloads)
    for part in (1, 2):
        calls = written[f"courses/c-1/usage/expand_part/req-{part}.json"]["calls"]
        assert [c["prompt"] for c in calls] == [f"part-{part}"] * 5


def test_a_failing_step_still_writes_its_record_with_the_failed_call():
    payloads, llm = MemoryPayloads(), MeteredLlm(answering({"a": ["fine", LlmThrottled("slow down")]}))
    with pytest.raises(LlmThrottled):
        with metered_invocation("review_outline", "c-1", lambda: payloads, "req-1"):
            llm.complete(prompt("a"))
            llm.complete(prompt("a"))
    [record] = records(payloads).values()
    assert (record["ok"], record["error"]) == (False, "LlmThrottled")
    assert [(c["prompt"], c["input_tokens"], c.get("error")) for c in record["calls"]] == [("a", 10, None), ("a", 0, "LlmThrottled")]


def test_a_failing_write_does_not_fail_the_step(caplog):
    class BrokenPayloads(MemoryPayloads):
        def put_bytes(self, key, data, content_type):
            raise ConnectionError("the bucket is unreachable")

    llm = MeteredLlm(answering())
    with caplog.at_level(logging.WARNING, logger="coursegen.adapters.metering"):
        with metered_invocation("plan_parts", "c-1", BrokenPayloads, "req-1"):
            llm.complete(prompt("courses.generate_parts"))
    assert "usage record courses/c-1/usage/plan_parts/req-1.json not written: ConnectionError" in caplog.text


def test_nothing_is_written_without_a_course_or_without_a_model_call():
    def no_store():
        raise AssertionError("the store was asked for with nothing to write")

    llm = MeteredLlm(answering())
    with metered_invocation("record_execution_end", None, no_store):
        llm.complete(prompt("a"))
    with metered_invocation("store_course", "c-1", no_store):
        pass


def test_the_container_meters_every_llm_it_builds_or_is_given_once():
    built = Container(Settings()).llm
    assert isinstance(built, MeteredLlm) and built.name == OFFLINE_PLANNER_NAME
    given = ScriptedLlm()
    container = Container(Settings(), llm=given)
    assert isinstance(container.llm, MeteredLlm) and container.llm.inner is given and container.llm.calls is given.calls
    assert metered(container.llm) is container.llm


# -- the handler decorator -------------------------------------------------------------------------
def ask_twice(container, request):
    container.llm.complete(prompt("courses.generate_parts", f"Plan {request.course_id}"))
    container.llm.complete(prompt("courses.review_outline"))
    return {"asked": 2}


def ask_then_fail(container, request):
    container.llm.complete(prompt("courses.generate_parts"))
    raise LlmThrottled("the model is busy")


@pytest.fixture
def container():
    payloads = MemoryPayloads()
    container = Container(Settings(), llm=answering(), payloads=payloads)
    bootstrap.override(container)
    yield container
    bootstrap.override(None)


def context(request_id: str) -> LambdaContext:
    return LambdaContext(function_name="f", invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
                         aws_request_id=request_id)


def test_the_handler_writes_each_invocation_s_record_under_its_request_id(container):
    handler = workflow_step(ask_twice, StepInput, lambda: container)
    assert handler({"course_id": "c-1"}, context("req-1")) == {"asked": 2}
    record = records(container.payloads)["courses/c-1/usage/ask_twice/req-1.json"]
    assert (record["step"], record["ok"], [c["prompt"] for c in record["calls"]]) == (
        "ask_twice", True, ["courses.generate_parts", "courses.review_outline"])


def test_the_handler_writes_a_failed_invocation_s_record_and_still_raises(container):
    handler = workflow_step(ask_then_fail, StepInput, lambda: container)
    with pytest.raises(LlmThrottled):
        handler({"course_id": "c-1"}, context("req-2"))
    record = records(container.payloads)["courses/c-1/usage/ask_then_fail/req-2.json"]
    assert (record["ok"], record["error"], len(record["calls"])) == (False, "LlmThrottled", 1)
