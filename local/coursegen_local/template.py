"""Reads template.yaml so the offline runner builds exactly what SAM deploys: the same state
machine file and substitutions, the same table and bucket definitions, the same handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str  # module.attribute, e.g. app.lambda_handler


class SamTemplate:
    def __init__(self, path: Path = PROJECT_ROOT / "template.yaml", parameter_overrides: dict[str, str] | None = None):
        self.path = path
        # SAM CLI's own loader: the short tags (!Ref, !GetAtt, !Sub ...) read as `sam` reads them
        self.doc = yaml_parse(path.read_text())
        self.parameter_overrides = parameter_overrides or {}

    @property
    def resources(self) -> dict[str, dict]:
        return self.doc["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}

    def parameter(self, name: str) -> str:
        if name in self.parameter_overrides:
            return str(self.parameter_overrides[name])
        return str(self.doc["Parameters"][name].get("Default", ""))

    def physical_name(self, logical_id: str) -> str:
        """Local stand-in for a CloudFormation-generated name: coursegen-<LogicalId>."""
        return f"coursegen-{logical_id}"

    def function_arn(self, logical_id: str, region: str) -> str:
        return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{self.physical_name(logical_id)}"

    @cached_property
    def functions(self) -> dict[str, FunctionSpec]:
        handler_default = self.doc.get("Globals", {}).get("Function", {}).get("Handler", "app.lambda_handler")
        return {
            self.physical_name(name): FunctionSpec(
                logical_id=name,
                code_dir=PROJECT_ROOT / r["Properties"]["CodeUri"],
                handler=r["Properties"].get("Handler", handler_default),
            )
            for name, r in self.of_type("AWS::Serverless::Function").items()
        }

    def resolve(self, value: Any, region: str) -> Any:
        """Resolve the intrinsics the state machine's substitutions and tables use."""
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                if arg in self.doc.get("Parameters", {}):
                    return self.parameter(arg)
                if self.resources[arg]["Type"] == "AWS::Serverless::StateMachine":  # Ref of a state machine is its ARN
                    return self.state_machine_arn(arg, region)
                return self.physical_name(arg)
            if key == "Fn::FindInMap":
                table, top, second = (self.resolve(part, region) for part in arg)
                return self.doc["Mappings"][table][str(top)][second]
            if key == "Fn::GetAtt" and arg[1] == "Arn":
                if self.resources[arg[0]]["Type"] == "AWS::Serverless::Function":
                    return self.function_arn(arg[0], region)
                return f"arn:aws:local:{region}:{ACCOUNT}:{self.physical_name(arg[0])}"
            raise ValueError(f"The offline runner does not resolve {value}")
        return value

    # The machine the API starts; the others are stages it runs (states:startExecution.sync:2).
    ENTRY_STATE_MACHINE = "CourseGenerationStateMachine"
    REVIEW_STATE_MACHINE = "CourseReviewStateMachine"  # started by the course workflow and by the API, not waited for

    @property
    def state_machine(self) -> tuple[str, dict]:
        return self.ENTRY_STATE_MACHINE, self.resources[self.ENTRY_STATE_MACHINE]["Properties"]

    @property
    def state_machines(self) -> list[str]:
        """Every state machine, each after the ones its definition refers to (create them in this order)."""
        machines = self.of_type("AWS::Serverless::StateMachine")
        refers = {name: {v["Ref"] for v in r["Properties"].get("DefinitionSubstitutions", {}).values()
                         if isinstance(v, dict) and v.get("Ref") in machines} for name, r in machines.items()}
        ordered: list[str] = []
        while len(ordered) < len(machines):
            ready = [name for name in machines if name not in ordered and refers[name] <= set(ordered)]
            if not ready:
                raise ValueError(f"State machines refer to each other in a cycle: {refers}")
            ordered.extend(ready)
        return ordered

    def state_machine_arn(self, logical_id: str, region: str) -> str:
        return f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:{self.physical_name(logical_id)}"

    def state_machine_definition(self, region: str, logical_id: str | None = None,
                                 substitutions: dict[str, str] | None = None) -> str:
        """The ASL file with DefinitionSubstitutions applied, as SAM does at deploy time
        (`substitutions`: values that replace the template's, for tests of a timeout only)."""
        props = self.resources[logical_id or self.ENTRY_STATE_MACHINE]["Properties"]
        text = (PROJECT_ROOT / props["DefinitionUri"]).read_text()
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            resolved = (substitutions or {}).get(key, self.resolve(value, region))
            text = text.replace("${" + key + "}", str(resolved))
        json.loads(text)  # fail here, not inside moto, if a substitution broke the JSON
        return text

    def dynamodb_tables(self) -> list[tuple[str, dict]]:
        tables = []
        for name, resource in self.of_type("AWS::DynamoDB::Table").items():
            props = resource["Properties"]
            create = {
                "TableName": self.physical_name(name),
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PROVISIONED"),
            }
            tables.append((create["TableName"], {"create": create, "ttl": props.get("TimeToLiveSpecification")}))
        return tables

    def buckets(self) -> list[str]:
        return [self.physical_name(name) for name in self.of_type("AWS::S3::Bucket")]

    def event_buses(self) -> list[str]:
        return [self.physical_name(name) for name in self.of_type("AWS::Events::EventBus")]
