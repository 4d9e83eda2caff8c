"""Test doubles. The scripted LLM stands in for a model where a test says so: it answers from a
script per prompt, and hands anything unscripted to the offline planner. MemoryPayloads is the
payload bucket as a dict."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

from coursegen.adapters.offline import OfflinePlanner
from coursegen.domain.prompts import Prompt
from coursegen.errors import PayloadMissing
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


class MemoryPayloads:
    """The PayloadStore port in memory: key -> (bytes, content type)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def put_text(self, key: str, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        self.put_bytes(key, text.encode("utf-8"), content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._lock:
            self.objects[key] = (bytes(data), content_type)

    def get_text(self, key: str) -> str:
        return self.get_bytes(key).decode("utf-8")

    def get_bytes(self, key: str) -> bytes:
        with self._lock:
            if key not in self.objects:
                raise PayloadMissing(f"{key} does not exist")
            return self.objects[key][0]

    def list_keys(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(key for key in self.objects if key.startswith(prefix))

    def delete_keys(self, keys) -> None:
        with self._lock:
            for key in keys:
                self.objects.pop(key, None)

    def presigned_url(self, key: str, seconds: int) -> str:
        return f"memory://{key}?expires={seconds}"
