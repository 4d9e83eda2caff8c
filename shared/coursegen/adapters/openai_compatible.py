"""Any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, ...): chat completions and embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from coursegen.domain.prompts import Prompt
from coursegen.errors import LlmOutputInvalid, LlmThrottled, LlmUnavailable
from coursegen.ports import LlmReply


class OpenAICompatibleClient:
    def __init__(self, base_url: str, api_key: str = "", timeout_seconds: float = 120.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_seconds)

    def post(self, path: str, body: dict) -> dict:
        try:
            response = self.http.post(path, json=body)
        except httpx.TimeoutException as error:
            raise LlmUnavailable(f"{self.base_url}{path} timed out: {error}") from error
        except httpx.TransportError as error:
            raise LlmUnavailable(f"{self.base_url}{path} unreachable: {error}") from error
        if response.status_code == 429:
            raise LlmThrottled(f"{self.base_url}{path} answered 429 Too Many Requests")
        if response.status_code >= 500:
            raise LlmUnavailable(f"{self.base_url}{path} answered {response.status_code}")
        if response.status_code >= 400:
            raise LlmOutputInvalid(f"{self.base_url}{path} answered {response.status_code}: {response.text[:300]}")
        return response.json()


class OpenAICompatibleLlm:
    def __init__(self, client: OpenAICompatibleClient, model: str, *, temperature: float = 0.3) -> None:
        self.client = client
        self.model = model
        self.temperature = temperature
        self.name = f"openai-compatible:{model}"

    def complete(self, prompt: Prompt) -> LlmReply:
        body = self.client.post(
            "/chat/completions",
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt.text}],
                "max_tokens": prompt.max_tokens,
                "temperature": self.temperature,
            },
        )
        try:
            choice = body["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise LlmOutputInvalid(f"{self.name}: unexpected response shape {str(body)[:200]}") from None
        usage = body.get("usage") or {}
        return LlmReply(
            text, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0), truncated=choice.get("finish_reason") == "length"
        )


class OpenAICompatibleEmbedder:
    def __init__(self, client: OpenAICompatibleClient, model: str, dimension: int) -> None:
        self.client = client
        self.model_id = model
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        body = self.client.post("/embeddings", {"model": self.model_id, "input": list(texts)})
        vectors = [item["embedding"] for item in sorted(body["data"], key=lambda item: item["index"])]
        if any(len(v) != self.dimension for v in vectors):
            raise LlmOutputInvalid(
                f"{self.model_id} returned {len(vectors[0])}-dimension embeddings; EMBEDDING_DIM is {self.dimension}."
            )
        return vectors
