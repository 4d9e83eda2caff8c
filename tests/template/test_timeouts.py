"""Nothing waits forever, and every Retry names an error the services really raise.

The chain, checked here: one model call (LLM_TIMEOUT_SECONDS) x the client's tries (LLM_ATTEMPTS) x
(1 + LLM_MAX_REPAIRS) fits in its Lambda's Timeout; each Lambda Task's TimeoutSeconds is longer
than its function's Timeout (Step Functions never abandons a function still running); the
machine's TimeoutSeconds bounds the whole course; the status read asks Step Functions once a
record has not moved for longer than any Task may run.
"""

from __future__ import annotations

import inspect
import json
import re

import pytest

from coursegen import errors
from coursegen.config import Settings
from coursegen.domain.lifecycle import MAX_OUTLINE_REPLANS, MAX_REVIEW_ROUNDS
from coursegen.services.courses import STALE_AFTER_SECONDS
from coursegen_local.template import PROJECT_ROOT
from tests.template.test_template import ASL, MACHINE, STATES, TEMPLATE, all_states

LLM_STEPS = {"PlanParts", "ExpandPart", "ReviewOutline", "GenerateBatchContent", "ProcessBatchVisuals", "WriteLab",
             "GenerateQuiz", "GenerateLandingPage"}  # the steps that call the model
DOMAIN_ERRORS = {name for name, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, errors.CoursegenError)}
# The error names Step Functions gives each integration's failures (AWS docs: "Handle Lambda service
# exceptions", the DynamoDB UpdateItem errors as DynamoDB.<name>, "EventBridge.FailedEntry").
SERVICE_ERRORS = {
    "arn:aws:states:::lambda:invoke": {"Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException",
                                       "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                                       "Lambda.TooManyRequestsException", "Lambda.Unknown", "Sandbox.Timedout"},
    "arn:aws:states:::dynamodb:updateItem": {"DynamoDB.ProvisionedThroughputExceededException", "DynamoDB.ThrottlingException",
                                             "DynamoDB.RequestLimitExceeded", "DynamoDB.InternalServerError",
                                             "DynamoDB.TransactionConflictException"},
    "arn:aws:states:::events:putEvents": {"EventBridge.InternalException", "EventBridge.ThrottlingException",
                                          "EventBridge.FailedEntry"},
    "arn:aws:states:::states:startExecution.sync:2": {"StepFunctions.ExecutionLimitExceededException",
                                                      "StepFunctions.SdkClientException",
                                                      "StepFunctions.AWSStepFunctionsException"},
}
SERVICE_ERRORS["arn:aws:states:::lambda:invoke.waitForTaskToken"] = SERVICE_ERRORS["arn:aws:states:::lambda:invoke"]
SERVICE_ERRORS["arn:aws:states:::states:startExecution"] = SERVICE_ERRORS["arn:aws:states:::states:startExecution.sync:2"]
CONTENT = json.loads((PROJECT_ROOT / TEMPLATE.resources["CourseContentStateMachine"]["Properties"]["DefinitionUri"]).read_text())
PUBLISHING = json.loads((PROJECT_ROOT / TEMPLATE.resources["CoursePublishingStateMachine"]["Properties"]["DefinitionUri"]).read_text())
REVIEW = json.loads((PROJECT_ROOT / TEMPLATE.resources["CourseReviewStateMachine"]["Properties"]["DefinitionUri"]).read_text())
# Every Task of every machine (the stages' names do not clash with the course workflow's).
TASKS = {name: state for name, state in (STATES | all_states(CONTENT["States"]) | all_states(PUBLISHING["States"])
                                         | all_states(REVIEW["States"])).items() if state["Type"] == "Task"}
# The waits for a person (.waitForTaskToken): timed by ReviewTimeoutDays (TimeoutSecondsPath), not by a step's limit.
WAITS = {name: state for name, state in TASKS.items() if state["Resource"].endswith(".waitForTaskToken")}
STEPS = {name: state for name, state in TASKS.items() if name not in WAITS}
MAX_REVIEW_SECONDS = max(int(days) for days in TEMPLATE.doc["Parameters"]["ReviewTimeoutDays"]["AllowedValues"]) * 86400


def function_timeout(state: dict) -> int:
    key = re.fullmatch(r"\$\{(\w+)\}", state["Parameters"]["FunctionName"]).group(1).removesuffix("Arn")
    props = TEMPLATE.resources[key]["Properties"]
    return int(props.get("Timeout", TEMPLATE.doc["Globals"]["Function"]["Timeout"]))


def test_the_machine_and_every_task_have_a_timeout():
    assert 0 < ASL["TimeoutSeconds"] <= 24 * 3600 + (1 + MAX_OUTLINE_REPLANS) * MAX_REVIEW_SECONDS
    assert all(isinstance(state.get("TimeoutSeconds"), int) for state in STEPS.values()), sorted(
        name for name, state in STEPS.items() if "TimeoutSeconds" not in state)
    # a wait is timed from the settings, which hold ReviewTimeoutDays in seconds
    assert set(WAITS) == {"AwaitOutlineApproval", "AwaitReviewDecision"}
    assert {state["TimeoutSecondsPath"] for state in WAITS.values()} == {"$.settings.review_timeout_seconds",
                                                                        "$.review.timeout_seconds"}


def test_the_review_window_fits_in_the_course_record_that_keeps_its_token():
    from coursegen.models import STATE_TTL_SECONDS

    days = TEMPLATE.doc["Parameters"]["ReviewTimeoutDays"]["AllowedValues"]
    assert {d: TEMPLATE.doc["Mappings"]["ReviewTimeouts"][d]["Seconds"] for d in days} == {d: int(d) * 86400 for d in days}
    assert MAX_REVIEW_SECONDS + 86400 <= STATE_TTL_SECONDS  # the token is kept a day past the wait


def test_the_review_machine_outlasts_its_waits_and_their_rewrites():
    rounds = 1 + MAX_REVIEW_ROUNDS  # the first wait and one per request for changes
    rewrite = sum(state["TimeoutSeconds"] for name, state in all_states(REVIEW["States"]).items()
                  if name in STEPS and name != "ExpireReview")
    assert REVIEW["TimeoutSeconds"] > rounds * (MAX_REVIEW_SECONDS + rewrite)


@pytest.mark.parametrize("name", sorted(n for n, s in STEPS.items() if s["Resource"].endswith("lambda:invoke")))
def test_a_lambda_task_outlasts_its_function(name):
    assert TASKS[name]["TimeoutSeconds"] > function_timeout(TASKS[name]), name


@pytest.mark.parametrize("name", sorted(LLM_STEPS))
def test_a_model_step_fits_its_worst_case_in_its_function_timeout(name):
    settings = Settings()
    worst = settings.llm_timeout_seconds * settings.llm_attempts * (1 + settings.llm_max_repairs)
    assert worst < function_timeout(TASKS[name]), f"{name}: {worst} s of model calls in {function_timeout(TASKS[name])} s"


def test_the_status_read_waits_longer_than_any_task_before_asking_step_functions():
    # The content stage's own Task (WriteLessons) runs long, but every lesson in it writes the record.
    steps = [state for state in STEPS.values() if state["Resource"] != "arn:aws:states:::states:startExecution.sync:2"]
    assert STALE_AFTER_SECONDS > max(state["TimeoutSeconds"] for state in steps)
    assert STALE_AFTER_SECONDS < ASL["TimeoutSeconds"]


def test_the_machine_outlasts_one_pass_of_its_serial_spine():
    # Every Task once (the Maps' once per round of MaxConcurrency is the bench's concern); the
    # content stage is one Task of the course workflow, which outlasts the stage's own timeout.
    outline_tasks = {name: state for name, state in STATES.items() if state["Type"] == "Task" and name not in WAITS}
    waits = (1 + MAX_OUTLINE_REPLANS) * MAX_REVIEW_SECONDS  # review_outline: the first plan and each re-plan wait
    assert ASL["TimeoutSeconds"] > sum(state["TimeoutSeconds"] for state in outline_tasks.values()) + waits
    for task, stage in (("WriteLessons", CONTENT), ("BuildCourseArtifacts", PUBLISHING)):
        assert outline_tasks[task]["TimeoutSeconds"] > stage["TimeoutSeconds"], task
        stage_tasks = {name: state for name, state in all_states(stage["States"]).items() if state["Type"] == "Task"}
        assert stage["TimeoutSeconds"] > sum(state["TimeoutSeconds"] for state in stage_tasks.values()), task


@pytest.mark.parametrize("name", sorted(TASKS))
def test_retries_name_only_errors_the_integration_or_our_code_raises(name):
    state = TASKS[name]
    known = SERVICE_ERRORS[state["Resource"]] | (DOMAIN_ERRORS if ":lambda:invoke" in state["Resource"] else set())
    for retry in state["Retry"]:
        assert set(retry["ErrorEquals"]) <= known, (name, set(retry["ErrorEquals"]) - known)
        assert "States.TaskFailed" not in retry["ErrorEquals"] and "States.ALL" not in retry["ErrorEquals"]


@pytest.mark.parametrize("name", sorted(n for n, s in TASKS.items() if ":lambda:invoke" in s["Resource"]))
def test_a_function_that_ran_out_of_time_is_tried_once_more_at_most(name):
    for retry in TASKS[name]["Retry"]:
        if {"Sandbox.Timedout", "Lambda.Unknown"} & set(retry["ErrorEquals"]):
            assert retry["MaxAttempts"] <= 1, name
    assert any("Sandbox.Timedout" in r["ErrorEquals"] for r in TASKS[name]["Retry"]), name


def test_the_machine_type_is_standard():
    assert MACHINE["Type"] == "STANDARD"  # Express executions end at 5 minutes, whatever TimeoutSeconds says
