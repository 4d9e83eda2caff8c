"""Every private moto name the offline runner uses, in one place (moto 5.2.5, pinned in pyproject).

moto's Step Functions interpreter has no public hooks for what the runner needs: dispatching
Lambda tasks in-process, injecting faults into its DynamoDB integration, scaling retry waits,
admitting executions, announcing their ends, and caching what it rebuilds per execution. Each
name below is a (module or class, attribute) the runner replaces or reads;
tests/workflow/test_moto_contract.py checks each one, so a moto upgrade that moves one fails
there, by name, instead of somewhere inside a workflow test.
"""

from __future__ import annotations

from typing import Any

from moto.core.base_backend import BaseBackend
from moto.s3.utils import _VersionedKeyStore
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_dynamodb,
    state_task_service_events,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

# -- replaced by the runner (runner.py) --------------------------------------------------------
# Lambda tasks: (parameters, region, state_credentials) -> the Invoke response.
INVOKE_LAMBDA = (lambda_eval_utils, "_invoke_lambda_function")
# The module-level `time` whose sleep() a Retry waits with.
RETRY_CLOCK = (retrier_decl, "time")
# The body of one execution's thread: the runner admits it (--max-running) and announces its end.
EXECUTION_BODY = (ExecutionWorker, "_execution_logic")
# The boto3 client factory of the dynamodb:updateItem integration (faults are injected there).
DYNAMODB_INTEGRATION_CLIENT = (state_task_service_dynamodb, "boto_client_for")

# -- wrapped by the fix of the states:startExecution.sync:2 integration (moto_fixes.py) -----------
SFN_PARAMETERS = (StateTaskServiceSfn, "_normalise_parameters")
SFN_CALL = (StateTaskServiceSfn, "_eval_service_task")
SFN_SYNC2_RESULT = (StateTaskServiceSfn, "_build_sync2_resolver")

# -- wrapped by the fix of S3 overwrites (moto_fixes.py) -----------------------------------------
# An unversioned bucket's keys: setlist() replaces an object's versions and closes the old ones.
S3_KEY_VERSIONS = (_VersionedKeyStore, "setlist")

# -- replaced by the caches (moto_speedups.py) ---------------------------------------------------
PROGRAM_PARSE = (ExecutionWorker, "_get_evaluation_entrypoint")
JSON_PATH_PARSE = (json_path, "parse")
EVENTS_INTEGRATION_CLIENT = (state_task_service_events, "boto_client_for")
BACKEND_URLS = (BaseBackend, "urls")

REPLACED = {
    "INVOKE_LAMBDA": INVOKE_LAMBDA,
    "RETRY_CLOCK": RETRY_CLOCK,
    "EXECUTION_BODY": EXECUTION_BODY,
    "DYNAMODB_INTEGRATION_CLIENT": DYNAMODB_INTEGRATION_CLIENT,
    "SFN_PARAMETERS": SFN_PARAMETERS,
    "SFN_CALL": SFN_CALL,
    "SFN_SYNC2_RESULT": SFN_SYNC2_RESULT,
    "S3_KEY_VERSIONS": S3_KEY_VERSIONS,
    "PROGRAM_PARSE": PROGRAM_PARSE,
    "JSON_PATH_PARSE": JSON_PATH_PARSE,
    "EVENTS_INTEGRATION_CLIENT": EVENTS_INTEGRATION_CLIENT,
    "BACKEND_URLS": BACKEND_URLS,
}


# -- read or called ------------------------------------------------------------------------------
def execution_arn(worker: ExecutionWorker) -> str:
    """The ARN of the execution a worker runs (ExecutionWorker._evaluation_details)."""
    return worker._evaluation_details.execution_details.arn


def state_machine_arn(worker: ExecutionWorker) -> str:
    """The ARN of the state machine a worker runs an execution of."""
    return worker._evaluation_details.state_machine_details.arn


def state_machine_definition(worker: ExecutionWorker) -> str:
    """The ASL text a worker runs (what PROGRAM_PARSE parses)."""
    return worker._evaluation_details.state_machine_details.definition


def parse_program(definition: str) -> Any:
    """moto's parsed program for an ASL text, as PROGRAM_PARSE builds it."""
    return AmazonStateLanguageParser.parse(definition)[0]


READ = {"execution_arn": execution_arn, "state_machine_arn": state_machine_arn,
        "state_machine_definition": state_machine_definition, "parse_program": parse_program}


def original(point: tuple[Any, str]) -> Any:
    owner, name = point
    return getattr(owner, name)
