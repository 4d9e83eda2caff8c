"""Labs in PostgreSQL, for real (pgserver): idempotent per (course, part, revision), the latest
revision listed in part order, owners kept apart, gone with their course."""

import uuid

import pytest

from coursegen.models import StoredLab
from tests.adapters.test_lessons_store import stored_course


def lab(course_id, part, revision=1, **changes) -> StoredLab:
    fields = dict(
        lab_id=StoredLab.id_for(course_id, part, revision), course_id=course_id, part_index=part,
        title=f"Part {part} r{revision}", markdown=f"# Lab {part + 1}\n\n## Steps\n\n1. Step [fin-001].\n",
        objective_ids=[f"O{part + 1}.1.1", f"O{part + 1}.2.1"], book_ids=["fin-001"], revision=revision,
    )
    return StoredLab(**(fields | changes))


def lab_rows(repository, course_id: str) -> list[dict]:
    with repository.pool.connection() as conn:
        return conn.execute("SELECT lab_id, title, revision FROM labs WHERE course_id = %s ORDER BY part_index, revision",
                            (course_id,)).fetchall()


def test_a_stored_lab_reads_back_field_for_field(clean_courses):
    course = stored_course(clean_courses)
    written = lab(course, 1, status="placeholder")
    clean_courses.store_lab(written)
    assert clean_courses.get_lab(course, written.lab_id) == written
    assert clean_courses.list_labs(course) == [written]


def test_storing_the_same_part_revision_again_keeps_one_row_under_its_first_id(clean_courses):
    course = stored_course(clean_courses)
    first = lab(course, 0)
    clean_courses.store_lab(first)
    clean_courses.store_lab(first)  # a retried BuildBook writes the very same lab again
    clean_courses.store_lab(lab(course, 0, lab_id=str(uuid.uuid4()), title="Rewritten"))
    rows = lab_rows(clean_courses, course)
    assert len(rows) == 1 and str(rows[0]["lab_id"]) == first.lab_id
    [listed] = clean_courses.list_labs(course)
    assert (listed.lab_id, listed.title) == (first.lab_id, "Rewritten")


def test_the_list_has_the_latest_revision_of_each_part_in_part_order(clean_courses):
    course = stored_course(clean_courses)
    clean_courses.store_lab(lab(course, 1))  # written out of order, as the parallel Map does
    clean_courses.store_lab(lab(course, 0))
    clean_courses.store_lab(lab(course, 0, revision=2))
    listed = clean_courses.list_labs(course)
    assert [(x.part_index, x.revision) for x in listed] == [(0, 2), (1, 1)]
    assert len(lab_rows(clean_courses, course)) == 3  # the older revision is kept, only not listed
    assert clean_courses.get_lab(course, StoredLab.id_for(course, 0, 1)).revision == 1
    assert listed[0].summary() == {"lab_id": StoredLab.id_for(course, 0, 2), "part_index": 0, "title": "Part 0 r2",
                                   "objective_ids": ["O1.1.1", "O1.2.1"], "status": "full", "revision": 2}


def test_another_owner_sees_no_lab(clean_courses):
    mine = stored_course(clean_courses, "c-mine", owner="tenant-a")
    theirs = stored_course(clean_courses, "c-theirs", owner="tenant-b")
    clean_courses.store_lab(written := lab(mine, 0))
    clean_courses.store_lab(lab(theirs, 0))
    assert clean_courses.list_labs(mine, owner="tenant-a") == [written]
    assert clean_courses.list_labs(mine, owner="tenant-b") == []
    assert clean_courses.get_lab(mine, written.lab_id, owner="tenant-b") is None
    assert clean_courses.get_lab(theirs, written.lab_id) is None  # a lab id is only found under its own course
    assert clean_courses.get_lab(mine, "not-a-uuid") is None
    assert clean_courses.list_labs("no-such-course") == []


def test_deleting_a_course_deletes_its_labs_and_storing_its_outline_again_does_not(clean_courses):
    course = stored_course(clean_courses)
    clean_courses.store_lab(lab(course, 0))
    stored_course(clean_courses)  # a resumed course stores its outline again
    assert len(lab_rows(clean_courses, course)) == 1
    with clean_courses.pool.connection() as conn:
        conn.execute("DELETE FROM courses WHERE course_id = %s", (course,))
    assert lab_rows(clean_courses, course) == []


def test_the_table_refuses_a_lab_of_no_course_or_of_an_unknown_status(clean_courses):
    with pytest.raises(Exception, match="foreign key"):
        clean_courses.store_lab(lab("never-stored", 0))
    course = stored_course(clean_courses)
    with clean_courses.pool.connection() as conn, pytest.raises(Exception, match="check constraint"):
        conn.execute("INSERT INTO labs (lab_id, course_id, part_index, title, markdown, status) VALUES (%s, %s, 0, 't', 'm', 'draft')",
                     (uuid.uuid4(), course))


def test_storing_a_courses_content_again_leaves_only_what_it_has_now(clean_courses):
    from tests.adapters.test_lessons_store import lesson

    course = stored_course(clean_courses)
    before = [lesson(course, 0, 0, 0), lesson(course, 0, 1, 1), lesson(course, 1, 0, 2)]
    clean_courses.store_content(course, before, [lab(course, 0), lab(course, 1)])
    assert len(clean_courses.list_lessons(course)) == 3 and len(clean_courses.list_labs(course)) == 2

    # the same course id, another outline (one section fewer) and no labs (a theory run)
    clean_courses.store_content(course, [lesson(course, 0, 0, 0), lesson(course, 1, 0, 1)], [])
    assert [(row.part_index, row.section_index) for row in clean_courses.list_lessons(course)] == [(0, 0), (1, 0)]
    assert clean_courses.list_labs(course) == [] and lab_rows(clean_courses, course) == []
