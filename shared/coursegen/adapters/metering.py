"""Usage metering behind the Llm port: every model call's prompt, tokens and time, per step invocation.

The composition root wraps every Llm in MeteredLlm; the handler decorator runs each step inside
metered_invocation, which collects that invocation's calls and writes them as one usage record
(domain/artifacts.usage_prefix) for the evidence pack. The meter is a ContextVar: offline, parallel
Map iterations run their handlers in threads of one process, and each must collect its own calls.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from coursegen.domain.artifacts import usage_prefix
from coursegen.domain.prompts import Prompt
from coursegen.models import utc_now
from coursegen.ports import Llm, LlmReply, PayloadStore

log = logging.getLogger(__name__)

# The calls of the invocation running in this context; None outside one (a service called directly).
_meter: ContextVar[list[dict] | None] = ContextVar("coursegen_meter", default=None)


class MeteredLlm:
    """An Llm that notes each call in the current invocation's meter, and answers as `inner` does."""

    def __init__(self, inner: Llm) -> None:
        self.inner = inner
        self.name = inner.name

    def complete(self, prompt: Prompt) -> LlmReply:
        started = time.perf_counter()
        try:
            reply = self.inner.complete(prompt)
        except Exception as error:  # a refused or failed call cost time, and is evidence too
            _note(prompt, started, error=type(error).__name__)
            raise
        _note(prompt, started, input_tokens=reply.input_tokens, output_tokens=reply.output_tokens)
        return reply

    def __getattr__(self, name: str):
        # whatever else the inner adapter offers (a test LLM's calls, a simulated one's counters)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def metered(llm: Llm) -> Llm:
    """The LLM, metered once (wrapping a metered one again would count each call twice)."""
    return llm if isinstance(llm, MeteredLlm) else MeteredLlm(llm)


def prompt_sha256(prompt: Prompt) -> str:
    return hashlib.sha256(prompt.text.encode("utf-8")).hexdigest()


def _note(prompt: Prompt, started: float, *, input_tokens: int = 0, output_tokens: int = 0, error: str = "") -> None:
    calls = _meter.get()
    if calls is None:
        return
    call = {"prompt": prompt.name, "prompt_sha256": prompt_sha256(prompt), "input_tokens": input_tokens,
            "output_tokens": output_tokens, "seconds": round(time.perf_counter() - started, 3)}
    if error:
        call["error"] = error
    calls.append(call)


@contextmanager
def metered_invocation(step: str, course_id: str | None, payloads: Callable[[], PayloadStore],
                       request_id: str | None = None) -> Iterator[list[dict]]:
    """Meter one step invocation: collect its model calls, and afterwards - whether it succeeded or
    failed - write them as one usage record. payloads: how to get the store, asked only to write.

    A step that asked no model writes nothing (its role need not write to the bucket at all), and
    a record that cannot be written never fails the step: it is logged, the step's result stands."""
    calls: list[dict] = []
    token = _meter.set(calls)
    started_at, started = utc_now(), time.perf_counter()
    error = ""
    try:
        yield calls
    except BaseException as failure:
        error = type(failure).__name__
        raise
    finally:
        _meter.reset(token)
        if course_id and calls:
            record = {"step": step, "started_at": started_at, "seconds": round(time.perf_counter() - started, 3),
                      "ok": not error, "calls": calls}
            if error:
                record["error"] = error  # the class name only: the ASL error name, never the message's text
            _write(payloads, usage_key(course_id, step, request_id), record)


def usage_key(course_id: str, step: str, request_id: str | None = None) -> str:
    """One object per invocation: a retried step (a new request id) adds a record, never replaces one."""
    return f"{usage_prefix(course_id)}{step}/{request_id or uuid.uuid4()}.json"


def _write(payloads: Callable[[], PayloadStore], key: str, record: dict) -> None:
    try:
        payloads().put_text(key, json.dumps(record), "application/json")
    except Exception as error:  # noqa: BLE001 - the evidence is lost, the step is not
        log.warning("usage record %s not written: %s: %s", key, type(error).__name__, error)
