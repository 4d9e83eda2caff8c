"""What the deployed template promises beyond permissions (issue 12): alarms reach a topic CloudWatch
can use, the database costs storage only while idle, reserved concurrency is opt-in, the stack can
be deleted, and the safety net hears every end of a course execution."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.template.deployed import Deployed

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
DEFAULT = Deployed()
LLM_FUNCTIONS = ("PlanPartsFunction", "ExpandPartFunction", "ReviewOutlineFunction")
# Aurora PostgreSQL versions from which MinCapacity 0 (auto-pause) is allowed, per major version
# (AWS docs: "Aurora Serverless v2 capacity").
AUTO_PAUSE_FROM = {16: (16, 3), 15: (15, 7), 14: (14, 12), 13: (13, 15)}


def test_alarms_publish_to_a_topic_under_a_key_cloudwatch_and_eventbridge_may_use():
    [topic] = DEFAULT.of_type("AWS::SNS::Topic").values()
    [(key_name, key)] = DEFAULT.of_type("AWS::KMS::Key").items()
    assert topic["Properties"]["KmsMasterKeyId"] == f"coursegen-{key_name}"  # not alias/aws/sns
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
        [grant] = [s for s in statements if s["Principal"] == {"Service": service}]
        assert grant["Effect"] == "Allow" and sorted(grant["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    [admin] = [s for s in statements if "AWS" in s["Principal"]]
    assert admin["Principal"]["AWS"] == "arn:aws:iam::123456789012:root"
    for alarm in DEFAULT.of_type("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [DEFAULT.resolve({"Ref": "AlarmTopic"})]


def test_the_database_scales_to_zero_on_an_engine_version_that_allows_it():
    [cluster] = DEFAULT.of_type("AWS::RDS::DBCluster").values()
    scaling = cluster["Properties"]["ServerlessV2ScalingConfiguration"]
    assert float(scaling["MinCapacity"]) == 0 and 300 <= scaling["SecondsUntilAutoPause"] <= 86400
    version = tuple(int(part) for part in cluster["Properties"]["EngineVersion"].split("."))
    assert version >= AUTO_PAUSE_FROM[version[0]]


def test_reserved_concurrency_is_none_unless_asked_for():
    assert str(DEFAULT.parameters["LlmReservedConcurrency"]) == "0"
    for name, function in DEFAULT.of_type("AWS::Lambda::Function").items():
        assert "ReservedConcurrentExecutions" not in function["Properties"], name
    capped = Deployed({"LlmReservedConcurrency": "5"})
    for name in LLM_FUNCTIONS:
        assert int(capped.resources[name]["Properties"]["ReservedConcurrentExecutions"]) == 5


def test_the_stack_can_be_deleted_with_its_versioned_bucket_and_the_readme_says_how_to_remove_it():
    for name, bucket in DEFAULT.of_type("AWS::S3::Bucket").items():
        if bucket["Properties"].get("VersioningConfiguration", {}).get("Status") == "Enabled":
            # CloudFormation cannot delete a bucket that holds objects: Retain lets the stack go
            assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain", name
    assert "object_versions.delete()" in README  # every version and delete marker, then the bucket


@pytest.fixture(scope="module")
def safety_net():
    return DEFAULT.resources["RecordExecutionEndFunctionExecutionEnded"]


def test_every_end_of_a_course_execution_reaches_the_safety_net(safety_net):
    rule = safety_net["Properties"]
    assert "EventBusName" not in rule  # the default bus, where Step Functions publishes
    assert rule["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED", "SUCCEEDED"],
                   "stateMachineArn": [DEFAULT.resolve({"Ref": "CourseGenerationStateMachine"})]},
    }
    [target] = rule["Targets"]
    function = DEFAULT.resources["RecordExecutionEndFunction"]
    assert target["Arn"] == DEFAULT.resolve({"Fn::GetAtt": ["RecordExecutionEndFunction", "Arn"]})
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    dead_letters = DEFAULT.resolve({"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]})
    assert target["DeadLetterConfig"]["Arn"] == dead_letters
    queue_policy = DEFAULT.resources["EventsDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert DEFAULT.resolve({"Fn::GetAtt": ["RecordExecutionEndFunctionExecutionEnded", "Arn"]}) in \
        queue_policy["Condition"]["ArnEquals"]["aws:SourceArn"]
    [permission] = [p for p in DEFAULT.of_type("AWS::Lambda::Permission").values()
                    if p["Properties"]["FunctionName"] == "coursegen-RecordExecutionEndFunction"]
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"
    assert permission["Properties"]["SourceArn"] == DEFAULT.resolve({"Fn::GetAtt": ["RecordExecutionEndFunctionExecutionEnded", "Arn"]})
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["COURSE_STATE_TABLE"] == "coursegen-CourseStateTable"
    assert variables["EVENT_BUS_NAME"] == "coursegen-CourseEventBus"
    assert "VpcConfig" not in function["Properties"]
