"""The real Bedrock and OpenAI-compatible adapters: requests they send, answers they read, and
provider errors turned into domain errors."""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest
from botocore.stub import Stubber

from coursegen.adapters.bedrock import BedrockLlm, TitanEmbedder
from coursegen.adapters.openai_compatible import OpenAICompatibleClient, OpenAICompatibleEmbedder, OpenAICompatibleLlm
from coursegen.domain.prompts import Prompt
from coursegen.errors import ConfigurationError, LlmOutputInvalid, LlmThrottled, LlmUnavailable

PROMPT = Prompt(name="courses.generate_parts", text="Plan a course", variables={}, max_tokens=100)


# -- Bedrock: botocore's Stubber stands in for the service (no AWS account here) ------------------
@pytest.fixture
def bedrock():
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub


def converse_answer(text: str, stop_reason: str, input_tokens: int, output_tokens: int) -> dict:
    """What Bedrock's Converse API answers, in the shape botocore validates."""
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": stop_reason,
            "usage": {"inputTokens": input_tokens, "outputTokens": output_tokens, "totalTokens": input_tokens + output_tokens},
            "metrics": {"latencyMs": 5}}


def test_bedrock_converse_request_and_answer(bedrock):
    client, stub = bedrock
    stub.add_response(
        "converse",
        converse_answer("Part 1: A (30 minutes)", "end_turn", 12, 7),
        {"modelId": "m", "messages": [{"role": "user", "content": [{"text": "Plan a course"}]}],
         "inferenceConfig": {"maxTokens": 100, "temperature": 0.3}},
    )
    reply = BedrockLlm(client, "m").complete(PROMPT)
    assert (reply.text, reply.input_tokens, reply.output_tokens) == ("Part 1: A (30 minutes)", 12, 7)


def test_bedrock_flags_an_answer_cut_off_at_max_tokens(bedrock):
    client, stub = bedrock
    stub.add_response("converse", converse_answer("Part 1: A (30 min", "max_tokens", 1, 100))
    assert BedrockLlm(client, "m").complete(PROMPT).truncated


@pytest.mark.parametrize(("code", "error"), [("ThrottlingException", LlmThrottled), ("ServiceUnavailableException", LlmUnavailable),
                                             ("ValidationException", ConfigurationError), ("AccessDeniedException", ConfigurationError)])
def test_bedrock_errors_become_domain_errors(bedrock, code, error):
    client, stub = bedrock
    stub.add_client_error("converse", service_error_code=code, http_status_code=429)
    with pytest.raises(error):
        BedrockLlm(client, "m").complete(PROMPT)


def test_titan_embeddings_ask_for_the_configured_dimension(bedrock):
    client, stub = bedrock
    body = io.BytesIO(json.dumps({"embedding": [0.1] * 256}).encode())
    from botocore.response import StreamingBody
    stub.add_response(
        "invoke_model", {"body": StreamingBody(body, len(body.getvalue())), "contentType": "application/json"},
        {"modelId": "amazon.titan-embed-text-v2:0", "body": json.dumps({"inputText": "DCF", "dimensions": 256, "normalize": True}),
         "contentType": "application/json", "accept": "application/json"},
    )
    assert len(TitanEmbedder(client, dimension=256).embed(["DCF"])[0]) == 256


# -- OpenAI-compatible: a real HTTP server on loopback speaking the protocol ------------------------
class _Server(BaseHTTPRequestHandler):
    answers: list = []
    seen: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Server.seen.append((self.path, body, self.headers.get("Authorization")))
        status, payload = _Server.answers.pop(0)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Server.answers, _Server.seen = [], []
    yield _Server, f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()


def test_openai_flags_an_answer_cut_off_at_the_length_limit(server):
    handler, url = server
    handler.answers.append((200, {"choices": [{"message": {"content": "Part 1"}, "finish_reason": "length"}]}))
    assert OpenAICompatibleLlm(OpenAICompatibleClient(url), "m").complete(PROMPT).truncated


def test_openai_chat_completion(server):
    handler, url = server
    handler.answers.append((200, {"choices": [{"message": {"content": "Part 1: A (30 minutes)"}}],
                                  "usage": {"prompt_tokens": 5, "completion_tokens": 6}}))
    reply = OpenAICompatibleLlm(OpenAICompatibleClient(url, "secret"), "llama3.1").complete(PROMPT)
    assert (reply.text, reply.input_tokens, reply.output_tokens) == ("Part 1: A (30 minutes)", 5, 6)
    path, body, auth = handler.seen[0]
    assert path == "/v1/chat/completions" and body["model"] == "llama3.1" and body["max_tokens"] == 100
    assert auth == "Bearer secret"


@pytest.mark.parametrize(("status", "error"), [(429, LlmThrottled), (503, LlmUnavailable), (400, LlmOutputInvalid)])
def test_openai_http_errors_become_domain_errors(server, status, error):
    handler, url = server
    handler.answers.append((status, {"error": "x"}))
    with pytest.raises(error):
        OpenAICompatibleLlm(OpenAICompatibleClient(url), "m").complete(PROMPT)


def test_openai_unreachable_server_is_unavailable():
    with pytest.raises(LlmUnavailable):
        OpenAICompatibleLlm(OpenAICompatibleClient("http://127.0.0.1:9/v1", timeout_seconds=2), "m").complete(PROMPT)


def test_openai_embeddings_in_order_and_dimension_checked(server):
    handler, url = server
    handler.answers.append((200, {"data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}]}))
    embedder = OpenAICompatibleEmbedder(OpenAICompatibleClient(url), "nomic", dimension=2)
    assert embedder.embed(["a", "b"]) == [[1.0, 0.0], [0.0, 1.0]]
    handler.answers.append((200, {"data": [{"index": 0, "embedding": [1.0, 0.0, 0.0]}]}))
    with pytest.raises(LlmOutputInvalid, match="EMBEDDING_DIM"):
        embedder.embed(["a"])
