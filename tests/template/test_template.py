"""template.yaml and the ASL agree; every Task retries and catches; the deployment validates."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from coursegen_local.template import PROJECT_ROOT, SamTemplate

TEMPLATE = SamTemplate()
_, MACHINE = TEMPLATE.state_machine
ASL_TEXT = (PROJECT_ROOT / MACHINE["DefinitionUri"]).read_text()
ASL = json.loads(ASL_TEXT)


def all_states(states: dict) -> dict:
    found = {}
    for name, state in states.items():
        found[name] = state
        if "ItemProcessor" in state:
            found |= all_states(state["ItemProcessor"]["States"])
    return found


STATES = all_states(ASL["States"])


def test_every_placeholder_is_a_substitution_and_every_substitution_is_used():
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_TEXT))
    assert placeholders == set(MACHINE["DefinitionSubstitutions"])


def test_state_names_are_pascal_case():
    assert all(re.fullmatch(r"(?:[A-Z][a-z0-9]+)+", name) for name in STATES), sorted(STATES)


def test_every_task_retries_and_catches_into_the_failure_path():
    for name, state in STATES.items():
        if state["Type"] != "Task":
            continue
        assert state.get("Retry"), f"{name} has no Retry"
        if name == "ExpandPart":  # inside the Map: the Map state catches for the whole iteration
            catch = ASL["States"]["ExpandParts"]["Catch"][0]
        else:
            catch = state["Catch"][0]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        if name.startswith("Publish"):  # an unpublished event does not undo the course
            assert catch["Next"] == state["Next"], name
        elif name == "ExplainFailure":
            assert catch["Next"] == "FailureUnexplained"
        elif name == "RecordFailure":
            assert catch["Next"] == "PublishFailed"
        elif name == "RecordComplete":  # past StoreCourse nothing fails the course (RecordExecutionEnd writes it)
            assert catch["Next"] == "PublishCompleted"
        elif name == "StartReview":  # the course is complete: a review not started leaves it a DRAFT to submit
            assert catch["Next"] == state["Next"] == "Done"
        else:
            assert catch["Next"] == "ExplainFailure", name


def test_the_failure_path_records_publishes_then_fails_unless_the_outline_was_stored():
    path, name = [], "ExplainFailure"
    while name:
        path.append(name)
        name = ASL["States"][name].get("Next") or ASL["States"][name].get("Default")
    assert path == ["ExplainFailure", "WasStored", "RecordFailure", "PublishFailed", "Failed"]
    [stored] = ASL["States"]["WasStored"]["Choices"]
    assert ASL["States"][stored["Next"]]["Next"] == "PublishOutlineCreated"


def test_lambda_retries_use_backoff_with_jitter_and_name_domain_errors():
    for name, state in STATES.items():
        if state.get("Resource") == "arn:aws:states:::lambda:invoke":
            retry = state["Retry"][0]
            assert retry["BackoffRate"] > 1 and retry["JitterStrategy"] == "FULL", name
            assert {"LlmThrottled", "Lambda.TooManyRequestsException"} <= set(retry["ErrorEquals"]), name


def test_every_lambda_task_names_a_function_of_the_template():
    functions = TEMPLATE.of_type("AWS::Serverless::Function")
    for state in STATES.values():
        if state.get("Resource") == "arn:aws:states:::lambda:invoke":
            key = re.fullmatch(r"\$\{(\w+)\}", state["Parameters"]["FunctionName"]).group(1)
            assert MACHINE["DefinitionSubstitutions"][key] == {"Fn::GetAtt": [key.removesuffix("Arn"), "Arn"]}
            assert key.removesuffix("Arn") in functions
            assert (PROJECT_ROOT / functions[key.removesuffix("Arn")]["Properties"]["CodeUri"] / "app.py").is_file()


def test_the_map_reads_its_concurrency_and_the_review_bound_from_template_parameters():
    assert ASL["States"]["ExpandParts"]["MaxConcurrencyPath"] == "$.settings.max_concurrency"
    assert MACHINE["DefinitionSubstitutions"]["MapMaxConcurrency"] == {"Ref": "MapMaxConcurrency"}
    assert TEMPLATE.parameter("MapMaxConcurrency") == "4"
    assert MACHINE["Type"] == "STANDARD"


def test_state_table_has_ttl_and_bucket_is_private_encrypted_and_expiring():
    [table] = TEMPLATE.of_type("AWS::DynamoDB::Table").values()
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    buckets = TEMPLATE.of_type("AWS::S3::Bucket")
    assert set(buckets) == {"PayloadBucket", "StagingBucket"}
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    # step scratch (courses/) expires; what a course published (published/) is kept
    [expiring] = [rule for rule in buckets["PayloadBucket"]["Properties"]["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in rule]
    assert expiring["Prefix"] == "courses/" and expiring["ExpirationInDays"] > 0


def test_the_runtime_is_a_parameter_the_layer_follows():
    assert TEMPLATE.doc["Globals"]["Function"]["Runtime"] == {"Ref": "PythonRuntime"}
    [layer] = TEMPLATE.of_type("AWS::Serverless::LayerVersion").values()
    assert layer["Metadata"]["BuildMethod"] == {"Ref": "PythonRuntime"}


def test_sam_validate_lint_is_clean():
    sam = shutil.which("sam") or str(Path(os.sys.executable).parent / "sam")
    if not Path(sam).exists():
        pytest.fail("sam (aws-sam-cli) is not installed: run make install")
    env = os.environ | {"SAM_CLI_TELEMETRY": "0"}
    result = subprocess.run([sam, "validate", "--lint", "--region", "us-east-1"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_dry_run_bills_the_batch_step_at_its_memory():
    from coursegen.domain.estimate import BATCH_LAMBDA_GB

    function = TEMPLATE.doc["Resources"]["GenerateBatchContentFunction"]["Properties"]
    memory = function.get("MemorySize", TEMPLATE.doc["Globals"]["Function"]["MemorySize"])
    assert BATCH_LAMBDA_GB == memory / 1024


def test_the_batch_map_names_each_value_by_the_field_the_expander_put_there():
    from coursegen.domain.lessons import BATCH_FIELDS

    content = json.loads((PROJECT_ROOT / "statemachine/course_content.asl.json").read_text())
    selector = content["States"]["WriteBatches"]["ItemSelector"]
    assert {f"{field}.$": f"$$.Map.Item.Value[{i}]" for i, field in enumerate(BATCH_FIELDS)}.items() <= selector.items()
