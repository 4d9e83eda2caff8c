"""The offline runner replaces a few moto internals. If moto moves one, fail loudly here."""

import inspect

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from coursegen_local import runner


def test_the_lambda_invocation_hook_is_where_the_runner_expects_it():
    hook = getattr(lambda_eval_utils, runner._INVOKE_HOOK, None)
    assert hook is not None, "moto moved _invoke_lambda_function: update coursegen_local/runner.py"
    assert list(inspect.signature(hook).parameters) == ["parameters", "region", "state_credentials"]
    assert "_invoke_lambda_function(" in inspect.getsource(lambda_eval_utils.execute_lambda_function_integration)


def test_retry_waits_go_through_the_module_time_the_runner_scales():
    assert "time.sleep(interval_seconds)" in inspect.getsource(retrier_decl.RetrierDecl._eval_body)


def test_what_the_runner_caches_is_still_where_moto_keeps_it():
    from coursegen_local import moto_speedups
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    for owner, name in moto_speedups.REPLACED:
        assert hasattr(owner, name), f"moto moved {owner.__name__}.{name}: update coursegen_local/moto_speedups.py"
    assert "AmazonStateLanguageParser.parse(" in inspect.getsource(ExecutionWorker._get_evaluation_entrypoint)
    assert "self._get_evaluation_entrypoint()" in inspect.getsource(ExecutionWorker._execution_logic)
