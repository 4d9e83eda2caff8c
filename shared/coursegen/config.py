"""Configuration from the environment: every variable the service reads, in one place.
The README's configuration table is this class."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field, ValidationError

from coursegen.errors import ConfigurationError


class Settings(BaseModel):
    llm_provider: str = Field("offline", pattern="^(offline|simulated|bedrock|openai)$")
    simulated_llm_first_token_seconds: float = Field(0.5, ge=0, le=60)
    simulated_llm_seconds_per_token: float = Field(0.002, ge=0, le=1)
    llm_model_id: str = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    embeddings_provider: str = Field("wordllama", pattern="^(wordllama|bedrock|openai)$")
    embedding_model_id: str = "amazon.titan-embed-text-v2:0"
    embedding_dim: int = Field(256, ge=8, le=4096)
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_api_key: str = ""
    openai_model: str = "llama3.1"
    openai_embedding_model: str = "nomic-embed-text"
    database_url: str = ""
    db_secret_arn: str = ""
    db_host: str = ""
    db_name: str = "coursegen"
    course_state_table: str = "coursegen-course-state"
    payload_bucket: str = "coursegen-payloads"
    state_machine_arn: str = ""
    event_bus_name: str = "coursegen-events"
    staging_bucket: str = "coursegen-staging"
    # where the staging bucket is served: the CloudFront distribution in AWS, `coursegen serve` offline
    staging_base_url: str = Field("http://127.0.0.1:8080/staging/", pattern=r"^https?://[^\s]+/$")
    # where published sites are served (the staging bucket's sites/ folder, on the same distribution)
    site_base_url: str = Field("http://127.0.0.1:8080/sites/", pattern=r"^https?://[^\s]+/$")
    review_state_machine_arn: str = ""  # the review stage (POST /courses/{id}/review {decision: submit} starts it)
    inline_exports: bool = False  # GET /courses/{id}/exports/{format}: the file itself (offline), not a presigned URL
    search_top_k: int = Field(8, ge=1, le=50)
    search_min_similarity: float = Field(0.28, ge=-1, le=1)  # docs/grounding-calibration.md (make calibrate)
    search_ef_search: int = Field(200, ge=10, le=1000)
    llm_max_repairs: int = Field(2, ge=0, le=5)
    llm_timeout_seconds: float = Field(120, gt=0, le=900)  # one model call, read timeout
    llm_attempts: int = Field(2, ge=1, le=5)  # tries per model call by the client (Bedrock: botocore's max_attempts)
    aws_region: str = "us-east-1"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(f"{e['loc'][0]!s}".upper() + f": {e['msg']}" for e in error.errors())
            raise ConfigurationError(f"Bad configuration: {problems}") from None
