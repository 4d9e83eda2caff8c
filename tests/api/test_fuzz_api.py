"""API fuzzing: schemathesis generates requests from the committed OpenAPI document (valid and
invalid bodies, headers, query and path values) against `coursegen serve`; none may be a 5xx.
FUZZ_EXAMPLES=300 make test runs it deeper than CI's 25 examples per operation."""

import os
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

schema = schemathesis.openapi.from_path(str(Path(__file__).resolve().parents[2] / "openapi.json"))


@schema.parametrize()
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_no_generated_request_is_a_server_error(case, http_server):
    response = case.call(base_url=http_server, timeout=30)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
