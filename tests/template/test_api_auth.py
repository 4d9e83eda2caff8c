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
    events = yaml_parse((PROJECT_ROOT / "template.yaml").read_text())["Resources"]["ApiFunction"]["Properties"]["Events"]
    assert len(methods) == sum(event["Type"] == "Api" for event in events.values())  # every route, none left open
    assert all(op["security"] == [{auth: []}] for op in methods)


def test_every_route_of_the_api_is_an_event_of_the_api_function():
    """A route the resolver answers but API Gateway does not route is a 403 in AWS (the offline server hides it)."""
    from coursegen.api import openapi_document

    template = yaml_parse((PROJECT_ROOT / "template.yaml").read_text())
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    deployed = {(e["Properties"]["Path"], e["Properties"]["Method"].upper()) for e in events if e["Type"] == "Api"}
    routes = {(path, method.upper()) for path, operations in json.loads(openapi_document())["paths"].items()
              for method in operations}
    assert routes == deployed, (routes - deployed, deployed - routes)
