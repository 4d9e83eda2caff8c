"""Test doubles. The scripted LLM stands in for a model where a test says so: it answers from a
script per prompt, and hands anything unscripted to the offline planner."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

from coursegen.adapters.offline import OfflinePlanner
from coursegen.domain.prompts import Prompt
from coursegen.ports import LlmReply

# A step in a script: a text to answer with, an exception to raise, a function of the planner's
# answer (to distort it), or None to let the offline planner answer.
Step = str | Exception | Callable[[str], str] | None


class ScriptedLlm:
    name = "scripted test LLM"

    def __init__(self, script: dict[str, list[Step]] | None = None, *, fallback: Callable[[Prompt], Step] | None = None):
        self.script = {name: list(steps) for name, steps in (script or {}).items()}
        self.fallback = fallback
        self.planner = OfflinePlanner()
        self.calls: dict[str, list[Prompt]] = defaultdict(list)
        self._lock = threading.Lock()

    def complete(self, prompt: Prompt) -> LlmReply:
        with self._lock:
            self.calls[prompt.name].append(prompt)
            steps = self.script.get(prompt.name)
            step = steps.pop(0) if steps else (self.fallback(prompt) if self.fallback else None)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, str):
            return LlmReply(step, 10, 10)
        answer = self.planner.complete(prompt)
        return LlmReply(step(answer.text), 10, 10) if callable(step) else answer
