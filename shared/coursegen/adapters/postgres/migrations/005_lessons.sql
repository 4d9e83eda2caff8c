-- Lessons: one row per written section and revision. The latest revision of a section is the
-- lesson readers see; a re-run of the same (course, section, revision) updates its one row.
-- Lessons hang off the course, not off course_sections: storing the outline again replaces its
-- parts and sections, which must not delete the lessons already written.
-- minutes is double precision like courses.hours: real would read 12.3 back as 12.300000190734863.
CREATE TABLE lessons (
    lesson_id      uuid PRIMARY KEY,
    course_id      text NOT NULL REFERENCES courses (course_id) ON DELETE CASCADE,
    part_index     integer NOT NULL CHECK (part_index >= 0),
    section_index  integer NOT NULL CHECK (section_index >= 0),
    lesson_index   integer NOT NULL CHECK (lesson_index >= 0),
    title          text NOT NULL,
    markdown       text NOT NULL,
    words          integer NOT NULL CHECK (words >= 0),
    minutes        double precision NOT NULL CHECK (minutes >= 0),
    objective_ids  text[] NOT NULL DEFAULT '{}',
    book_ids       text[] NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'full' CHECK (status IN ('full', 'placeholder')),
    revision       integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lessons_one_per_section_revision UNIQUE (course_id, part_index, section_index, revision)
);
-- A course's lessons in reading order, newest revision first (list_lessons).
CREATE INDEX lessons_course_in_order ON lessons (course_id, lesson_index, revision DESC);
