"""The course API (API Gateway REST, Powertools resolver with pydantic validation).

POST /courses answers 202 at once and starts the workflow; clients poll
GET /courses/{course_id}/status, then read GET /courses/{course_id}. Every read is scoped to
the calling principal: another principal's course is a 404, like an unknown one.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import uuid
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from coursegen.bootstrap import course_service, review_service
from coursegen.errors import (
    CourseNotFound,
    CourseNotReady,
    DatabaseUnavailable,
    DecisionInvalid,
    StagingFailed,
    TransitionNotAllowed,
    IdempotencyConflict,
    LanguageNotWritten,
    NotResumable,
    StoreThrottled,
    Unauthenticated,
    WorkflowUnavailable,
)
from coursegen.domain.artifacts import EXPORT_FORMATS
from coursegen.models import COURSE_ID_PATTERN, CourseRequest
from coursegen.services.review import DecisionRequest

logger = Logger(service="coursegen")
tracer = Tracer(service="coursegen")
app = APIGatewayRestResolver(enable_validation=True)

CourseId = Annotated[str, Path(pattern=COURSE_ID_PATTERN, description="The course id POST /courses returned")]
LessonId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$", description="A lesson id GET /courses/{course_id}/lessons listed")]
LabId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$", description="A lab id GET /courses/{course_id}/labs listed")]


class Accepted(BaseModel):
    course_id: str
    status: str = Field(description="Always 'processing' at first")
    status_url: str = Field(description="Poll this until status is complete or error")


class Problem(BaseModel):
    message: str
    errors: list[dict[str, Any]] = Field(default_factory=list)


class Conflict(Problem):
    """A decision the course's lifecycle state does not allow (409)."""

    workflow_state: str | None = Field(None, description="Where the course is: DRAFT, REVIEW, PUBLISH_READY, ...")
    allowed_decisions: list[str] = Field(default_factory=list, description="What may be decided there now")


_TENANT_NAMESPACE = uuid.UUID("0c6a3f4e-2b7d-5e19-8f41-7d2c9a6b5e30")


_ASSUMED_ROLE = re.compile(r"^arn:(aws[\w-]*):sts::(\d+):assumed-role/([^/]+)/")


def principal() -> str:
    """Who is calling: a Cognito user-pool user (sub), a Cognito identity-pool identity, an IAM
    user, or an IAM role. Every session of a role is the same principal: a tenant per role (give
    each tenant its own role, or use Cognito users)."""
    context = app.current_event.request_context
    claims = ((context.authorizer.raw_event or {}).get("claims") or {}) if context.authorizer else {}
    if claims.get("sub"):
        return f"cognito:{claims['sub']}"
    if context.identity.cognito_identity_id:
        return f"cognito-identity:{context.identity.cognito_identity_id}"
    arn = context.identity.user_arn or ""
    if role := _ASSUMED_ROLE.match(arn):
        return f"iam:arn:{role[1]}:iam::{role[2]}:role/{role[3]}"
    if arn:
        return f"iam:{arn}"
    raise Unauthenticated("No authenticated caller: call the API with IAM (SigV4) or a Cognito token.")


def owner() -> str:
    """The caller as an opaque tenant id (uuid5 of the principal): stable, so ownership holds;
    opaque, so no user name or email reaches the state, the database or the events."""
    return str(uuid.uuid5(_TENANT_NAMESPACE, principal()))


REVIEWERS_GROUP = "reviewers"  # members of this Cognito group may review any course, not only their own


def decides_for() -> str | None:
    """Whose courses the caller may review: its own (its owner id), or any (None) for a member of
    the user pool's reviewers group."""
    context = app.current_event.request_context
    claims = ((context.authorizer.raw_event or {}).get("claims") or {}) if context.authorizer else {}
    groups = claims.get("cognito:groups") or ""
    groups = groups if isinstance(groups, list) else str(groups).strip("[]").replace(",", " ").split()
    return None if REVIEWERS_GROUP in groups else owner()


def base_path() -> str:
    """The stage prefix the client called through ('/v1' in AWS, '' locally), for the URLs we return."""
    event = app.current_event
    full, path = event.request_context.path or "", event.path or ""
    return full[: -len(path)] if path and full.endswith(path) else ""


MAX_BODY_BYTES = 64 * 1024
JSON_ONLY = "Send the body as JSON (Content-Type: application/json)."


def _refusal(status: HTTPStatus, message: str, field: str, reason: str) -> dict:
    return {"statusCode": int(status), "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": json.dumps({"message": message, "errors": [{"field": field, "reason": reason}]}),
            "isBase64Encoded": False}


def refuse_early(event: dict) -> dict | None:
    """A 400/413/415 proxy response for bodies the resolver's own parsing would choke on: not JSON
    by content type (a multipart header without a boundary raises inside it), not UTF-8, nested
    too deep, numbers of thousands of digits, or absurdly large. None for every other request.
    Checked before the resolver, whose validation parses the body before any middleware could.
    A base64 body (API Gateway's binary media types; `coursegen serve` for bytes that are not
    UTF-8) is decoded strictly here, so both reach the same check."""
    body = event.get("body")
    if not body:
        return None
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    media_type = (headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _refusal(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, JSON_ONLY, "header.Content-Type", "must be application/json")
    try:
        data = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8", "replace")
        text = data.decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError
        return _refusal(HTTPStatus.BAD_REQUEST, "Invalid request: body: not valid UTF-8", "body", "not valid UTF-8")
    if len(data) > MAX_BODY_BYTES:
        reason = f"over {MAX_BODY_BYTES} bytes"
        return _refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"Request body {reason}.", "body", reason)
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return _refusal(HTTPStatus.BAD_REQUEST, "Invalid request: body: not valid JSON", "body", "not valid JSON")
    except RecursionError:
        return _refusal(HTTPStatus.BAD_REQUEST, "Invalid request: body: nested too deeply", "body", "nested too deeply")
    except ValueError:  # json refuses integers longer than sys.get_int_max_str_digits()
        reason = f"a number of over {sys.get_int_max_str_digits()} digits"
        return _refusal(HTTPStatus.BAD_REQUEST, f"Invalid request: body: {reason}", "body", reason)
    return None


def _media_type_lowercased(event: dict) -> dict:
    """The event with Content-Type's media type in lower case: media types are case-insensitive
    (RFC 9110), but the resolver compares them as sent ('APPLICATION/JSON' would be a 415)."""
    def lowered(key: str, value: str) -> str:
        if key.lower() != "content-type" or not isinstance(value, str):
            return value
        media_type, semicolon, parameters = value.partition(";")
        return media_type.strip().lower() + semicolon + parameters

    headers, multi = event.get("headers"), event.get("multiValueHeaders")
    return {**event,
            "headers": headers and {key: lowered(key, value) for key, value in headers.items()},
            "multiValueHeaders": multi and {key: [lowered(key, v) for v in values] for key, values in multi.items()}}


def _accepted(accepted) -> Response:
    """202 with the status URL to poll, in the body and as Location."""
    body = accepted.body(f"{base_path()}/courses/{accepted.course_id}/status")
    return Response(status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=body,
                    headers={"Location": body["status_url"]})


def _problem(status: HTTPStatus, message: str, errors: list[dict] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"message": message, "errors": errors or []},
    )


def _field(loc) -> str:
    """A problem's field as a client names it: lessons[0].lesson_id ("body" for the body as a whole)."""
    field = ""
    for part in loc:
        if part == "body":
            continue
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return field or "body"


@app.exception_handler(RequestValidationError)
def _bad_request(error: RequestValidationError) -> Response:
    errors = [{"field": _field(e["loc"]), "reason": e["msg"].removeprefix("Value error, ")} for e in error.errors()]
    summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return _problem(HTTPStatus.BAD_REQUEST, f"Invalid request: {summary}", errors)


# Domain errors whose message is the answer, by the status they mean.
_STATUS_OF = {
    Unauthenticated: HTTPStatus.UNAUTHORIZED,
    CourseNotFound: HTTPStatus.NOT_FOUND,
    CourseNotReady: HTTPStatus.CONFLICT,
    NotResumable: HTTPStatus.CONFLICT,
    IdempotencyConflict: HTTPStatus.CONFLICT,
}


@app.exception_handler(list(_STATUS_OF))
def _domain_error(error: Exception) -> Response:
    return _problem(_STATUS_OF[type(error)], str(error))


@app.exception_handler(TransitionNotAllowed)
def _not_allowed(error: TransitionNotAllowed) -> Response:
    """409: the decision does not fit where the course is; the body says where it is and what it allows."""
    return Response(status_code=HTTPStatus.CONFLICT, content_type=content_types.APPLICATION_JSON,
                    body={"message": str(error), "errors": [], "workflow_state": error.current or None,
                          "allowed_decisions": error.allowed})


@app.exception_handler(DecisionInvalid)
def _decision_invalid(error: DecisionInvalid) -> Response:
    return _problem(HTTPStatus.BAD_REQUEST, f"Invalid request: {error}", [{"field": error.field, "reason": error.reason}])


@app.exception_handler(LanguageNotWritten)
def _language_not_written(error: LanguageNotWritten) -> Response:
    return _problem(HTTPStatus.BAD_REQUEST, f"Invalid request: {error}",
                    [{"field": "language", "reason": str(error).removeprefix("language: ")}])


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_media(error: RequestUnsupportedContentType) -> Response:
    return _problem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, JSON_ONLY,
                    [{"field": "header.Content-Type", "reason": "must be application/json"}])


@app.exception_handler([StoreThrottled, WorkflowUnavailable, DatabaseUnavailable, StagingFailed])
def _unavailable(error: Exception) -> Response:
    response = _problem(HTTPStatus.SERVICE_UNAVAILABLE, f"{error} Retry in a few seconds.")
    response.headers["Retry-After"] = "5"
    return response


@app.exception_handler(Exception)
def _internal(error: Exception) -> Response:
    logger.exception("unhandled error")
    request_id = app.current_event.request_context.request_id
    return _problem(HTTPStatus.INTERNAL_SERVER_ERROR, f"Internal error (request {request_id}); nothing was started twice.")


@app.exception_handler(NotFoundError)
def _no_route(error: NotFoundError) -> Response:
    """404 for a path no route has; 405 with Allow for a path routed for other methods only.
    (Powertools keeps its routes in _static_routes/_dynamic_routes; it has no 405 of its own.)"""
    path = app.current_event.path
    allowed = {route.method for route in app._static_routes + app._dynamic_routes if route.rule.match(path)}
    if not allowed:
        return _problem(HTTPStatus.NOT_FOUND, "No such resource: see the API's OpenAPI document (openapi.json).")
    allow = ", ".join(sorted(allowed | ({"HEAD"} if "GET" in allowed else set())))
    response = _problem(HTTPStatus.METHOD_NOT_ALLOWED,
                        f"{app.current_event.http_method} is not allowed on {path}; allowed: {allow}.")
    response.headers["Allow"] = allow
    return response


@app.post(
    "/courses",
    summary="Request a course",
    description="Validates the request, starts generation and answers at once. An Idempotency-Key makes a retried "
    "request return the same course and start nothing new.",
    responses={202: {"description": "Accepted", "content": {"application/json": {"model": Accepted}}},
               400: {"description": "Invalid request", "content": {"application/json": {"model": Problem}}},
               409: {"description": "Idempotency-Key reused with another request, or used more than 7 days ago",
                     "content": {"application/json": {"model": Problem}}},
               413: {"description": "Body too large", "content": {"application/json": {"model": Problem}}},
               415: {"description": "Body is not JSON", "content": {"application/json": {"model": Problem}}},
               503: {"description": "Could not start now; retry after Retry-After seconds",
                     "content": {"application/json": {"model": Problem}}}},
)
def request_course(
    request: CourseRequest,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response[Accepted]:
    return _accepted(course_service().request_course(request, owner(), idempotency_key))


@app.post("/courses/<course_id>/resume", summary="Resume a failed course",
          description="Runs the failed course again under its id; finished work (plan, expanded parts) is reused.",
          responses={202: {"description": "Accepted", "content": {"application/json": {"model": Accepted}}},
                     404: {"description": "No such course", "content": {"application/json": {"model": Problem}}},
                     409: {"description": "The course has not failed", "content": {"application/json": {"model": Problem}}}})
def resume_course(course_id: CourseId) -> Response[Accepted]:
    return _accepted(course_service().resume(course_id, owner()))


@app.get("/courses/<course_id>/status", summary="Poll a course's status, phase and progress",
         responses={200: {"description": "status (processing|complete|error), phase, progress with a percent that "
                               "only moves forward, and the error when there is one"},
                    404: {"description": "No such course", "content": {"application/json": {"model": Problem}}}})
def course_status(course_id: CourseId) -> dict:
    return course_service().status(course_id, owner())


@app.get("/courses/<course_id>", summary="Read a stored course: parts, sections, minutes and sources",
         responses={200: {"description": "The course: title, parts, sections with minutes and cited book ids, sources"},
                    404: {"description": "No such course", "content": {"application/json": {"model": Problem}}},
                    409: {"description": "Not generated yet", "content": {"application/json": {"model": Problem}}}})
def get_course(course_id: CourseId) -> dict:
    return course_service().course(course_id, owner(), base_path=base_path())


@app.get("/courses/<course_id>/lessons", summary="List a course's lessons: id, title, minutes, words, status",
         responses={200: {"description": "The lessons in course order (the latest revision of each)"},
                    404: {"description": "No such course", "content": {"application/json": {"model": Problem}}},
                    409: {"description": "The lessons are not written yet", "content": {"application/json": {"model": Problem}}}})
def list_lessons(course_id: CourseId) -> dict:
    return course_service().lessons(course_id, owner(), base_path=base_path())


@app.get("/courses/<course_id>/lessons/<lesson_id>", summary="Read one lesson: its Markdown and metadata",
         responses={200: {"description": "The lesson: Markdown, title, minutes, words, objective and book ids, status"},
                    404: {"description": "No such course or lesson", "content": {"application/json": {"model": Problem}}}})
def get_lesson(course_id: CourseId, lesson_id: LessonId) -> dict:
    return course_service().lesson(course_id, lesson_id, owner())


@app.get("/courses/<course_id>/labs", summary="List a course's labs (theory_and_labs): id, part, title, objectives, status",
         responses={200: {"description": "One lab per part, in part order (the latest revision of each); none for a "
                               "theory course"},
                    404: {"description": "No such course", "content": {"application/json": {"model": Problem}}},
                    409: {"description": "The lessons and labs are not written yet",
                          "content": {"application/json": {"model": Problem}}}})
def list_labs(course_id: CourseId) -> dict:
    return course_service().labs(course_id, owner(), base_path=base_path())


@app.get("/courses/<course_id>/labs/<lab_id>", summary="Read one lab: its Markdown and metadata",
         responses={200: {"description": "The lab: Markdown, part, title, objective and book ids, status"},
                    404: {"description": "No such course or lab", "content": {"application/json": {"model": Problem}}}})
def get_lab(course_id: CourseId, lab_id: LabId) -> dict:
    return course_service().lab(course_id, lab_id, owner())


@app.get("/courses/<course_id>/quiz", summary="Read a course's quiz: every question with its options, answer and explanation",
         responses={200: {"description": "The quiz: quiz_id, title and questions (question_id, kind, stem, options, "
                               "correct_index, explanation, lesson_id, objective_id)"},
                    404: {"description": "No such course, or it has no quiz", "content": {"application/json": {"model": Problem}}},
                    409: {"description": "Not published yet", "content": {"application/json": {"model": Problem}}}})
def get_quiz(course_id: CourseId) -> dict:
    return course_service().quiz(course_id, owner(), base_path=base_path())


ExportFormat = Annotated[str, Path(pattern=r"^(scorm|qti|gift)$",
                                   description="scorm (SCORM 1.2 zip), qti (the quiz as QTI 2.1 zip) or gift (the quiz as Moodle GIFT)")]


@app.get("/courses/<course_id>/exports/<export_format>", summary="Download a package for a learning platform",
         description="In AWS a presigned URL to the file (valid 15 minutes); offline the file itself.",
         responses={200: {"description": "{url, expires_in, file_name, media_type} in AWS; the file offline"},
                    404: {"description": "No such course, or no such package (QTI and GIFT need a quiz)",
                          "content": {"application/json": {"model": Problem}}},
                    409: {"description": "The course is still generating, failed or is a dry run",
                          "content": {"application/json": {"model": Problem}}}})
def get_export(course_id: CourseId, export_format: ExportFormat):
    answer = course_service().export(course_id, export_format, owner(), base_path=base_path())
    if isinstance(answer, dict):
        return answer
    name, media_type = EXPORT_FORMATS[export_format]
    return Response(status_code=HTTPStatus.OK, content_type=media_type, body=answer,
                    headers={"Content-Disposition": f'attachment; filename="{course_id}-{name}"'})


@app.get("/courses/<course_id>/review", summary="What a course's review waits for: its lifecycle state, lessons, history",
         responses={200: {"description": "workflow_state, waiting_for (null, outline_approval or review), the decisions "
                               "allowed now, the lessons with their revisions, every transition so far"},
                    404: {"description": "No such course (or not yours)", "content": {"application/json": {"model": Problem}}}})
def get_review(course_id: CourseId) -> dict:
    return review_service().view(course_id, decides_for())


@app.post("/courses/<course_id>/review", summary="Decide: submit, approve, request changes on lessons, or reject",
          description="submit (a DRAFT) starts a review. On a waiting review: approve (-> PUBLISH_READY), request_changes "
          "with lessons [{lesson_id, feedback}] (those lessons rewritten, then REVIEW again) or reject (-> DRAFT). On a "
          "waiting outline: approve (with `outline`, an edited outline, to replace it) or request_changes with `feedback` "
          "(a re-plan). The same decision again answers 200 with the same outcome; a conflicting one 409.",
          responses={200: {"description": "The decision's outcome: workflow_state, waiting_for, the transition"},
                     400: {"description": "A lesson id that is not the course's, feedback missing or too long, an "
                                          "edited outline that does not parse or misses the time budget",
                           "content": {"application/json": {"model": Problem}}},
                     404: {"description": "No such course (or not yours)", "content": {"application/json": {"model": Problem}}},
                     409: {"description": "Not allowed where the course is (the body names its state and the allowed "
                                          "decisions), still generating, or another decision came first",
                           "content": {"application/json": {"model": Conflict}}}})
def decide_review(course_id: CourseId, decision: DecisionRequest) -> dict:
    return review_service().decide(course_id, decides_for(), owner(), decision)


@app.post("/courses/<course_id>/publish", summary="Publish an approved course (PUBLISH_READY -> PUBLISHED)",
          description="Its site goes live under the published sites' address (the answer's url). Again: 200, the same.",
          responses={200: {"description": "workflow_state PUBLISHED and the site's url"},
                     404: {"description": "No such course (or not yours)", "content": {"application/json": {"model": Problem}}},
                     409: {"description": "Not PUBLISH_READY", "content": {"application/json": {"model": Conflict}}}})
def publish_course(course_id: CourseId) -> dict:
    return review_service().publish(course_id, decides_for(), owner())


@app.post("/courses/<course_id>/archive", summary="Archive a course (-> ARCHIVED): unpublished, its content kept",
          responses={200: {"description": "workflow_state ARCHIVED"},
                     404: {"description": "No such course (or not yours)", "content": {"application/json": {"model": Problem}}},
                     409: {"description": "In REVIEW (decide first) or archived already by another decision",
                           "content": {"application/json": {"model": Conflict}}}})
def archive_course(course_id: CourseId) -> dict:
    return review_service().archive(course_id, decides_for(), owner())


@app.get("/courses", summary="List your courses, newest first")
def list_courses(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: Annotated[str | None, Query(description="The 'next' value of the previous page (a course id)",
                                       pattern=COURSE_ID_PATTERN)] = None,
) -> dict:
    service, caller = course_service(), owner()
    page = service.list(caller, limit=limit, before=after)
    # An unknown cursor always gives an empty page; only then is it looked up.
    if after and not page["courses"] and service.courses.get_course(after, owner=caller) is None:
        raise RequestValidationError([{"loc": ("query", "after"), "type": "value_error",
                                       "msg": "unknown cursor: not the 'next' of one of your pages"}])
    return page


def openapi_document() -> str:
    """The OpenAPI document the resolver describes (committed as openapi.json; a test keeps them equal).
    Invalid input is answered 400 with the field and the reason (see _bad_request), not Powertools'
    default 422, so the document says so."""
    document = json.loads(
        app.get_openapi_json_schema(
            title="coursegen API",
            version="1.0.0",
            description="Grounded course outlines: request a course, poll its status, read it.",
        )
    )
    problem = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            if responses.pop("422", None) is not None:
                responses.setdefault("400", {"description": "Invalid request", **problem})
            responses.setdefault("401", {"description": "No authenticated caller", **problem})
            responses.setdefault("500", {"description": "Internal error", **problem})
    document["components"]["schemas"].pop("HTTPValidationError", None)
    document["components"]["schemas"].pop("ValidationError", None)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return refuse_early(event) or app.resolve(_media_type_lowercased(event), context)
