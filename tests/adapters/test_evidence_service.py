"""WriteEvidencePack over moto (the state table and payload bucket built from template.yaml) and
fakes for the lessons: the usage records the metered LLM wrote, the lessons' lengths, the quiz and
every published artifact's hash, in one manifest that a re-run replaces."""

from __future__ import annotations

import hashlib
import json

import boto3
import jsonschema
import pytest
from moto import mock_aws

from coursegen.adapters.aws import DynamoStateStore, S3PayloadStore
from coursegen.adapters.metering import MeteredLlm, metered_invocation
from coursegen.domain.artifacts import book_key, course_prefix, evidence_key, export_key, landing_page_key, quiz_key, site_prefix
from coursegen.domain.context import book_summaries_json, format_course_outline
from coursegen.domain.evidence import EVIDENCE_SCHEMA
from coursegen.domain.lessons import plan_lessons
from coursegen.domain.prompts import Prompt
from coursegen.models import (
    CourseOutline, CourseState, FoundBook, OutlinePart, QuestionKind, QuizQuestion, Section, StoredLesson, StoredQuiz,
)
from coursegen.services.evidence import EvidenceWorkflow
from coursegen.services.outline import StepInput, artifact_key
from coursegen_local.template import SamTemplate
from tests.fakes import ScriptedLlm

COURSE = "c-1"
OUTLINE = CourseOutline(title="DCF", parts=[OutlinePart(index=0, title="Basics", minutes=30, sections=[
    Section(part_index=0, index=s, title=f"Lesson {s + 1}", minutes=10, objectives=[f"Explain idea {s + 1}"], book_ids=["fin-001"])
    for s in range(3)])])
PLANS = plan_lessons(COURSE, OUTLINE)
BOOK = FoundBook(book_id="fin-001", title="Valuation", summary="Valuing firms by their discounted cash flows.", similarity=0.61)
PUBLISHED = {
    book_key(COURSE, "course.md"): "# DCF\n".encode(),
    book_key(COURSE, "course.epub"): bytes(range(256)),
    landing_page_key(COURSE): b"<html>landing</html>",
    site_prefix(COURSE) + "index.html": b"<html>site</html>",
    site_prefix(COURSE) + "lessons/1-1.html": b"<html>lesson</html>",
    export_key(COURSE, "gift"): b"::Q1:: 2+2 {=4 ~5}",
}


class Lessons:
    """The LessonRepository's list_lessons, from a list."""

    def __init__(self, lessons: list[StoredLesson]) -> None:
        self.lessons = lessons

    def list_lessons(self, course_id: str, owner: str | None = None) -> list[StoredLesson]:
        return [lesson for lesson in self.lessons if lesson.course_id == course_id]


def stored_lesson(index: int, words: int, status: str = "full") -> StoredLesson:
    plan = PLANS[index]
    return StoredLesson(lesson_id=plan.lesson_id, course_id=COURSE, part_index=0, section_index=index, lesson_index=index,
                        title=plan.title, markdown="# x", words=words, minutes=round(words / 130, 1),
                        objective_ids=[o.objective_id for o in plan.objectives], book_ids=["fin-001"], status=status)


def quiz() -> StoredQuiz:
    return StoredQuiz(quiz_id="q-1", course_id=COURSE, title="DCF quiz", questions=[QuizQuestion(
        question_id="1", kind=QuestionKind.true_false, stem="Is cash king?", options=["True", "False"], correct_index=0,
        explanation="It is.", lesson_id=PLANS[0].lesson_id, objective_id="O1.1.1")])


@pytest.fixture
def aws():
    template = SamTemplate()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        [(table, spec)] = template.dynamodb_tables()
        dynamodb.create_table(**spec["create"])
        s3 = boto3.client("s3", region_name="us-east-1")
        bucket = template.physical_name("PayloadBucket")
        s3.create_bucket(Bucket=bucket)
        payloads = S3PayloadStore(s3, bucket)
        yield DynamoStateStore(dynamodb, table, payloads), payloads


@pytest.fixture
def course(aws):
    """A published course: its state, lesson plan, quiz, artifacts, scratch, and two steps' usage."""
    states, payloads = aws
    state = CourseState(session_id=COURSE, owner="tenant-a", request_fingerprint="f" * 64,
                        pending_course_query="Learn DCF valuation", pending_course_hours=0.5,
                        book_summaries_json=book_summaries_json([BOOK]), outline_text=format_course_outline(OUTLINE),
                        current_course={"title": "DCF"}, total_minutes=30, variance_percent=0.0, generator=ScriptedLlm.name,
                        quiz_id="q-1", quiz_questions_count=1, staging_url="http://127.0.0.1:8080/staging/c-1/")
    states.save(state)
    payloads.put_text(artifact_key(state, "lessons/plan.json"), json.dumps([plan.to_dict() for plan in PLANS]))
    payloads.put_text(quiz_key(COURSE), quiz().model_dump_json(), "application/json")
    for key, data in PUBLISHED.items():
        payloads.put_bytes(key, data, "application/octet-stream")
    payloads.put_text(course_prefix(COURSE) + "drafts/not-published.txt", "scratch")  # not a published folder
    payloads.put_text(evidence_key(COURSE), "{}")  # an earlier run's manifest: never hashed into the next one
    llm = MeteredLlm(ScriptedLlm(fallback=lambda _: "answer"))
    for step, request_id, prompts in (("plan_parts", "r-1", ["Plan DCF"]), ("generate_batch", "r-2", ["Write 1.1", "Write 1.2"])):
        with metered_invocation(step, COURSE, lambda: payloads, request_id):
            for text in prompts:
                llm.complete(Prompt(name=f"courses.{step}", text=text, variables={}, max_tokens=100))
    lessons = Lessons([stored_lesson(0, 1300), stored_lesson(1, 500), stored_lesson(2, 40, status="placeholder")])
    return states, payloads, lessons


def workflow(course, **options) -> EvidenceWorkflow:
    states, payloads, lessons = course
    return EvidenceWorkflow(states=states, payloads=payloads, lessons=lessons, provider="offline", model="none", **options)


def manifest_of(payloads) -> dict:
    return json.loads(payloads.get_text(evidence_key(COURSE)))


def checks_of(manifest: dict) -> dict[str, dict]:
    return {check["name"]: check for check in manifest["checks"]}


def test_the_pack_is_written_recorded_in_the_state_and_answered(course):
    states, payloads, _ = course
    answer = workflow(course).write_evidence_pack(StepInput(course_id=COURSE))
    assert answer.pop("execution_time_seconds") >= 0  # the whole course's, for course.generation.completed
    assert answer == {"evidence_pack_path": evidence_key(COURSE), "quiz_questions_count": 1, "deployed": True,
                      "staging_url": "http://127.0.0.1:8080/staging/c-1/"}
    state = states.load(COURSE)
    assert (state.evidence_pack_path, state.phase.value) == (evidence_key(COURSE), "writing_evidence")
    manifest = manifest_of(payloads)
    jsonschema.validate(manifest, EVIDENCE_SCHEMA)
    assert "tenant-a" not in json.dumps(manifest)
    assert manifest["sources"] == [{"book_id": "fin-001", "title": "Valuation", "similarity": 0.61}]
    assert manifest["model"] == {"provider": "offline", "model": "none", "generator": ScriptedLlm.name}


def test_the_usage_records_become_prompts_and_steps(course):
    _, payloads, _ = course
    workflow(course).write_evidence_pack(StepInput(course_id=COURSE))
    manifest = manifest_of(payloads)
    assert [(p["name"], p["sha256"]) for p in manifest["prompts"]] == sorted(
        [("courses.plan_parts", hashlib.sha256(b"Plan DCF").hexdigest()),
         ("courses.generate_batch", hashlib.sha256(b"Write 1.1").hexdigest()),
         ("courses.generate_batch", hashlib.sha256(b"Write 1.2").hexdigest())])
    assert {name: (s["invocations"], s["calls"], s["input_tokens"]) for name, s in manifest["steps"].items()} == {
        "plan_parts": (1, 1, 10), "generate_batch": (1, 2, 20)}


def test_the_checks_hold_the_lessons_to_their_planned_minutes_and_the_quiz_to_the_quiz_rules(course):
    _, payloads, _ = course
    workflow(course).write_evidence_pack(StepInput(course_id=COURSE))
    checks = checks_of(manifest_of(payloads))
    assert checks["time_budget"]["result"] == "passed"
    lengths = checks["lesson_lengths"]
    assert (lengths["result"], lengths["detail"]["checked"], lengths["detail"]["within_range"]) == ("failed", 2, 1)
    assert [(o["number"], o["words"], o["target_words"]) for o in lengths["detail"]["outside"]] == [("1.2", 500, 1300)]
    # the fixture's quiz has one question: the quiz writer's rules (domain/quiz.py) ask for 10-15
    assert checks["quiz_schema"]["result"] == "failed" and checks["quiz_schema"]["detail"]["problems"]


def test_the_lessons_planned_minutes_come_from_the_outline_once_the_plan_has_expired(course):
    states, payloads, _ = course
    payloads.s3.delete_object(Bucket=payloads.bucket, Key=artifact_key(states.load(COURSE), "lessons/plan.json"))
    workflow(course).write_evidence_pack(StepInput(course_id=COURSE))
    outside = checks_of(manifest_of(payloads))["lesson_lengths"]["detail"]["outside"]
    assert [(o["number"], o["target_words"]) for o in outside] == [("1.2", 1300)]


def test_a_quiz_breaking_the_quiz_rules_and_an_unreadable_quiz_fail_the_quiz_check(course):
    _, payloads, _ = course
    workflow(course).write_evidence_pack(StepInput(course_id=COURSE))  # one question: the rules ask for 10-15
    problems = checks_of(manifest_of(payloads))["quiz_schema"]["detail"]["problems"]
    assert checks_of(manifest_of(payloads))["quiz_schema"]["result"] == "failed" and any("question" in p for p in problems)
    payloads.put_text(quiz_key(COURSE), '{"quiz_id": "q-1"}', "application/json")
    workflow(course).write_evidence_pack(StepInput(course_id=COURSE))
    failed = checks_of(manifest_of(payloads))["quiz_schema"]
    assert failed["result"] == "failed" and "course_id" in failed["detail"]["problems"][0]


def test_a_course_without_a_quiz_skips_the_quiz_check(course):
    _, payloads, _ = course
    payloads.s3.delete_object(Bucket=payloads.bucket, Key=quiz_key(COURSE))
    workflow(course).write_evidence_pack(StepInput(course_id=COURSE))
    assert checks_of(manifest_of(payloads))["quiz_schema"]["result"] == "skipped"


def test_every_published_artifact_is_hashed_and_nothing_else(course):
    _, payloads, _ = course
    workflow(course).write_evidence_pack(StepInput(course_id=COURSE))
    published = PUBLISHED | {quiz_key(COURSE): quiz().model_dump_json().encode()}
    assert manifest_of(payloads)["artifacts"] == [
        {"key": key, "sha256": hashlib.sha256(published[key]).hexdigest(), "bytes": len(published[key])} for key in sorted(published)]


def test_a_re_run_replaces_the_manifest_with_what_is_there_now(course):
    _, payloads, _ = course
    flow = workflow(course)
    flow.write_evidence_pack(StepInput(course_id=COURSE))
    payloads.put_bytes(site_prefix(COURSE) + "index.html", b"<html>rebuilt</html>", "text/html")
    flow.write_evidence_pack(StepInput(course_id=COURSE))
    assert payloads.list_keys(course_prefix(COURSE) + "evidence/") == [evidence_key(COURSE)]
    hashes = {a["key"]: a["sha256"] for a in manifest_of(payloads)["artifacts"]}
    assert hashes[site_prefix(COURSE) + "index.html"] == hashlib.sha256(b"<html>rebuilt</html>").hexdigest()
