"""Lessons in PostgreSQL, for real (pgserver): idempotent per (course, section, revision), the
latest revision listed, owners kept apart, gone with their course."""

import uuid

import pytest

from coursegen.adapters.postgres import PostgresRepository
from coursegen.errors import DatabaseUnavailable
from coursegen.models import CourseOutline, CourseState, OutlinePart, Section, StoredLesson


def stored_course(repository, course_id="c-lessons", owner="tenant-a", sections_per_part=(2, 1)) -> str:
    parts = []
    for p, count in enumerate(sections_per_part):
        sections = [Section(part_index=p, index=s, title=f"S{p}.{s}", minutes=20, book_ids=["fin-001"]) for s in range(count)]
        parts.append(OutlinePart(index=p, title=f"P{p}", minutes=20 * count, sections=sections))
    state = CourseState(session_id=course_id, pending_course_query="Learn DCF", pending_course_hours=1,
                        generator="test", variance_percent=0.0, owner=owner)
    repository.store_course(state, CourseOutline(title="DCF", parts=parts))
    return course_id


def lesson(course_id, part, section, index, revision=1, **changes) -> StoredLesson:
    fields = dict(
        lesson_id=StoredLesson.id_for(course_id, part, section, revision), course_id=course_id,
        part_index=part, section_index=section, lesson_index=index,
        title=f"Lesson {part}.{section} r{revision}", markdown=f"# Lesson {part}.{section}\n\nText [fin-001].",
        words=420, minutes=12.3, objective_ids=[f"O{part}.{section}.1"], book_ids=["fin-001"], revision=revision,
    )
    return StoredLesson(**(fields | changes))


def lesson_rows(repository, course_id: str) -> list[dict]:
    with repository.pool.connection() as conn:
        return conn.execute(
            "SELECT lesson_id, title, revision FROM lessons WHERE course_id = %s ORDER BY part_index, section_index, revision",
            (course_id,),
        ).fetchall()


def test_a_stored_lesson_reads_back_field_for_field(clean_courses):
    course = stored_course(clean_courses)
    written = lesson(course, 0, 1, 1, status="placeholder")
    clean_courses.store_lesson(written)
    assert clean_courses.get_lesson(course, written.lesson_id) == written
    assert clean_courses.list_lessons(course) == [written]


def test_storing_the_same_section_revision_again_keeps_one_row_under_its_first_id(clean_courses):
    course = stored_course(clean_courses)
    first = lesson(course, 0, 0, 0)
    clean_courses.store_lesson(first)
    clean_courses.store_lesson(first)  # a retried step writes the very same lesson again
    rerun = lesson(course, 0, 0, 0, lesson_id=str(uuid.uuid4()), title="Rewritten", words=430)
    clean_courses.store_lesson(rerun)  # a re-run that named it otherwise still lands on the same row
    rows = lesson_rows(clean_courses, course)
    assert len(rows) == 1
    assert str(rows[0]["lesson_id"]) == first.lesson_id
    [listed] = clean_courses.list_lessons(course)
    assert (listed.lesson_id, listed.title, listed.words) == (first.lesson_id, "Rewritten", 430)
    assert clean_courses.get_lesson(course, rerun.lesson_id) is None  # the re-run's own id was never stored


def test_the_list_has_the_latest_revision_of_each_section_in_lesson_order(clean_courses):
    course = stored_course(clean_courses)
    # written out of order, as parallel batches do
    clean_courses.store_lesson(lesson(course, 1, 0, 2))
    clean_courses.store_lesson(lesson(course, 0, 1, 1))
    clean_courses.store_lesson(lesson(course, 0, 0, 0))
    clean_courses.store_lesson(lesson(course, 0, 1, 1, revision=2))
    listed = clean_courses.list_lessons(course)
    assert [(x.part_index, x.section_index, x.revision) for x in listed] == [(0, 0, 1), (0, 1, 2), (1, 0, 1)]
    assert [x.lesson_index for x in listed] == [0, 1, 2]
    assert len(lesson_rows(clean_courses, course)) == 4  # the older revision is kept, only not listed
    older = StoredLesson.id_for(course, 0, 1, 1)
    assert clean_courses.get_lesson(course, older).revision == 1
    assert listed[1].summary() == {
        "lesson_id": StoredLesson.id_for(course, 0, 1, 2), "part_index": 0, "section_index": 1,
        "title": "Lesson 0.1 r2", "minutes": 12.3, "words": 420, "status": "full", "revision": 2,
    }


def test_another_owner_sees_no_lesson(clean_courses):
    mine = stored_course(clean_courses, "c-mine", owner="tenant-a")
    theirs = stored_course(clean_courses, "c-theirs", owner="tenant-b")
    clean_courses.store_lesson(written := lesson(mine, 0, 0, 0))
    clean_courses.store_lesson(lesson(theirs, 0, 0, 0))
    assert [x.lesson_id for x in clean_courses.list_lessons(mine, owner="tenant-a")] == [written.lesson_id]
    assert clean_courses.list_lessons(mine, owner="tenant-b") == []
    assert clean_courses.get_lesson(mine, written.lesson_id, owner="tenant-a") == written
    assert clean_courses.get_lesson(mine, written.lesson_id, owner="tenant-b") is None
    # a lesson id is only found under its own course
    assert clean_courses.get_lesson(theirs, written.lesson_id) is None
    assert clean_courses.get_lesson(mine, "not-a-uuid") is None
    assert clean_courses.list_lessons("no-such-course") == []


def test_deleting_a_course_deletes_its_lessons_and_storing_its_outline_again_does_not(clean_courses):
    course = stored_course(clean_courses)
    other = stored_course(clean_courses, "c-other")
    clean_courses.store_lesson(lesson(course, 0, 0, 0))
    clean_courses.store_lesson(lesson(other, 0, 0, 0))
    stored_course(clean_courses)  # a resumed course stores its outline again: parts and sections are replaced
    assert len(lesson_rows(clean_courses, course)) == 1
    with clean_courses.pool.connection() as conn:
        conn.execute("DELETE FROM courses WHERE course_id = %s", (course,))
    assert lesson_rows(clean_courses, course) == []
    assert len(lesson_rows(clean_courses, other)) == 1


def test_a_lesson_for_no_stored_course_is_refused(clean_courses):
    with pytest.raises(Exception, match="foreign key"):
        clean_courses.store_lesson(lesson("never-stored", 0, 0, 0))


def test_the_table_refuses_what_the_model_does_not_allow(clean_courses):
    course = stored_course(clean_courses)
    with clean_courses.pool.connection() as conn, pytest.raises(Exception, match="check constraint"):
        conn.execute(
            """INSERT INTO lessons (lesson_id, course_id, part_index, section_index, lesson_index, title, markdown,
                                    words, minutes, status) VALUES (%s, %s, 0, 0, 0, 't', 'm', 1, 1, 'draft')""",
            (uuid.uuid4(), course),
        )


def test_a_lesson_id_must_be_a_uuid():
    with pytest.raises(ValueError, match="must be a UUID"):
        lesson("c", 0, 0, 0, lesson_id="lesson-1")
    assert StoredLesson.id_for("c", 0, 1) == StoredLesson.id_for("c", 0, 1) != StoredLesson.id_for("c", 0, 1, 2)


@pytest.mark.parametrize("call", [
    lambda repo: repo.store_lesson(lesson("c", 0, 0, 0)),
    lambda repo: repo.list_lessons("c"),
    lambda repo: repo.get_lesson("c", StoredLesson.id_for("c", 0, 0)),
])
def test_an_unreachable_database_is_database_unavailable(call):
    repo = PostgresRepository("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", timeout_seconds=1)
    repo.pool.open(wait=False)  # an open pool that cannot connect (a closed one would fail for another reason)
    try:
        with pytest.raises(DatabaseUnavailable):
            call(repo)
    finally:
        repo.close()


def test_storing_the_content_again_keeps_every_revision_of_a_rewritten_section(clean_courses):
    """BuildBook after a reviewer's rewrite (issue 15): the section stored at revision 2 keeps its
    revision 1; a section the course no longer has goes with all its revisions."""
    course = stored_course(clean_courses)
    clean_courses.store_content(course, [lesson(course, 0, 0, 0), lesson(course, 0, 1, 1), lesson(course, 1, 0, 2)], [])
    clean_courses.store_lesson(lesson(course, 0, 1, 1, revision=2))  # the rewrite
    clean_courses.store_lesson(lesson(course, 1, 0, 2, revision=2))

    # a re-run: section 0.1 as its rewrite, section 1.0 no longer in the outline
    clean_courses.store_content(course, [lesson(course, 0, 0, 0), lesson(course, 0, 1, 1, revision=2)], [])

    assert [(row["title"], row["revision"]) for row in lesson_rows(clean_courses, course)] == [
        ("Lesson 0.0 r1", 1), ("Lesson 0.1 r1", 1), ("Lesson 0.1 r2", 2)]
    assert [(x.section_index, x.revision) for x in clean_courses.list_lessons(course)] == [(0, 1), (1, 2)]
    assert clean_courses.get_lesson(course, StoredLesson.id_for(course, 0, 1, 1)).revision == 1


def test_storing_a_section_below_its_stored_rewrite_drops_the_rewrite(clean_courses):
    """A rewrite that no longer fits its section (BuildBook wrote the section again as revision 1)
    is not left to be listed as the latest."""
    course = stored_course(clean_courses)
    clean_courses.store_content(course, [lesson(course, 0, 0, 0), lesson(course, 0, 1, 1)], [])
    clean_courses.store_lesson(lesson(course, 0, 1, 1, revision=2))
    clean_courses.store_content(course, [lesson(course, 0, 0, 0), lesson(course, 0, 1, 1, title="Written again")], [])
    assert [(x.title, x.revision) for x in clean_courses.list_lessons(course)] == [("Lesson 0.0 r1", 1), ("Written again", 1)]
    assert len(lesson_rows(clean_courses, course)) == 2
    assert clean_courses.get_lesson(course, StoredLesson.id_for(course, 0, 1, 2)) is None
