"""The publishing stage (statemachine/course_publishing.asl.json) through the local runner: after
the lessons, a quiz, a landing page, the course site and its packages, staging and the evidence
pack, with seed 004's events in order; each artifact can be turned off; a step failing for good
fails the course with its phase and cause and publishes nothing half-made, the lessons readable."""

from __future__ import annotations

import json

import pytest

from coursegen.domain.artifacts import EXPORT_FORMATS, evidence_key, export_key, site_prefix
from coursegen.models import CourseRequest, Price
from coursegen_local.faults import Fault, UnreachableLlm

pytestmark = pytest.mark.workflow

STAGED = CourseRequest(query="Learn DCF valuation", hours=2, deploy_to_staging=True,
                       price=Price(amount=49, currency="EUR"))
SEED_004_ORDER = ["course.generation.requested", "course.outline.created", "course.lesson.generated",
                  "course.quiz.created", "course.landing_page.created", "course.deployed.staging",
                  "course.generation.completed"]


def keys(runner, bucket: str, prefix: str) -> list[str]:
    s3 = runner.container._aws("s3")
    return sorted(item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                  for item in page.get("Contents", []))


def payload_keys(runner, prefix: str) -> list[str]:
    return keys(runner, runner.container.settings.payload_bucket, prefix)


def staged_keys(runner, course_id: str) -> list[str]:
    return keys(runner, runner.container.settings.staging_bucket, f"{course_id}/")


def test_a_staged_course_publishes_every_artifact_and_the_seed_004_events_in_order(run_workflow, clean_courses):
    result, runner = run_workflow(STAGED)
    assert result.execution_status == "SUCCEEDED" and result.status["status"] == "complete", result.status
    course_id = result.course_id

    quiz = clean_courses.get_quiz(course_id)
    assert quiz is not None and 10 <= len(quiz.questions) <= 15
    assert result.status["quiz_id"] == quiz.quiz_id and result.status["quiz_questions_count"] == len(quiz.questions)
    site = payload_keys(runner, site_prefix(course_id))
    lessons = clean_courses.list_lessons(course_id)
    assert {f"{site_prefix(course_id)}{page}" for page in ("index.html", "quiz.html", "sources.html", "styles.css")} <= set(site)
    assert sum("/lessons/" in key for key in site) == len(lessons)
    for export_format in EXPORT_FORMATS:
        assert export_key(course_id, export_format) in payload_keys(runner, export_key(course_id, export_format))
    staged = staged_keys(runner, course_id)
    assert [key.removeprefix(f"{course_id}/") for key in staged] == [key.removeprefix(site_prefix(course_id)) for key in site]
    assert result.status["staging_url"] == f"http://127.0.0.1:8080/staging/{course_id}/index.html"
    assert result.status["evidence_pack_path"] == evidence_key(course_id)

    events = runner.published_events()
    assert not runner.invalid_events, runner.invalid_events  # each one its schema, its source, under 1 KB
    kinds = [event["detail-type"] for event in events]
    assert [kind for i, kind in enumerate(kinds) if i == 0 or kinds[i - 1] != kind] == SEED_004_ORDER
    assert kinds.count("course.lesson.generated") == len(lessons)
    payload = {event["detail-type"]: event["detail"]["payload"] for event in events}
    assert payload["course.quiz.created"]["question_ids"] == quiz.question_ids
    assert payload["course.landing_page.created"]["has_pricing"] is True
    assert payload["course.landing_page.created"]["landing_page_id"] == result.status["landing_page_id"]
    assert payload["course.deployed.staging"]["staging_url"] == result.status["staging_url"]
    completed = payload["course.generation.completed"]
    assert completed["quiz_questions_count"] == len(quiz.questions) and completed["deployed"] is True
    assert completed["staging_url"] == result.status["staging_url"]
    assert completed["evidence_pack_path"] == evidence_key(course_id)
    assert payload["course.generation.requested"]["title"] == "Learn DCF valuation"
    assert payload["course.outline.created"]["template_id"] == "custom"
    # what the run decided, not a constant in the ASL
    assert payload["course.generation.requested"]["dry_run"] is False
    assert payload["course.generation.requested"]["full_lessons_count"] is None


def test_no_quiz_no_landing_page_and_no_staging_when_the_request_says_so(run_workflow, clean_courses):
    request = CourseRequest(query="Learn DCF valuation", hours=2, generate_quiz=False, generate_landing_page=False)
    result, runner = run_workflow(request)
    assert result.status["status"] == "complete", result.status
    course_id = result.course_id
    assert clean_courses.get_quiz(course_id) is None and result.status["quiz_id"] is None
    assert result.status["landing_page_id"] is None and result.status["staging_url"] is None
    assert export_key(course_id, "scorm") in payload_keys(runner, export_key(course_id, "scorm"))
    assert not payload_keys(runner, export_key(course_id, "qti")) and not payload_keys(runner, export_key(course_id, "gift"))
    assert not staged_keys(runner, course_id)
    kinds = {event["detail-type"] for event in runner.published_events()}
    assert not kinds & {"course.quiz.created", "course.landing_page.created", "course.deployed.staging"}
    assert "course.generation.completed" in kinds and not runner.invalid_events


def test_a_quiz_failing_for_good_fails_the_course_in_writing_quiz_and_keeps_its_lessons_readable(run_workflow, clean_courses):
    result, runner = run_workflow(STAGED, llm=UnreachableLlm("quiz.generate", lambda variables: True))
    assert result.status["status"] == "error", result.status
    assert result.status["error"]["phase"] == "writing_quiz" and "Quiz" in result.status["error"]["message"]
    course_id = result.course_id
    assert clean_courses.list_lessons(course_id)  # written and stored before the quiz
    assert clean_courses.get_quiz(course_id) is None
    assert not payload_keys(runner, site_prefix(course_id)) and not staged_keys(runner, course_id)  # nothing half-published
    events = runner.published_events()
    kinds = [event["detail-type"] for event in events]
    assert "course.generation.failed" in kinds and "course.generation.completed" not in kinds
    assert not runner.invalid_events, runner.invalid_events


def test_a_staging_upload_failing_leaves_nothing_staged_and_records_the_cause(run_workflow, clean_courses):
    def break_uploads(runner, payload):
        s3 = runner.container.staging.s3
        real = s3.put_object
        calls = {"n": 0}

        def failing(**parameters):  # the third file fails: two are up, and must not stay
            calls["n"] += 1
            if calls["n"] == 3:
                from botocore.exceptions import ClientError
                raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "PutObject")
            return real(**parameters)

        s3.put_object = failing

    result, runner = run_workflow(STAGED, faults=[Fault(step="DeployToStaging", error="", times=-1, before=break_uploads)])
    assert result.status["status"] == "error", result.status
    assert result.status["error"]["phase"] == "deploying_staging"
    assert result.status["error"]["type"] == "StagingFailed" and "nothing is staged" in result.status["error"]["message"]
    assert not staged_keys(runner, result.course_id) and result.status["staging_url"] is None
    assert clean_courses.list_lessons(result.course_id) and clean_courses.get_quiz(result.course_id) is not None


def test_the_evidence_pack_hashes_what_was_published(run_workflow):
    result, runner = run_workflow(STAGED)
    manifest = json.loads(runner.payload(evidence_key(result.course_id)))
    assert "owner" not in json.dumps(manifest["request"])
    listed = {artifact["key"] for artifact in manifest["artifacts"]}
    assert export_key(result.course_id, "scorm") in listed and f"{site_prefix(result.course_id)}index.html" in listed
    assert {check["name"] for check in manifest["checks"]} >= {"time_budget", "lesson_lengths", "quiz_schema"}
    assert manifest["steps"]["generate_batch"]["input_tokens"] > 0 and manifest["steps"]["generate_quiz"]["calls"] >= 1
