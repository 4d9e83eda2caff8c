"""The API's authentication is a template choice: SAM turns ApiAuth into SigV4 or the Cognito
authorizer on every method (checked by translating the template offline, as sam deploy would)."""

import json

import boto3
import pytest
from samcli.yamlhelper import yaml_parse
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from coursegen_local.template import PROJECT_ROOT


def translated(parameters: dict) -> dict:
    template = yaml_parse((PROJECT_ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():  # what sam package does to local paths
        for key in ("CodeUri", "DefinitionUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=boto3.Session(region_name="us-east-1"))
    return translator.translate(sam_template=json.loads(json.dumps(template)), parameter_values=parameters)


@pytest.mark.parametrize("auth", ["AWS_IAM", "COGNITO"])
def test_every_api_method_requires_the_chosen_authentication(auth):
    body = translated({"ApiAuth": auth})["Resources"]["CourseApi"]["Properties"]["Body"]
    methods = [op for path in body["paths"].values() for op in path.values() if isinstance(op, dict) and "security" in op]
    assert len(methods) == 5
    assert all(op["security"] == [{auth: []}] for op in methods)
