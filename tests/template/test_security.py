"""The deployment's security promises, checked on the template as SAM translates it for deploy:
least-privilege roles, private and encrypted storage, credentials only from Secrets Manager,
and no course content or personal data in logs."""

from __future__ import annotations

import json

import pytest

from tests.template.deployed import Deployed

# Resource "*" only where AWS accepts nothing narrower.
STAR_RESOURCE_ALLOWED = {
    # Step Functions' CloudWatch Logs delivery
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    # a reviewer's decision to a waiting .waitForTaskToken task: IAM has no resource for a task token
    "states:SendTaskSuccess",
}
MANAGED_POLICIES_ALLOWED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
}


@pytest.fixture(scope="module", params=[{"ApiAuth": "AWS_IAM", "DatabaseMode": "create"},
                                        {"ApiAuth": "COGNITO", "DatabaseMode": "existing"}], ids=["iam-create", "cognito-existing"])
def deployed(request):
    # resolved for those parameters: the roles' policies carry conditions (Fn::If) since issue 12
    return Deployed(request.param).resources


def allow_statements(resources: dict):
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement.get("Effect") == "Allow":
                    yield name, statement


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_no_role_allows_wildcard_actions(deployed):
    for role, statement in allow_statements(deployed):
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), f"{role} allows {action}"


def test_star_resources_only_where_aws_requires_them(deployed):
    for role, statement in allow_statements(deployed):
        if "*" in as_list(statement.get("Resource", [])):
            assert set(as_list(statement["Action"])) <= STAR_RESOURCE_ALLOWED, f"{role}: {statement['Action']} on *"


def test_roles_use_only_the_known_managed_policies(deployed):
    for name, resource in deployed.items():
        if resource["Type"] == "AWS::IAM::Role":
            arns = {json.dumps(a) if not isinstance(a, str) else a for a in resource["Properties"].get("ManagedPolicyArns", [])}
            assert arns <= MANAGED_POLICIES_ALLOWED, f"{name}: {arns - MANAGED_POLICIES_ALLOWED}"


def test_storage_is_private_and_encrypted(deployed):
    bucket = deployed["PayloadBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    deny = deployed["PayloadBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deployed["CourseStateTable"]["Properties"]["SSESpecification"]["SSEEnabled"]
    for name, resource in deployed.items():
        if resource["Type"] == "AWS::SQS::Queue":
            assert resource["Properties"].get("SqsManagedSseEnabled"), name
        if resource["Type"] == "AWS::RDS::DBCluster":
            assert resource["Properties"]["StorageEncrypted"]


def test_database_credentials_come_only_from_secrets_manager(deployed):
    for name, resource in deployed.items():
        if resource["Type"] == "AWS::RDS::DBCluster":
            assert "MasterUserPassword" not in resource["Properties"]  # no password in the template
            assert resource["Properties"]["ManageMasterUserPassword"] is True
        if resource["Type"] == "AWS::Lambda::Function":
            variables = resource["Properties"].get("Environment", {}).get("Variables", {})
            assert not any(word in key for key in variables for word in ("PASSWORD", "API_KEY", "TOKEN")), name
            assert "DATABASE_URL" not in variables, f"{name}: credentials in an environment variable"


def test_the_user_pool_has_no_self_sign_up(deployed):
    pool = deployed["CourseUserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
