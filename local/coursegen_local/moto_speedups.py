"""Work moto repeats on every execution or request, done once while the runner is open.

moto 5.2.5 re-parses the whole ASL definition with ANTLR at every StartExecution, builds a new
PLY JSONPath parser for every path it reads, creates a boto3 client for every service-integration
call, and rebuilds each backend's URL table (for S3, by reloading moto.s3.urls) on every request.
None of it changes while the runner is open, so the runner caches it: measured with
`python -m bench`, this halves the CPU a course costs offline (the figures are in the report).
Behaviour is unchanged: the parsed program is stateless (moto already shares it between
concurrent Map iterations), JSONPath expressions are immutable, boto3 clients are thread-safe.

Each replacement is one of coursegen_local.moto_internals' names, which
tests/workflow/test_moto_contract.py checks.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import boto3
from coursegen_local import moto_internals as moto


def replacements() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for the four caches, with caches that live as long as
    the replacements do (the runner puts the originals back when it closes)."""
    parse_program = functools.lru_cache(maxsize=8)(moto.parse_program)

    def evaluation_entrypoint(worker) -> Any:
        return parse_program(moto.state_machine_definition(worker))

    return [
        (*moto.PROGRAM_PARSE, evaluation_entrypoint),
        (*moto.JSON_PATH_PARSE, functools.lru_cache(maxsize=512)(moto.original(moto.JSON_PATH_PARSE))),
        (*moto.EVENTS_INTEGRATION_CLIENT, integration_clients()),
        (*moto.BACKEND_URLS, property(_per_instance(moto.original(moto.BACKEND_URLS).fget))),
    ]


def integration_clients() -> Callable[..., Any]:
    """moto's boto_client_for (region, service, credentials), one client per service and region."""
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = boto3.client(service, region_name=region)
            return clients[(region, service)]

    return client_for


def _per_instance(compute: Callable[[Any], Any]) -> Callable[[Any], Any]:
    cache: dict[int, tuple[Any, Any]] = {}

    def cached(instance: Any) -> Any:
        entry = cache.get(id(instance))
        if entry is None or entry[0] is not instance:
            entry = cache[id(instance)] = (instance, compute(instance))
        return entry[1]

    return cached
