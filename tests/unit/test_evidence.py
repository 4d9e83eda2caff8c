"""The evidence pack's manifest, from a hand-built state and usage records: what it says of the
request, the prompts, the steps, the checks and the artifacts, and that it keeps to its schema."""

from __future__ import annotations

import hashlib
import json

import jsonschema
import pytest

from coursegen.domain.evidence import EVIDENCE_SCHEMA, evidence_manifest, lesson_length_check, quiz_schema_problems
from coursegen.domain.lessons import LENGTH_TOLERANCE, WORDS_PER_MINUTE
from coursegen.models import CoursePreferences, CourseState, Pace, Price, QuestionKind, QuizQuestion, StoredQuiz

PARTS_PROMPT, REPAIRED_PARTS_PROMPT, SECTIONS_PROMPT = "Plan the parts of DCF", "Plan the parts of DCF (repair)", "Sections"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def call(prompt: str, text: str, tokens_in: int, tokens_out: int, seconds: float = 0.5, **extra) -> dict:
    return {"prompt": prompt, "prompt_sha256": sha(text), "input_tokens": tokens_in, "output_tokens": tokens_out,
            "seconds": seconds} | extra


USAGE = [
    {"step": "plan_parts", "started_at": "2026-01-01T10:00:00+00:00", "seconds": 1.5, "ok": True, "calls": [
        call("courses.generate_parts", PARTS_PROMPT, 100, 50), call("courses.generate_parts", REPAIRED_PARTS_PROMPT, 120, 60)]},
    {"step": "expand_part", "started_at": "2026-01-01T10:00:02+00:00", "seconds": 2.0, "ok": True, "calls": [
        call("courses.generate_sections", SECTIONS_PROMPT, 200, 300)]},
    {"step": "expand_part", "started_at": "2026-01-01T10:00:02+00:00", "seconds": 1.25, "ok": False, "error": "LlmThrottled",
     "calls": [call("courses.generate_sections", SECTIONS_PROMPT, 0, 0, error="LlmThrottled")]},
]
ARTIFACTS = {"published/c-1/site/index.html": b"<html></html>", "published/c-1/book/course.md": "# DCF — €".encode()}


def course_state(**changes) -> CourseState:
    books = [{"book_id": "fin-001", "title": "Valuation", "author": "A. Author", "summary": "A book about valuing firms by cash flows.",
              "similarity": 0.61234}, {"book_id": "fin-002", "title": "Corporate Finance", "summary": "Cost of capital, in depth, for all.",
                                      "similarity": 0.45}]
    fields = dict(
        session_id="c-1", owner="alice@example.com", request_fingerprint="f" * 64, pending_course_query="Learn DCF valuation",
        pending_course_hours=1.0, pending_course_prefs=CoursePreferences(pace=Pace.moderate, audience="analysts"),
        language="en", price=Price(amount=49.0, currency="EUR"), book_summaries_json=json.dumps(books),
        total_minutes=60, variance_percent=0.0, review_attempts=1, generator="scripted test LLM",
    )
    return CourseState(**(fields | changes))


def lesson(lesson_id: str, words: int, minutes: int = 10) -> dict:
    return {"lesson_id": lesson_id, "number": lesson_id[-3:], "title": f"Lesson {lesson_id}"} | lesson_length_check(
        words, minutes, Pace.moderate)


def manifest(state: CourseState | None = None, *, lessons=None, quiz_problems=None, usage=USAGE) -> dict:
    return evidence_manifest(
        state=state or course_state(), usage_records=usage,
        lesson_checks=lessons if lessons is not None else [lesson("l-1.1", 1300), lesson("l-1.2", 500)],
        quiz_problems=quiz_problems, artifacts=ARTIFACTS, provider="bedrock", model="us.anthropic.claude",
        generated_at="2026-01-01T11:00:00+00:00")


def checks_of(document: dict) -> dict[str, dict]:
    return {check["name"]: check for check in document["checks"]}


def test_the_request_is_what_was_asked_and_never_who_asked():
    document = manifest()
    assert document["request"] == {
        "query": "Learn DCF valuation", "hours": 1.0, "language": "en",
        "preferences": {"depth": "balanced", "pace": "moderate", "audience": "analysts", "focus": ""},
        "full_lessons_count": None, "content_mode": "theory", "dry_run": False, "generate_quiz": True,
        "generate_landing_page": True, "deploy_to_staging": False, "price": {"amount": 49.0, "currency": "EUR"},
    }
    assert "alice@example.com" not in json.dumps(document) and "owner" not in json.dumps(document)


def test_sources_model_and_course_are_named():
    document = manifest()
    assert document["course_id"] == "c-1" and document["generated_at"] == "2026-01-01T11:00:00+00:00"
    assert document["sources"] == [{"book_id": "fin-001", "title": "Valuation", "similarity": 0.6123},
                                   {"book_id": "fin-002", "title": "Corporate Finance", "similarity": 0.45}]
    assert document["model"] == {"provider": "bedrock", "model": "us.anthropic.claude", "generator": "scripted test LLM"}


def test_every_distinct_prompt_text_is_listed_by_name_and_hash_with_its_calls():
    # a repair re-prompt is the same prompt by name, another by its text
    assert manifest()["prompts"] == sorted([
        {"name": "courses.generate_parts", "sha256": sha(PARTS_PROMPT), "calls": 1},
        {"name": "courses.generate_parts", "sha256": sha(REPAIRED_PARTS_PROMPT), "calls": 1},
        {"name": "courses.generate_sections", "sha256": sha(SECTIONS_PROMPT), "calls": 2},
    ], key=lambda prompt: (prompt["name"], prompt["sha256"]))


def test_steps_sum_their_invocations_failures_time_and_tokens():
    document = manifest()
    assert document["steps"] == {
        "plan_parts": {"invocations": 1, "failed": 0, "seconds": 1.5, "calls": 2, "input_tokens": 220, "output_tokens": 110},
        "expand_part": {"invocations": 2, "failed": 1, "seconds": 3.25, "calls": 2, "input_tokens": 200, "output_tokens": 300},
    }
    assert document["totals"] == {"invocations": 3, "failed": 1, "seconds": 4.75, "calls": 4, "input_tokens": 420,
                                  "output_tokens": 410}
    assert manifest(usage=[])["totals"] == dict.fromkeys(["invocations", "failed", "seconds", "calls", "input_tokens", "output_tokens"], 0)


def test_the_time_budget_check_is_the_outline_s_total_against_the_target():
    passed = checks_of(manifest())["time_budget"]
    assert (passed["result"], passed["ok"]) == ("passed", True)
    assert passed["detail"] == {"target_minutes": 60, "total_minutes": 60, "variance_percent": 0.0, "min_acceptable": 57.0,
                                     "max_acceptable": 63.0, "review_attempts": 1}
    failed = checks_of(manifest(course_state(total_minutes=80)))["time_budget"]
    assert (failed["result"], failed["ok"], failed["detail"]["variance_percent"]) == ("failed", False, 33.33)
    assert checks_of(manifest(course_state(total_minutes=None)))["time_budget"]["result"] == "skipped"


def test_a_too_short_lesson_fails_the_lesson_lengths_check_and_is_named():
    check = checks_of(manifest())["lesson_lengths"]
    assert (check["result"], check["ok"]) == ("failed", False)
    assert check["detail"] == {"checked": 2, "within_range": 1, "outside": [
        {"lesson_id": "l-1.2", "number": "1.2", "title": "Lesson l-1.2", "words": 500, "target_words": 1300,
         "min_words": 975, "max_words": 1625}]}
    assert checks_of(manifest(lessons=[lesson("l-1.1", 1300)]))["lesson_lengths"]["result"] == "passed"
    assert checks_of(manifest(lessons=[]))["lesson_lengths"]["result"] == "skipped"  # a dry run writes none


def test_the_lesson_length_check_is_the_writer_s_rule_at_its_edges():
    target = 10 * WORDS_PER_MINUTE[Pace.relaxed]  # 1100 words
    check = lesson_length_check(0, 10, Pace.relaxed)
    low, high = check["min_words"], check["max_words"]
    assert (check["target_words"], low, high) == (target, target * (1 - LENGTH_TOLERANCE), target * (1 + LENGTH_TOLERANCE))
    assert [lesson_length_check(words, 10, Pace.relaxed)["ok"] for words in (low - 1, low, high, high + 1)] == [False, True, True, False]
    assert lesson_length_check(40, 0, Pace.relaxed)["ok"]  # no minutes, no target: the writer checks none either


def test_the_quiz_check_is_skipped_without_a_quiz_and_fails_with_problems():
    skipped = checks_of(manifest())["quiz_schema"]
    assert (skipped["result"], skipped["ok"]) == ("skipped", True)
    assert checks_of(manifest(quiz_problems=[]))["quiz_schema"]["result"] == "passed"
    failed = checks_of(manifest(quiz_problems=["question 2 has 3 options, not 4"]))["quiz_schema"]
    assert (failed["result"], failed["detail"]) == ("failed", {"problems": ["question 2 has 3 options, not 4"]})


def test_the_quiz_schema_problems_are_its_shape_s_promises():
    def question(kind: QuestionKind, options: list[str], correct: int, question_id: str) -> QuizQuestion:
        return QuizQuestion(question_id=question_id, kind=kind, stem="Which?", options=options, correct_index=correct,
                            explanation="Because.", lesson_id="l", objective_id="O1.1.1")

    good = StoredQuiz(quiz_id="q", course_id="c-1", title="Quiz", questions=[
        question(QuestionKind.multiple_choice, ["a", "b", "c", "d"], 2, "1"), question(QuestionKind.true_false, ["True", "False"], 0, "2")])
    assert quiz_schema_problems(good) == []
    bad = StoredQuiz(quiz_id="q", course_id="c-1", title="Quiz", questions=[
        question(QuestionKind.multiple_choice, ["a", "b", "c"], 3, "1"), question(QuestionKind.true_false, ["True", "False"], 0, "1")])
    assert quiz_schema_problems(bad) == ["two questions share an id", "question 1 (multiple_choice) has 3 options, not 4",
                                         "question 1's correct answer (3) is not one of its options"]
    assert quiz_schema_problems(StoredQuiz(quiz_id="q", course_id="c-1", title="Quiz", questions=[])) == ["the quiz has no question"]


def test_every_artifact_is_hashed_in_key_order():
    assert manifest()["artifacts"] == [
        {"key": key, "sha256": hashlib.sha256(ARTIFACTS[key]).hexdigest(), "bytes": len(ARTIFACTS[key])}
        for key in ("published/c-1/book/course.md", "published/c-1/site/index.html")
    ]


@pytest.mark.parametrize("document", [
    manifest(), manifest(quiz_problems=[]), manifest(course_state(total_minutes=None, price=None), lessons=[], usage=[]),
], ids=["with-failures", "with-a-quiz", "empty"])
def test_the_manifest_keeps_to_its_schema_and_is_json(document):
    jsonschema.Draft202012Validator.check_schema(EVIDENCE_SCHEMA)
    jsonschema.validate(json.loads(json.dumps(document)), EVIDENCE_SCHEMA)


def test_the_schema_refuses_an_owner_in_the_request():
    document = manifest()
    document["request"]["owner"] = "alice@example.com"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, EVIDENCE_SCHEMA)
