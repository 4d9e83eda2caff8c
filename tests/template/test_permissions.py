"""Each role holds exactly what its code calls: no action missing, none extra.

Derived, not listed: the handlers run in the offline runner (moto) through the paths a course and
an upload take - the API's POST, replay, status, reads, resume, an expired Idempotency-Key and a
stale course; every workflow step; an ingestion that continues in a second invocation; the
safety net on each execution's end - while a botocore hook (before-parameter-build, for every
session) records each AWS call with the function whose handler made it. Bedrock calls go through
the real Bedrock adapters to a stub at botocore's before-call (no account here); the database is
a proxy that records which functions open it, and such a function then needs what opening it
costs in AWS (reading DB_SECRET_ARN, derived the same way from bootstrap's connection code).

Each call becomes the IAM actions and resources it needs (call_requirements), and the deployed
roles (tests/template/deployed.py: translated by SAM, intrinsics resolved) must allow each one and
hold no action-resource pair that no call needed. The state machine's needs come from the ASL's
integrations; tables stand in only where deriving is not possible here, each saying why.
"""

from __future__ import annotations

import contextvars
import dataclasses
import fnmatch
import io
import json
import uuid
from collections import defaultdict
from pathlib import Path

import boto3
import botocore.handlers
import pytest
from botocore.response import StreamingBody

from coursegen.adapters.bedrock import BedrockLlm, TitanEmbedder
from coursegen.adapters.offline import OfflinePlanner
from coursegen.config import Settings
from coursegen_local.faults import Fault
from coursegen_local.runner import LocalRunner, execution_status_change
from coursegen_local.template import PROJECT_ROOT
from tests.api.conftest import Client
from tests.template.deployed import ACCOUNT, REGION, Deployed

# Which function's handler is running (a handler runs in one thread; moto's workers start empty).
CURRENT = contextvars.ContextVar("function", default=None)
DATABASE = "database"  # the pseudo-service the recording proxy reports

# Table (not derivable offline): the Regions the default cross-Region inference profile routes to
# (Bedrock docs, "Supported Regions and models for inference profiles", us.anthropic.claude-3-5-haiku).
PROFILE_REGIONS = {"us.anthropic.claude-3-5-haiku-20241022-v1:0": ["us-east-1", "us-east-2", "us-west-2"]}
INFERENCE_PROFILE_GEOGRAPHIES = ("us", "eu", "apac", "us-gov", "ca", "jp", "au", "global")
# Table: IAM actions whose name is not the operation's. Converse is authorized as InvokeModel
# (Bedrock docs, "Carry out a conversation with the Converse API operations"); CopyObject needs
# GetObject on its source and PutObject on its destination.
ACTION_OF = {("bedrock", "Converse"): "InvokeModel", ("bedrock", "ConverseStream"): "InvokeModelWithResponseStream"}


# -- recording --------------------------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[str, str, dict]]] = defaultdict(list)

    def before_parameter_build(self, params, model, context, **_):
        function = CURRENT.get()
        if function:
            context["coursegen_call"] = (function, dict(params))
            self.calls[function].append((model.service_model.signing_name, model.name, dict(params)))

    def after_call(self, parsed, model, context, **_):
        # A GetObject of a key that is not there: S3 says NoSuchKey (404) only to a caller allowed
        # s3:ListBucket, AccessDenied (403) otherwise - and the code treats 404 as "not there yet".
        if model.name == "GetObject" and "coursegen_call" in context:
            if parsed.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                function, params = context["coursegen_call"]
                self.calls[function].append(("s3", "ListBucket", {"Bucket": params["Bucket"]}))

    def used(self, function: str, what: str) -> None:
        self.calls[function].append((DATABASE, what, {}))


class RecordingDatabase:
    """The repository, recording which function uses it."""

    def __init__(self, repository, recorder: Recorder) -> None:
        self._repository = repository
        self._recorder = recorder

    def __getattr__(self, name):
        attribute = getattr(self._repository, name)
        if callable(attribute) and CURRENT.get():
            self._recorder.used(CURRENT.get(), name)
        return attribute


class _Http:
    status_code = 200
    headers: dict = {}


def stub_bedrock_client():
    """A real bedrock-runtime client (so its calls are recorded as made) answered by a stub."""
    client = boto3.Session(aws_access_key_id="stub", aws_secret_access_key="stub", region_name=REGION).client("bedrock-runtime")
    client.meta.events.register("before-call.bedrock-runtime.Converse", lambda **_: (
        _Http(), {"output": {"message": {"content": [{"text": "stub"}]}}, "stopReason": "end_turn", "usage": {}}))

    def invoke_model(**_):
        body = b'{"embedding": [0.0]}'
        return _Http(), {"body": StreamingBody(io.BytesIO(body), len(body)), "contentType": "application/json"}

    client.meta.events.register("before-call.bedrock-runtime.InvokeModel", invoke_model)
    return client


class BedrockThenPlanner:
    """Makes the Bedrock call the product makes (BedrockLlm, the configured model), then answers
    with the offline planner so the course goes on."""

    name = "offline planner (not an LLM)"

    def __init__(self, model_id: str) -> None:
        self.bedrock = BedrockLlm(stub_bedrock_client(), model_id)
        self.planner = OfflinePlanner()

    def complete(self, prompt):
        self.bedrock.complete(prompt)
        return self.planner.complete(prompt)


class TitanThenWordLlama:
    """Makes Titan's calls (TitanEmbedder), answers with WordLlama: the library's own embedder."""

    def __init__(self, wordllama, model_id: str, dimension: int) -> None:
        self.titan = TitanEmbedder(stub_bedrock_client(), model_id, dimension)
        self.wordllama = wordllama
        self.model_id = wordllama.model_id
        self.dimension = wordllama.dimension

    def embed(self, texts):
        self.titan.embed(texts)
        return self.wordllama.embed(texts)


class RecordingRunner(LocalRunner):
    def _handler(self, function_name: str):
        handler = super()._handler(function_name)
        logical_id = self.template.functions[function_name].logical_id

        def recorded(event, context):
            token = CURRENT.set(logical_id)
            try:
                return handler(event, context)
            finally:
                CURRENT.reset(token)

        return recorded


class _Context:
    """A Lambda context whose remaining time runs out after the first ask (one batch, then continue)."""

    function_name = "coursegen-IngestBooksFunction"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
    memory_limit_in_mb = 1024
    aws_request_id = "permissions-test"

    def __init__(self) -> None:
        self._left = iter([900_000])

    def get_remaining_time_in_millis(self) -> int:
        return next(self._left, 0)


# -- the scenarios ------------------------------------------------------------------------
# with labs and staging: WriteLab runs, BuildBook stores the labs, DeployToStaging stages the site, the API reads them
DCF = {"query": "Learn DCF valuation", "hours": 2, "preferences": {"depth": "balanced", "pace": "moderate"}, "language": "en",
       "content_mode": "theory_and_labs", "deploy_to_staging": True}
DEPLOYED = Deployed()  # the default parameters: create mode, Bedrock, the inference profile


def _set_processing(runner: LocalRunner, course_id: str) -> None:
    """What a course whose execution ended unrecorded looks like (written outside any function)."""
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=runner.container.settings.course_state_table, Key={"course_id": {"S": course_id}},
        UpdateExpression="SET #s = :p, updated_at = :old", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": "processing"}, ":old": {"S": "2020-01-01T00:00:00+00:00"}})


@pytest.fixture(scope="module")
def recorded(repository, embedder, tmp_path_factory):
    recorder = Recorder()
    patch = pytest.MonkeyPatch()
    # Every session created from now on (boto3's default one included) carries the hooks.
    patch.setattr(botocore.handlers, "BUILTIN_HANDLERS", botocore.handlers.BUILTIN_HANDLERS + [
        ("before-parameter-build", recorder.before_parameter_build), ("after-call", recorder.after_call)])
    patch.setattr(boto3, "DEFAULT_SESSION", None)
    patch.setenv("AWS_DEFAULT_REGION", REGION)  # as Lambda sets it
    from aws_lambda_powertools.utilities.parameters import base
    patch.setattr(base, "DEFAULT_PROVIDERS", {})
    env = DEPLOYED.resources["PlanPartsFunction"]["Properties"]["Environment"]["Variables"]
    llm = BedrockThenPlanner(env["LLM_MODEL_ID"])
    titan = TitanThenWordLlama(embedder, env["EMBEDDING_MODEL_ID"], int(env["EMBEDDING_DIM"]))
    try:
        with RecordingRunner(retry_time_scale=0.001, database=RecordingDatabase(repository, recorder),
                             llm=llm, embedder=titan) as runner:
            _api_scenarios(runner, patch)
            _ingestion_scenario(runner, repository)
            _database_connection(recorder)
    finally:
        with repository.pool.connection() as conn:
            conn.execute("DELETE FROM books WHERE book_id LIKE 'perm-%'")
        patch.undo()
    return recorder.calls


def _api_scenarios(runner: LocalRunner, patch: pytest.MonkeyPatch) -> None:
    client = Client(runner, tenant=f"permissions-{uuid.uuid4()}")
    key = {"Idempotency-Key": f"perm-{uuid.uuid4()}"}
    status, accepted, _ = client.request("POST", "/courses", DCF, key)
    assert status == 202, accepted
    course_id = accepted["course_id"]
    assert client.wait_until_done(course_id)[-1]["status"] == "complete"
    assert client.request("POST", "/courses", DCF, key)[0] == 202  # a replay: reads, starts nothing
    assert client.request("GET", f"/courses/{course_id}")[0] == 200
    assert client.request("GET", "/courses?limit=5")[0] == 200
    listing = client.request("GET", f"/courses/{course_id}/lessons")[1]
    labs = client.request("GET", f"/courses/{course_id}/labs")[1]["labs"]
    assert labs and client.request("GET", f"/courses/{course_id}/labs/{labs[0]['lab_id']}")[0] == 200
    assert client.request("GET", f"/courses/{course_id}/lessons/{listing['lessons'][0]['lesson_id']}")[0] == 200
    assert client.request("GET", f"/courses/{course_id}/quiz")[0] == 200
    assert client.request("GET", f"/courses/{course_id}/exports/scorm")[0] == 200
    # BuildBook finding a lesson missing (a lost S3 object): it reads a key that is not there
    from coursegen.errors import PayloadMissing
    from coursegen.services.lessons import lesson_key, lesson_plans
    state = runner.container.states.load(course_id)
    runner.delete_payload(lesson_key(state, lesson_plans(runner.container.payloads, state)[0]))
    with pytest.raises(PayloadMissing):
        runner.invoke("BuildBookFunction", {"course_id": course_id})
    # a redeploy to staging: the page the last deploy had and this one has not is deleted
    boto3.client("s3", region_name=REGION).put_object(Bucket=runner.container.settings.staging_bucket,
                                                      Key=f"{course_id}/lessons/9-9.html", Body=b"stale")
    runner.invoke("DeployToStagingFunction", {"course_id": course_id})
    # a course asked for again without a quiz: BuildSite deletes the quiz and its packages
    status, again, _ = client.request("POST", "/courses", {**DCF, "generate_quiz": False, "deploy_to_staging": False})
    assert client.wait_until_done(again["course_id"])[-1]["status"] == "complete"
    # a dry run: EstimateContent instead of the batches
    status, dry, _ = client.request("POST", "/courses", {**DCF, "dry_run": True})
    assert client.wait_until_done(dry["course_id"])[-1]["estimate"]["model_calls"] > 0
    # ReviewOutline, on the stored course (the planner's outline is within 5%: the machine skips it)
    runner.invoke("ReviewOutlineFunction", {"course_id": course_id})

    _review_scenarios(runner, client)

    # a stale "processing" course: the API asks its execution how it ended
    runner.container.course_service.stale_after_seconds = -1
    _set_processing(runner, course_id)
    assert client.request("GET", f"/courses/{course_id}/status")[1]["status"] == "complete"

    # a course that fails (no books on the subject), then its resume
    status, failing, _ = client.request("POST", "/courses", {**DCF, "query": "asdf qwer zxcv"})
    assert client.wait_until_done(failing["course_id"])[-1]["status"] == "error"
    assert client.request("POST", f"/courses/{failing['course_id']}/resume")[0] == 202
    client.wait_until_done(failing["course_id"])

    # a step that dies before it announces its phase: ExplainFailure sets the phase it broke in
    runner.faults.append(Fault(step="PlanParts", error="Sandbox.Timedout", times=10))
    status, died, _ = client.request("POST", "/courses", DCF)
    assert client.wait_until_done(died["course_id"])[-1]["error"]["phase"] == "planning_parts"
    runner.faults.clear()

    # an execution stopped (or timed out) before its failure path ran: the safety net records and
    # announces it, and so does the API's status read when it finds it first. moto's StopExecution
    # does not stop its interpreter, so the end is the one Step Functions reports for a stopped
    # execution: DescribeExecution is called for real, its status read as ABORTED.
    arn = runner.execution_arn(died["course_id"])
    execution = {**runner.sfn.describe_execution(executionArn=arn), "status": "ABORTED", "error": "", "cause": ""}
    _set_processing(runner, died["course_id"])
    runner.invoke("RecordExecutionEndFunction", execution_status_change(execution, REGION))
    _set_processing(runner, died["course_id"])
    starter, real_end_of = runner.container.starter, runner.container.starter.end_of
    patch.setattr(starter, "end_of", lambda execution_arn: dataclasses.replace(real_end_of(execution_arn), status="ABORTED"))
    assert client.request("GET", f"/courses/{died['course_id']}/status")[1]["status"] == "error"

    # an Idempotency-Key whose state expired (7 days) but whose execution name lives on (90 days)
    from coursegen.services import courses
    patch.setattr(courses, "STATE_TTL_SECONDS", -1)
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=runner.container.settings.course_state_table, Key={"course_id": {"S": course_id}})
    assert client.request("POST", "/courses", DCF, key)[0] == 409


def _review_scenarios(runner: LocalRunner, client: Client) -> None:
    """The lifecycle: an outline re-planned, then approved edited; the course in review, a lesson
    rewritten, approved, published, archived; a submit; a review that expires, a rewrite that fails,
    a review stage that ended without its path."""
    status, accepted, _ = client.request("POST", "/courses", {**DCF, "review": True, "review_outline": True})
    course_id = accepted["course_id"]
    client.wait_until_waiting(course_id, "outline_approval")
    assert client.request("POST", f"/courses/{course_id}/review",
                          {"decision": "request_changes", "feedback": "More on terminal value."})[0] == 200
    client.wait_until_waiting(course_id, "outline_approval")
    outline = runner.container.states.load(course_id).outline_text
    assert client.request("POST", f"/courses/{course_id}/review", {"decision": "approve", "outline": outline})[0] == 200
    review = client.wait_until_waiting(course_id, "review")
    lesson_id = review["lessons"][0]["lesson_id"]
    status, body, _ = client.request("POST", f"/courses/{course_id}/review", {
        "decision": "request_changes", "lessons": [{"lesson_id": lesson_id, "feedback": "Add a worked example."}]})
    assert status == 200, body
    client.wait_until_waiting(course_id, "review")
    assert client.request("POST", f"/courses/{course_id}/review", {"decision": "approve"})[0] == 200
    assert client.request("POST", f"/courses/{course_id}/publish")[0] == 200
    assert client.request("POST", f"/courses/{course_id}/archive")[0] == 200
    # a course generated without review, submitted
    status, plain, _ = client.request("POST", "/courses", {**DCF, "deploy_to_staging": False})
    assert client.wait_until_done(plain["course_id"])[-1]["status"] == "complete"
    assert client.request("POST", f"/courses/{plain['course_id']}/review", {"decision": "submit"})[0] == 200
    client.wait_until_waiting(plain["course_id"], "review")
    # the review ending unanswered (ExpireReview), run as its state would run it
    waiting = runner.container.database.get_workflow(plain["course_id"])
    runner.invoke("ExpireReviewFunction", {"course_id": plain["course_id"], "timeout_seconds": 86400,
                                           "execution_id": waiting.execution_id})
    # a rewrite that failed for good, noted (NoteReviewFailure), on a course in review
    assert client.request("POST", f"/courses/{plain['course_id']}/review", {"decision": "submit"})[0] == 200
    client.wait_until_waiting(plain["course_id"], "review")
    runner.invoke("NoteReviewFailureFunction", {"course_id": plain["course_id"], "errors": {
        "RewriteLessons": {"Error": "LlmUnavailable", "Cause": "model down"}}})
    # the review stage ending without its own path (ReviewEnded, from the EventBridge rule)
    waiting = runner.container.database.get_workflow(plain["course_id"])  # the review stage that holds the wait
    execution = {"executionArn": waiting.execution_id, "stateMachineArn": runner.container.settings.review_state_machine_arn,
                 "name": waiting.execution_id.rsplit(":", 1)[-1], "status": "ABORTED",
                 "input": json.dumps({"course_id": plain["course_id"]})}
    runner.invoke("ReviewEndedFunction", execution_status_change(execution, REGION))


def _ingestion_scenario(runner: LocalRunner, repository) -> None:
    """65 new books: one batch of 64, then the time is up and the upload continues itself."""
    lines = [json.dumps({"book_id": f"perm-{i:03d}", "title": f"Permissions test volume {i}", "author": "Test",
                         "subject": "zz permissions test", "year": 2020, "summary": f"Synthetic summary {i} " * 8,
                         "key_topics": [f"topic {i}"]}) for i in range(65)]
    bucket, key = runner.container.settings.payload_bucket, f"books/perm-{uuid.uuid4()}.jsonl"
    boto3.client("s3", region_name=REGION).put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode())
    event = json.loads((PROJECT_ROOT / "events" / "ingest_books.json").read_text()) if (
        PROJECT_ROOT / "events" / "ingest_books.json").is_file() else {}
    event = event or {"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
                      "account": ACCOUNT, "time": "2026-01-01T00:00:00Z", "region": REGION, "resources": []}
    event["detail"] = {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}}
    result = runner._handler(runner.template.physical_name("IngestBooksFunction"))(event, _Context())
    assert result.get("continued"), result


def _database_connection(recorder: Recorder) -> None:
    """What opening the database costs in AWS: bootstrap's connection code, against moto's Secrets Manager."""
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    from coursegen.bootstrap import _conninfo_from_secret

    DEFAULT_PROVIDERS.pop("secrets", None)  # a provider an earlier test made would skip the recorded client
    env = DEPLOYED.resources["SearchBooksFunction"]["Properties"]["Environment"]["Variables"]
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=env["DB_SECRET_ARN"].rsplit(":", 1)[-1], SecretString=json.dumps({"username": "u", "password": "p"}))
    token = CURRENT.set(DATABASE)
    try:
        _conninfo_from_secret(Settings(db_secret_arn=env["DB_SECRET_ARN"], db_host=env["DB_HOST"]))
    finally:
        CURRENT.reset(token)


# -- calls -> what IAM must allow -----------------------------------------------------------
def call_requirements(service: str, operation: str, params: dict) -> list[tuple[str, str, dict]]:
    """(action, resource ARN, request context) for one recorded call."""
    action = f"{service}:{ACTION_OF.get((service, operation), operation)}"
    if service == "dynamodb":
        return [(action, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params['TableName']}", {})]
    if service == "s3":
        if operation in ("ListBucket", "ListObjectsV2"):  # ListObjectsV2 is authorized as s3:ListBucket
            return [("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}", {})]
        if operation == "DeleteObjects":  # authorized per key, as s3:DeleteObject
            return [("s3:DeleteObject", f"arn:aws:s3:::{params['Bucket']}/{item['Key']}", {})
                    for item in params["Delete"]["Objects"]]
        if operation == "CopyObject":
            source = params["CopySource"]
            source = source if isinstance(source, dict) else dict(zip(("Bucket", "Key"), source.split("/", 1)))
            return [("s3:GetObject", f"arn:aws:s3:::{source['Bucket']}/{source['Key']}", {}),
                    ("s3:PutObject", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}", {})]
        return [(action, f"arn:aws:s3:::{params['Bucket']}/{params['Key']}", {})]
    if service == "states":
        if "taskToken" in params:  # a task token of a service integration's Task: IAM has no resource for it
            return [(action, "*", {})]
        return [(action, params.get("stateMachineArn") or params["executionArn"], {})]
    if service == "secretsmanager":
        return [(action, params["SecretId"], {})]
    if service == "events":
        return [(action, _bus_arn(entry.get("EventBusName", "default")), {}) for entry in params["Entries"]]
    if service == "bedrock":
        model = params["modelId"]
        if model.split(".", 1)[0] in INFERENCE_PROFILE_GEOGRAPHIES:
            profile = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{model}"
            foundation = model.split(".", 1)[1]
            return [(action, profile, {})] + [
                (action, f"arn:aws:bedrock:{region}::foundation-model/{foundation}", {"bedrock:InferenceProfileArn": profile})
                for region in PROFILE_REGIONS[model]]
        return [(action, f"arn:aws:bedrock:{REGION}::foundation-model/{model}", {})]
    raise AssertionError(f"no IAM mapping for {service}:{operation}; add it to call_requirements")


def _bus_arn(name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"


def function_requirements(calls: dict, function: str) -> set[tuple[str, str, str]]:
    needs = set()
    made = calls.get(function, [])
    if any(service == DATABASE for service, _, _ in made):
        made = made + calls[DATABASE]  # it opens the database: what the connection code calls
    for service, operation, params in made:
        if service != DATABASE:
            needs |= {(a, r, json.dumps(c, sort_keys=True)) for a, r, c in call_requirements(service, operation, params)}
    # From the template, not the code: Lambda delivers a failed asynchronous event to the function's
    # OnFailure destination with the function's role.
    for config in DEPLOYED.of_type("AWS::Lambda::EventInvokeConfig").values():
        if config["Properties"]["FunctionName"] == DEPLOYED.resources[function]["Properties"].get("FunctionName", function) \
                or config["Properties"]["FunctionName"] == f"coursegen-{function}":
            destination = config["Properties"].get("DestinationConfig", {}).get("OnFailure", {})
            if destination.get("Destination", "").startswith("arn:aws:sqs:"):
                needs.add(("sqs:SendMessage", destination["Destination"], "{}"))
    return needs


def state_machine_requirements(machine: str = "CourseGenerationStateMachine") -> set[tuple[str, str, str]]:
    """From the ASL: each Task's integration, on the resource its parameters name."""
    definition = DEPLOYED.resources[machine]["Properties"]
    text = definition["DefinitionString"] if isinstance(definition.get("DefinitionString"), str) else None
    if text is None:  # SAM keeps the file path: read it, substituted as deployed
        from coursegen_local.template import SamTemplate
        text = SamTemplate().state_machine_definition(REGION, machine)
    needs = set()
    for state in _tasks(json.loads(text)["States"]):
        resource, parameters = state["Resource"], state.get("Parameters", {})
        if resource in ("arn:aws:states:::lambda:invoke", "arn:aws:states:::lambda:invoke.waitForTaskToken"):
            needs.add(("lambda:InvokeFunction", parameters["FunctionName"], "{}"))
        elif resource == "arn:aws:states:::states:startExecution":  # started, not waited for: the machine only
            needs.add(("states:StartExecution", parameters["StateMachineArn"], "{}"))
        elif resource.startswith("arn:aws:states:::dynamodb:"):
            operation = resource.rsplit(":", 1)[1]
            needs.add((f"dynamodb:{operation[0].upper()}{operation[1:]}",
                       f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{parameters['TableName']}", "{}"))
        elif resource == "arn:aws:states:::events:putEvents":
            needs |= {("events:PutEvents", _bus_arn(entry["EventBusName"]), "{}") for entry in parameters["Entries"]}
        elif resource == "arn:aws:states:::states:startExecution.sync:2":
            # AWS: "IAM policies for Step Functions": the child machine; its executions, to wait and stop;
            # the rule Step Functions manages to hear their ends.
            child = parameters["StateMachineArn"]
            executions = child.replace(":stateMachine:", ":execution:")
            needs |= {("states:StartExecution", child, "{}"),
                      ("states:DescribeExecution", executions + ":*", "{}"), ("states:StopExecution", executions + ":*", "{}")}
            rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
            needs |= {(f"events:{a}", rule, "{}") for a in ("PutTargets", "PutRule", "DescribeRule")}
        else:
            raise AssertionError(f"no IAM mapping for the integration {resource}")
    # Table (a property of the template, not the ASL): Step Functions' log delivery needs these on "*".
    needs |= {(f"logs:{a}", "*", "{}") for a in ("CreateLogDelivery", "GetLogDelivery", "UpdateLogDelivery", "DeleteLogDelivery",
                                                 "ListLogDeliveries", "PutResourcePolicy", "DescribeResourcePolicies",
                                                 "DescribeLogGroups")}
    return needs


def _tasks(states: dict):
    for state in states.values():
        if state["Type"] == "Task":
            yield state
        for branch in [state.get("ItemProcessor") or state.get("Iterator")] + state.get("Branches", []):
            if branch:
                yield from _tasks(branch["States"])


# -- IAM evaluation (Allow statements: actions, resources with wildcards, String conditions) --------
def _allows(statement: dict, action: str, resource: str, context: dict) -> bool:
    if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in statement["Action"]):
        return False
    if not any(fnmatch.fnmatchcase(resource, r) for r in statement["Resource"]):
        return False
    for operator, tests in statement.get("Condition", {}).items():
        for key, expected in tests.items():
            expected = expected if isinstance(expected, list) else [expected]
            if key not in context:
                return False
            match = fnmatch.fnmatchcase if operator == "StringLike" else (lambda v, e: v == e)
            if operator not in ("StringEquals", "StringLike") or not any(match(context[key], e) for e in expected):
                return False
    return True


def compare(role: str, needs: set[tuple[str, str, str]]) -> tuple[list, list]:
    statements = DEPLOYED.statements(role)
    missing = sorted((a, r) for a, r, c in needs if not any(_allows(s, a, r, json.loads(c)) for s in statements))
    extra = []
    for statement in statements:
        for action in statement["Action"]:
            for resource in statement["Resource"]:
                one = statement | {"Action": [action], "Resource": [resource]}
                if not any(_allows(one, a, r, json.loads(c)) for a, r, c in needs):
                    extra.append((action, resource))
    return missing, extra


FUNCTIONS = sorted(DEPLOYED.of_type("AWS::Lambda::Function"))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_role_allows_exactly_what_its_code_calls(recorded, function):
    assert recorded.get(function), f"{function} never ran in the scenarios: add one that runs it"
    role = DEPLOYED.resources[function]["Properties"]["Role"]
    role = role.split(":role/")[-1] if isinstance(role, str) and ":role/" in role else f"{function}Role"
    missing, extra = compare(role, function_requirements(recorded, function))
    assert not missing, f"{function} calls what its role does not allow: {missing}"
    assert not extra, f"{function}'s role allows what its code never calls: {extra}"


@pytest.mark.parametrize("machine", ["CourseGenerationStateMachine", "CourseContentStateMachine", "CoursePublishingStateMachine",
                                     "CourseReviewStateMachine"])
def test_the_state_machine_role_allows_exactly_its_integrations(machine):
    missing, extra = compare(f"{machine}Role", state_machine_requirements(machine))
    assert not missing and not extra, (missing, extra)


def test_database_settings_and_the_vpc_only_on_the_functions_that_open_the_database(recorded):
    opens = {f for f in FUNCTIONS if any(service == DATABASE for service, _, _ in recorded.get(f, []))}
    assert opens == {"SearchBooksFunction", "StoreCourseFunction", "BuildBookFunction", "ApiFunction",
                     "IngestBooksFunction", "BuildSiteFunction", "WriteEvidencePackFunction",
                     # the review stage: the lifecycle is in PostgreSQL
                     "EnterReviewFunction", "AwaitDecisionFunction", "ExpireReviewFunction", "NoteReviewFailureFunction",
                     "RewriteLessonsFunction", "ApplyOutlineDecisionFunction", "ReviewEndedFunction"}  # README says so
    for name in FUNCTIONS:
        props = DEPLOYED.resources[name]["Properties"]
        variables = props.get("Environment", {}).get("Variables", {})
        has_db = {k for k in variables if k.startswith("DB_")}
        assert (has_db == {"DB_SECRET_ARN", "DB_HOST", "DB_NAME"}) == (name in opens), (name, has_db)
        assert ("VpcConfig" in props) == (name in opens), name
    assert not any(k.startswith("DB_") for k in DEPLOYED.template.get("Globals", {}).get("Function", {})
                   .get("Environment", {}).get("Variables", {}))


@pytest.mark.parametrize(("model", "expected"), [
    ("anthropic.claude-3-haiku-20240307-v1:0", ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"]),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", [
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"]),
])
def test_bedrock_is_scoped_to_the_configured_model(model, expected):
    deployed = Deployed({"LlmModelId": model})
    for role in ("PlanPartsFunctionRole", "ExpandPartFunctionRole", "ReviewOutlineFunctionRole"):
        granted = [r for s in deployed.statements(role) if "bedrock:InvokeModel" in s["Action"] for r in s["Resource"]]
        assert granted == expected, role
    openai = Deployed({"LlmProvider": "openai"})
    assert not [s for role in openai.of_type("AWS::IAM::Role") for s in openai.statements(role)
                if any(a.startswith("bedrock:") for a in s["Action"])]


# The service each recorded call reaches, as a VPC endpoint names it.
# sqs: an OnFailure destination is written by the Lambda service, not from the function's network.
ENDPOINT_OF = {"dynamodb": "dynamodb", "s3": "s3", "secretsmanager": "secretsmanager", "states": "states",
               "bedrock": "bedrock-runtime", "events": "events", "sqs": None}


def test_the_vpc_has_an_endpoint_for_exactly_the_services_its_functions_call(recorded):
    in_vpc = [f for f in FUNCTIONS if "VpcConfig" in DEPLOYED.resources[f]["Properties"]]
    called = {ENDPOINT_OF[a.split(":")[0]] for f in in_vpc for a, _, _ in function_requirements(recorded, f)} - {None}
    endpoints = {e["Properties"]["ServiceName"].rsplit(".", 1)[-1] for e in DEPLOYED.of_type("AWS::EC2::VPCEndpoint").values()}
    assert endpoints == called
