"""The template as CloudFormation would deploy it: translated by SAM (test_api_auth.translated), then
its intrinsics resolved for one set of parameters - conditions decided, Fn::If taken, AWS::NoValue
dropped, resources whose condition is false left out, and every Ref/GetAtt a concrete name or ARN.

Resources get the physical names the offline runner gives them (coursegen-<LogicalId>), so the
ARNs here are the ARNs of what the runner's handlers really touch."""

from __future__ import annotations

import re
from typing import Any

from coursegen_local.template import ACCOUNT, SamTemplate
from tests.template.test_api_auth import translated

REGION = "us-east-1"
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
          "AWS::StackName": "coursegen", "AWS::URLSuffix": "amazonaws.com"}
_NO_VALUE = object()
_name = SamTemplate().physical_name


def _ref(logical: str, resource_type: str) -> str:
    """What Ref returns for the resource types the template refers to."""
    name = _name(logical)
    if resource_type in ("AWS::StepFunctions::StateMachine", "AWS::SNS::Topic"):
        return _arn(logical, resource_type)
    if resource_type == "AWS::SQS::Queue":
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
    return name


def _arn(logical: str, resource_type: str) -> str:
    name = _name(logical)
    return {
        "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
        "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
        "AWS::Events::EventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}",
        "AWS::Events::Rule": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}",
        "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
        "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
        "AWS::StepFunctions::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
        "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}",
        "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
        "AWS::Cognito::UserPool": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{name}",
    }.get(resource_type, f"arn:aws:local:{REGION}:{ACCOUNT}:{name}")


class Deployed:
    def __init__(self, parameters: dict[str, str] | None = None) -> None:
        self.given = dict(parameters or {})
        self.template = translated(self.given)
        self.parameters = {
            name: self.given.get(name, spec.get("Default", ""))
            for name, spec in self.template.get("Parameters", {}).items()
        }
        for name, spec in self.template.get("Parameters", {}).items():
            if spec.get("Type") == "CommaDelimitedList" and isinstance(self.parameters[name], str):
                self.parameters[name] = [p for p in self.parameters[name].split(",") if p]
        self._conditions: dict[str, bool] = {}
        raw = self.template["Resources"]
        self._types = {name: r["Type"] for name, r in raw.items()}
        self.resources = {
            name: self.resolve(resource)
            for name, resource in raw.items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    def of_type(self, resource_type: str) -> dict[str, dict]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._resolve_ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._get_att(logical, attribute)
            if key == "Fn::If":
                name, then, otherwise = arg
                return self.resolve(then if self.condition(name) else otherwise)
            if key == "Fn::Sub":
                return self._sub(*(arg if isinstance(arg, list) else [arg, {}]))
            if key == "Fn::Join":
                return arg[0].join(str(v) for v in self.resolve(arg[1]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::GetAZs":
                return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::Or":
                return any(self.resolve(v) for v in arg)
            if key == "Fn::And":
                return all(self.resolve(v) for v in arg)
            if key == "Condition":
                return self.condition(arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _resolve_ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        return _ref(name, self._types[name])

    def _get_att(self, logical: str, attribute: str) -> str:
        kind = self._types[logical]
        if attribute == "Arn":
            return _arn(logical, kind)
        if attribute == "Name":
            return _name(logical)
        if attribute == "MasterUserSecret.SecretArn":
            return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{_name(logical)}"
        if attribute == "Endpoint.Address":
            return f"{_name(logical).lower()}.cluster-local.{REGION}.rds.amazonaws.com"
        return f"{_name(logical)}.{attribute}"

    def _sub(self, text: str, variables: dict) -> str:
        values = {k: self.resolve(v) for k, v in variables.items()}

        def one(match: re.Match) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and name.split(".", 1)[0] in self._types:
                return str(self._get_att(*name.split(".", 1)))
            return str(self._resolve_ref(name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    # -- roles ---------------------------------------------------------------------------
    def statements(self, role: str) -> list[dict]:
        """The Allow statements of a role's inline policies, actions and resources as lists."""
        found = []
        for policy in self.resources[role]["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement.get("Effect") == "Allow":
                    found.append(statement | {"Action": _listed(statement["Action"]), "Resource": _listed(statement["Resource"])})
        return found


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]
