"""A reviewer's request for changes, carried out on a generated course (the offline runner's real
handlers, moto's bucket and table, the real PostgreSQL): the named lesson gets a new row (revision
2, its own id, the latest), everything else is byte for byte as it was, the quiz still checks out,
a retry makes no revision 3, and a re-run of the course keeps the rewrite."""

from __future__ import annotations

import json

import pytest

from coursegen.domain.artifacts import quiz_key
from coursegen.domain.lifecycle import LessonFeedback
from coursegen.domain.quiz import check_quiz, quiz_objectives
from coursegen.errors import DecisionInvalid
from coursegen.models import CourseRequest, StoredLesson, StoredQuiz
from coursegen.services.lessons import book_keys, in_full, lesson_key, lesson_plans
from coursegen.services.outline import artifact_key
from coursegen_local.runner import LocalRunner
from tests.fakes import ScriptedLlm

DCF = CourseRequest(query="Learn DCF valuation", hours=2)
FEEDBACK = "Explain the growth rate assumption more slowly, with the terminal value formula first."


@pytest.fixture
def runner(clean_courses, embedder):
    with LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder) as runner:
        yield runner


@pytest.fixture
def course(runner):
    result = runner.run(DCF, timeout_seconds=120)
    assert result.execution_status == "SUCCEEDED", result.status
    return result.course_id


def rows(repository, course_id: str) -> list[dict]:
    with repository.pool.connection() as conn:
        return conn.execute(
            "SELECT lesson_id::text, part_index, section_index, revision, markdown FROM lessons WHERE course_id = %s "
            "ORDER BY part_index, section_index, revision", (course_id,)).fetchall()


def quiz_checks(runner, course_id: str) -> list[str]:
    state = runner.container.states.load(course_id)
    plans = lesson_plans(runner.container.payloads, state)
    quiz = StoredQuiz.model_validate_json(runner.container.payloads.get_text(quiz_key(course_id)))
    return check_quiz(quiz, quiz_objectives(plans, {p.lesson_id for p in plans if in_full(state, p)}))


def test_only_the_named_lesson_is_rewritten_and_everything_else_stays_byte_for_byte(runner, course, clean_courses):
    database = runner.container.database
    before = database.list_lessons(course)
    outline_before = database.get_course(course).model_dump()
    target = next(lesson for lesson in before if lesson.part_index == 1)  # a lesson with earlier lessons in its part
    state = runner.container.states.load(course)
    plan = next(p for p in lesson_plans(runner.container.payloads, state) if p.lesson_id == target.lesson_id)
    runner.published_events()  # what the generation published: only what the rewrite publishes is left to read
    seen = len(runner.published_events())

    result = runner.container.revision_workflow.rewrite_lessons(course, [LessonFeedback(target.lesson_id, FEEDBACK)])

    new_id = StoredLesson.id_for(course, target.part_index, target.section_index, 2)
    assert result["lessons_rewritten"] == 1
    assert result["lessons"] == [{"lesson_id": target.lesson_id, "new_lesson_id": new_id, "revision": 2}]
    assert result["cost"]["model_calls"] >= 1 and result["cost"]["input_tokens"] > 0
    assert result["cost"]["cost_usd"] is None  # the offline writer has no listed price
    assert len(json.dumps(result)) < 2048  # a Step Functions result, kept small
    after = database.list_lessons(course)
    assert [lesson.lesson_id for lesson in after] == [new_id if l.lesson_id == target.lesson_id else l.lesson_id
                                                      for l in before]
    rewritten = next(lesson for lesson in after if lesson.lesson_id == new_id)
    assert rewritten.revision == 2 and rewritten.markdown != target.markdown
    assert "Revised after review by the offline writer, not an LLM." in rewritten.markdown
    assert "Explain the growth rate assumption more slowly" in rewritten.markdown  # the feedback, quoted as plain text
    unchanged = [lesson for lesson in after if lesson.lesson_id != new_id]
    assert unchanged == [lesson for lesson in before if lesson.lesson_id != target.lesson_id]  # ids, markdown, all of it
    assert database.get_course(course).model_dump() == outline_before
    assert database.get_lesson(course, target.lesson_id) == target  # revision 1, still readable by its id
    assert len(rows(clean_courses, course)) == len(before) + 1  # one new row, none replaced
    # the artifact the publishing stage reads holds the new text and says its revision
    artifact = json.loads(runner.container.payloads.get_text(lesson_key(state, plan)))
    assert (artifact["markdown"], artifact["revision"]) == (rewritten.markdown, 2)
    assert "figure" not in artifact  # the old figure was drawn from the old text
    # the book from the latest revisions
    book = runner.container.payloads.get_text(book_keys(course)["md"])
    assert "Revised after review by the offline writer" in book
    assert all(lesson.markdown.split("\n", 1)[1][:200] in book for lesson in unchanged if lesson.status == "full")
    # the quiz re-checked, and still what check_quiz accepts; its draft the same (a publishing re-run reuses it)
    assert result["questions_rechecked"] >= 1
    assert quiz_checks(runner, course) == []
    assert (runner.container.payloads.get_text(artifact_key(state, "quiz.json"))
            == runner.container.payloads.get_text(quiz_key(course)))
    assert runner.container.states.load(course).is_revision is True
    events = runner.published_events()[seen:]
    assert [(e["detail-type"], e["detail"]["payload"]["lesson_id"]) for e in events] == [("course.lesson.generated", new_id)]
    assert runner.invalid_events == []


def test_a_retried_request_makes_no_third_revision_and_reports_the_same(runner, course, clean_courses):
    target = runner.container.database.list_lessons(course)[1]
    request = [LessonFeedback(target.lesson_id, FEEDBACK)]
    first = runner.container.revision_workflow.rewrite_lessons(course, request)
    count = len(rows(clean_courses, course))
    runner.published_events()
    seen = len(runner.published_events())

    again = runner.container.revision_workflow.rewrite_lessons(course, request)

    assert again == first  # the same revision, the same cost (the rewrite's, recorded), no new call
    assert len(rows(clean_courses, course)) == count
    assert max(row["revision"] for row in rows(clean_courses, course)) == 2
    assert runner.published_events()[seen:] == []  # announced once
    # a new request on the new revision is a new rewrite: revision 3
    third = runner.container.revision_workflow.rewrite_lessons(
        course, [LessonFeedback(first["lessons"][0]["new_lesson_id"], "Shorter sentences, please.")])
    assert third["lessons"][0]["revision"] == 3
    assert runner.container.database.get_lesson(course, first["lessons"][0]["new_lesson_id"]).revision == 2


def test_a_request_that_cannot_be_taken_writes_nothing(runner, course, clean_courses):
    lessons = runner.container.database.list_lessons(course)
    before = rows(clean_courses, course)
    workflow = runner.container.revision_workflow
    with pytest.raises(DecisionInvalid) as unknown:
        workflow.rewrite_lessons(course, [LessonFeedback("not-a-lesson", FEEDBACK)])
    assert unknown.value.field == "lessons[0].lesson_id"
    with pytest.raises(DecisionInvalid) as second:  # the first one good: still nothing is rewritten
        workflow.rewrite_lessons(course, [LessonFeedback(lessons[0].lesson_id, FEEDBACK),
                                          LessonFeedback(StoredLesson.id_for(course, 0, 0, 7), FEEDBACK)])
    assert second.value.field == "lessons[1].lesson_id"
    with pytest.raises(DecisionInvalid) as twice:
        workflow.rewrite_lessons(course, [LessonFeedback(lessons[0].lesson_id, FEEDBACK),
                                          LessonFeedback(lessons[0].lesson_id, "More examples.")])
    assert twice.value.field == "lessons[1].lesson_id"
    with pytest.raises(DecisionInvalid) as empty:
        workflow.rewrite_lessons(course, [LessonFeedback(lessons[0].lesson_id, "   ")])
    assert empty.value.field == "lessons[0].feedback"
    assert rows(clean_courses, course) == before


def test_a_question_its_rewritten_lesson_no_longer_supports_is_rewritten(clean_courses, embedder):
    """The rewrite drops what a question quotes: that question is written again, for its objective."""
    drop = "The Gordon growth model"

    def without_the_sentence(answer: str) -> str:
        return "\n".join(line.replace(drop, "The constant growth model") for line in answer.split("\n"))

    llm = ScriptedLlm({"lessons.revise_lesson": [without_the_sentence] * 3})
    with LocalRunner(retry_time_scale=0.001, database=clean_courses, embedder=embedder, llm=llm) as runner:
        course = runner.run(DCF, timeout_seconds=120).course_id
        quiz = StoredQuiz.model_validate_json(runner.container.payloads.get_text(quiz_key(course)))
        lessons = runner.container.database.list_lessons(course)
        quoting = [q for q in quiz.questions if drop.casefold() in (q.stem + q.explanation).casefold()]
        assert quoting, "the demo quiz quotes the Gordon growth model"
        target = next(lesson for lesson in lessons if lesson.lesson_id == quoting[0].lesson_id)

        result = runner.container.revision_workflow.rewrite_lessons(course, [LessonFeedback(target.lesson_id, FEEDBACK)])

        assert result["questions_rewritten"] >= 1
        assert result["cost"]["model_calls"] >= 2  # the lesson, then the questions
        after = StoredQuiz.model_validate_json(runner.container.payloads.get_text(quiz_key(course)))
        assert after.question_ids == quiz.question_ids  # the same questions, by id
        kept = [(a, b) for a, b in zip(quiz.questions, after.questions) if a.lesson_id != target.lesson_id]
        assert all(a == b for a, b in kept)  # the other lessons' questions as they were
        assert quiz_checks(runner, course) == []


def test_a_rewrite_survives_a_rerun_of_the_course_whose_artifacts_are_gone(runner, course, clean_courses):
    """The bucket loses the lesson's artifact (expired, or an offline restart): a re-run of the course
    writes the section again, and BuildBook keeps the rewrite PostgreSQL holds, under its own id."""
    database = runner.container.database
    target = database.list_lessons(course)[2]
    result = runner.container.revision_workflow.rewrite_lessons(course, [LessonFeedback(target.lesson_id, FEEDBACK)])
    new_id = result["lessons"][0]["new_lesson_id"]
    rewritten = database.get_lesson(course, new_id)
    state = runner.container.states.load(course)
    plans = lesson_plans(runner.container.payloads, state)
    runner.delete_payload(lesson_key(state, next(p for p in plans if p.section_index == target.section_index
                                                 and p.part_index == target.part_index)))

    runner.invoke("BuildBookFunction", {"course_id": course})
    listed = database.list_lessons(course)
    assert next(l for l in listed if l.section_index == target.section_index and l.part_index == target.part_index) == rewritten
    assert database.get_lesson(course, target.lesson_id) is not None  # revision 1 kept
    assert "Revised after review by the offline writer" in runner.container.payloads.get_text(book_keys(course)["md"])


def test_a_rerun_of_the_whole_course_keeps_the_rewrite(runner, course, clean_courses):
    database = runner.container.database
    target = database.list_lessons(course)[3]
    result = runner.container.revision_workflow.rewrite_lessons(course, [LessonFeedback(target.lesson_id, FEEDBACK)])
    new_id = result["lessons"][0]["new_lesson_id"]
    listed = database.list_lessons(course)
    state = runner.container.states.load(course)
    for plan in lesson_plans(runner.container.payloads, state):  # every lesson artifact lost
        runner.delete_payload(lesson_key(state, plan))

    # the same request under the same id, run again (as `coursegen serve` re-enters a waiting course)
    runner.start(DCF, course_id=course, execution_name=f"{course}-rerun")
    rerun = runner.wait(course, execution_name=f"{course}-rerun", timeout_seconds=120)

    assert rerun.execution_status == "SUCCEEDED", rerun.status
    again = database.list_lessons(course)
    assert [l.lesson_id for l in again] == [l.lesson_id for l in listed]
    assert next(l for l in again if l.lesson_id == new_id).markdown == database.get_lesson(course, new_id).markdown
    assert database.get_lesson(course, new_id).revision == 2
    assert database.get_lesson(course, target.lesson_id).revision == 1
    assert quiz_checks(runner, course) == []
