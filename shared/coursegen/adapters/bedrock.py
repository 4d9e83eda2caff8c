"""Amazon Bedrock: the Converse API for generation, Titan Text Embeddings v2 for embeddings."""

from __future__ import annotations

import json
from collections.abc import Sequence

from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from coursegen.domain.prompts import Prompt
from coursegen.errors import ConfigurationError, LlmOutputInvalid, LlmThrottled, LlmUnavailable
from coursegen.ports import LlmReply

_THROTTLED = {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"}
_UNAVAILABLE = {"ServiceUnavailableException", "InternalServerException", "ModelNotReadyException", "ModelTimeoutException"}
_MISCONFIGURED = {"ValidationException", "AccessDeniedException", "ResourceNotFoundException"}


def _translate(error: Exception, model_id: str) -> Exception:
    if isinstance(error, (EndpointConnectionError, ReadTimeoutError)):
        return LlmUnavailable(f"Bedrock {model_id}: {error}")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in _THROTTLED:
            return LlmThrottled(f"Bedrock {model_id} throttled: {code}")
        if code in _UNAVAILABLE:
            return LlmUnavailable(f"Bedrock {model_id} unavailable: {code}")
        if code in _MISCONFIGURED:
            message = error.response.get("Error", {}).get("Message", "")
            return ConfigurationError(
                f"Bedrock refused {model_id} ({code}: {message}). Check LLM_MODEL_ID / EMBEDDING_MODEL_ID, model access in "
                "the Bedrock console, and that in-region-only models are called through an inference profile (us.…)."
            )
    return error


class BedrockLlm:
    def __init__(self, client, model_id: str, *, temperature: float = 0.3) -> None:
        self.client = client
        self.model_id = model_id
        self.temperature = temperature
        self.name = f"bedrock:{model_id}"

    def complete(self, prompt: Prompt) -> LlmReply:
        try:
            response = self.client.converse(
                modelId=self.model_id,
                messages=[{"role": "user", "content": [{"text": prompt.text}]}],
                inferenceConfig={"maxTokens": prompt.max_tokens, "temperature": self.temperature},
            )
        except (ClientError, EndpointConnectionError, ReadTimeoutError) as error:
            raise _translate(error, self.model_id) from error
        blocks = response.get("output", {}).get("message", {}).get("content", [])
        text = "".join(block.get("text", "") for block in blocks)
        if not text:
            raise LlmOutputInvalid(f"Bedrock {self.model_id} returned no text (stopReason={response.get('stopReason')}).")
        usage = response.get("usage", {})
        return LlmReply(
            text, usage.get("inputTokens", 0), usage.get("outputTokens", 0), truncated=response.get("stopReason") == "max_tokens"
        )


class TitanEmbedder:
    """amazon.titan-embed-text-v2:0; dimension 256, 512 or 1024 (must match the books table)."""

    def __init__(self, client, model_id: str = "amazon.titan-embed-text-v2:0", dimension: int = 256) -> None:
        self.client = client
        self.model_id = f"{model_id}/{dimension}"
        self._model = model_id
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:  # Titan v2 embeds one text per call
            try:
                response = self.client.invoke_model(
                    modelId=self._model,
                    body=json.dumps({"inputText": text, "dimensions": self.dimension, "normalize": True}),
                    contentType="application/json",
                    accept="application/json",
                )
            except (ClientError, EndpointConnectionError, ReadTimeoutError) as error:
                raise _translate(error, self._model) from error
            vectors.append(json.loads(response["body"].read())["embedding"])
        return vectors
