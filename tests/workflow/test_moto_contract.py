"""The offline runner replaces or reads a few moto internals, all named in
coursegen_local.moto_internals. If moto moves one, the test for that name fails here."""

import inspect

import pytest
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from coursegen_local import moto_internals as moto

# What each replaced name must still be, beyond existing: the signature the replacement has, or
# the call site in moto that makes the replacement take effect.
CONTRACTS = {
    "INVOKE_LAMBDA": lambda f: list(inspect.signature(f).parameters) == ["parameters", "region", "state_credentials"]
    and "_invoke_lambda_function(" in inspect.getsource(lambda_eval_utils.execute_lambda_function_integration),
    "RETRY_CLOCK": lambda clock: hasattr(clock, "sleep")
    and "time.sleep(interval_seconds)" in inspect.getsource(moto.RETRY_CLOCK[0].RetrierDecl._eval_body),
    "EXECUTION_BODY": lambda body: list(inspect.signature(body).parameters) == ["self"]
    and "self._execution_logic" in inspect.getsource(ExecutionWorker.start)
    and "self._execution_communication.terminated()" in inspect.getsource(body),
    "DYNAMODB_INTEGRATION_CLIENT": lambda f: list(inspect.signature(f).parameters)[:2] == ["region", "service"],
    "PROGRAM_PARSE": lambda f: "AmazonStateLanguageParser.parse(" in inspect.getsource(f)
    and "self._get_evaluation_entrypoint()" in inspect.getsource(ExecutionWorker._execution_logic),
    "JSON_PATH_PARSE": callable,
    "EVENTS_INTEGRATION_CLIENT": lambda f: list(inspect.signature(f).parameters)[:2] == ["region", "service"],
    "BACKEND_URLS": lambda prop: isinstance(prop, property),
}


def test_every_replaced_name_has_a_contract():
    assert set(CONTRACTS) == set(moto.REPLACED)


@pytest.mark.parametrize("name", sorted(moto.REPLACED))
def test_replaced_name_is_where_the_runner_expects_it(name):
    owner, attribute = moto.REPLACED[name]
    assert hasattr(owner, attribute), f"moto moved {owner.__name__}.{attribute}: update coursegen_local/moto_internals.py"
    assert CONTRACTS[name](getattr(owner, attribute)), f"moto changed {owner.__name__}.{attribute} ({name})"


# Where moto itself reads or calls what the runner reads or calls.
READ_IN_MOTO = {"execution_arn": "self._evaluation_details.execution_details.arn",
                "state_machine_definition": "self._evaluation_details.state_machine_details.definition",
                "parse_program": "AmazonStateLanguageParser.parse("}


def test_every_read_name_has_a_contract():
    assert set(READ_IN_MOTO) == set(moto.READ)


@pytest.mark.parametrize("name", sorted(moto.READ))
def test_read_name_is_where_the_runner_expects_it(name):
    source = "".join(inspect.getsource(f) for f in (
        ExecutionWorker.__init__, ExecutionWorker._get_evaluation_environment, ExecutionWorker._get_evaluation_entrypoint))
    assert "self._evaluation_details = evaluation_details" in source
    assert READ_IN_MOTO[name] in source, name


def test_the_parsed_program_is_what_moto_evaluates():
    program = moto.parse_program('{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}')
    assert hasattr(program, "eval")
