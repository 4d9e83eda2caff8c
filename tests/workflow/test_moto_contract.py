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
    "SFN_PARAMETERS": lambda f: list(inspect.signature(f).parameters)[:2] == ["self", "parameters"],
    "SFN_CALL": lambda f: "env.stack.append(response)" in inspect.getsource(f),
    "SFN_SYNC2_RESULT": lambda f: 'submission_output["ExecutionArn"]' in inspect.getsource(f),
    "S3_KEY_VERSIONS": lambda f: list(inspect.signature(f).parameters) == ["self", "key", "list_"]
    and "existing_version.dispose()" in inspect.getsource(f),
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
                "state_machine_arn": "self._evaluation_details.state_machine_details.arn",
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


def test_the_sync2_integration_fix_lets_a_parent_run_a_child_to_its_end():
    import json
    import time

    import boto3
    from moto import mock_aws

    from coursegen_local import moto_fixes

    child = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"book": {"lessons": 3}}, "End": True}}}
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        patched = [(owner, name, getattr(owner, name)) for owner, name, _ in moto_fixes.replacements()]
        for owner, name, replacement in moto_fixes.replacements():
            setattr(owner, name, replacement)
        try:
            sfn = boto3.client("stepfunctions", region_name="us-east-1")
            role = "arn:aws:iam::123456789012:role/x"
            child_arn = sfn.create_state_machine(name="child", roleArn=role, definition=json.dumps(child))["stateMachineArn"]
            parent = {"StartAt": "T", "States": {"T": {
                "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child_arn, "Name.$": "States.Format('{}-child', $$.Execution.Name)",
                               "Input": {"course_id.$": "$.c"}},
                "ResultSelector": {"lessons.$": "$.Output.book.lessons"}, "End": True}}}
            parent_arn = sfn.create_state_machine(name="parent", roleArn=role, definition=json.dumps(parent))["stateMachineArn"]
            execution = sfn.start_execution(stateMachineArn=parent_arn, name="e1", input='{"c": "x"}')["executionArn"]
            for _ in range(100):
                described = sfn.describe_execution(executionArn=execution)
                if described["status"] != "RUNNING":
                    break
                time.sleep(0.05)
        finally:
            for owner, name, original in reversed(patched):
                setattr(owner, name, original)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"lessons": 3}), described


def test_an_object_read_while_another_thread_overwrites_it_reads_whole():
    """moto closes a replaced object's buffer at once; with the fix a reader holding it still reads it."""
    import boto3
    from moto import mock_aws

    from coursegen_local import moto_fixes

    with mock_aws():
        patched = [(owner, name, getattr(owner, name)) for owner, name, _ in moto_fixes.replacements()]
        for owner, name, replacement in moto_fixes.replacements():
            setattr(owner, name, replacement)
        try:
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="contract-bucket")
            s3.put_object(Bucket="contract-bucket", Key="k", Body=b"first")
            from moto.s3.models import s3_backends

            backend = s3_backends["123456789012"]["aws"]
            held = backend.get_object("contract-bucket", "k")  # what a GetObject in flight holds
            s3.put_object(Bucket="contract-bucket", Key="k", Body=b"second")
            assert held.value == b"first"  # without the fix: ValueError: I/O operation on closed file
            assert s3.get_object(Bucket="contract-bucket", Key="k")["Body"].read() == b"second"
        finally:
            for owner, name, original in reversed(patched):
                setattr(owner, name, original)
