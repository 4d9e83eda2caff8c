"""Two fixes the runner applies to moto 5.2.5: its states:startExecution.sync:2 integration, and
S3 overwrites under threads.

moto passes the ASL's parameter names (StateMachineArn, Name, Input: the integration's names,
as AWS documents them) to boto3's start_execution, whose model names them stateMachineArn, name,
input, so every call fails with KeyError 'StateMachineArn' (States.Runtime); and it reads boto3's
camelCase answers where the integration's are PascalCase (ExecutionArn, Output). Checked in
tests/workflow/test_moto_contract.py with a parent machine starting a child; the fix converts
the names at the boundary and changes nothing else.

S3: overwriting an object closes the buffer of the one it replaces at once, so a GetObject of the
same key in another thread (a batch reading an earlier lesson of its part while that lesson's
visuals step rewrites it) fails with "I/O operation on closed file". S3 itself swaps the object
atomically; the fix leaves the old buffer to be closed when its last reader lets go of it.
Checked in tests/workflow/test_moto_contract.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coursegen_local import moto_internals as moto


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _pascal(answer: Any) -> Any:
    return {key[:1].upper() + key[1:]: value for key, value in answer.items()} if isinstance(answer, dict) else answer


def replacements() -> list[tuple[Any, str, Any]]:
    normalise, call, sync2 = (moto.original(p) for p in (moto.SFN_PARAMETERS, moto.SFN_CALL, moto.SFN_SYNC2_RESULT))

    def parameters_as_boto_names(self, parameters: dict, *args, **kwargs) -> None:
        normalise(self, parameters, *args, **kwargs)
        for name in list(parameters):
            parameters[_camel(name)] = parameters.pop(name)

    def answer_as_integration_names(self, env, *args, **kwargs) -> None:
        call(self, env, *args, **kwargs)
        env.stack.append(_pascal(env.stack.pop()))

    def result_as_integration_names(self, *args, **kwargs) -> Callable[[], Any]:
        resolve = sync2(self, *args, **kwargs)
        return lambda: _pascal(resolve())

    key_store = moto.S3_KEY_VERSIONS[0]

    def replace_without_closing(self, key, list_) -> None:
        replaced = [v for v in self.getlist(key, []) if v not in (list_ if isinstance(list_, list) else [list_])]
        for version in replaced:
            # marked disposed (no ResourceWarning), its buffer closed by its __del__ once unread
            version.disposed = True
        super(key_store, self).__setitem__(key, list(list_) if isinstance(list_, (list, tuple)) else [list_])

    return [
        (*moto.S3_KEY_VERSIONS, replace_without_closing),
        (*moto.SFN_PARAMETERS, parameters_as_boto_names),
        (*moto.SFN_CALL, answer_as_integration_names),
        (*moto.SFN_SYNC2_RESULT, result_as_integration_names),
    ]
