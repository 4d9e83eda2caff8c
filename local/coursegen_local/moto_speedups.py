"""Work moto repeats on every execution or request, done once while the runner is open.

moto 5.2.5 re-parses the whole ASL definition with ANTLR at every StartExecution, builds a new
PLY JSONPath parser for every path it reads, creates a boto3 client for every service-integration
call, and rebuilds each backend's URL table (for S3, by reloading moto.s3.urls) on every request.
None of it changes while the runner is open, so the runner caches it: measured with
`python -m bench`, this halves the CPU a course costs offline (the figures are in the report).
Behaviour is unchanged: the parsed program is stateless (moto already shares it between
concurrent Map iterations), JSONPath expressions are immutable, boto3 clients are thread-safe.

Each replacement names a moto internal; tests/workflow/test_moto_contract.py fails loudly if
moto moves one.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import boto3
from moto.core.base_backend import BaseBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_events
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

# (owner, attribute) pairs the runner replaces; the contract test checks they still exist.
REPLACED = [
    (ExecutionWorker, "_get_evaluation_entrypoint"),
    (json_path, "parse"),
    (state_task_service_events, "boto_client_for"),
    (BaseBackend, "urls"),
]


def replacements() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for each of REPLACED, with caches that live as long as
    the replacements do (the runner puts the originals back when it closes)."""
    parse_program = functools.lru_cache(maxsize=8)(lambda definition: AmazonStateLanguageParser.parse(definition)[0])

    def evaluation_entrypoint(worker: ExecutionWorker):
        return parse_program(worker._evaluation_details.state_machine_details.definition)

    return [
        (ExecutionWorker, "_get_evaluation_entrypoint", evaluation_entrypoint),
        (json_path, "parse", functools.lru_cache(maxsize=512)(json_path.parse)),
        (state_task_service_events, "boto_client_for", integration_clients()),
        (BaseBackend, "urls", property(_per_instance(BaseBackend.urls.fget))),
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
