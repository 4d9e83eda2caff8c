-- Stored courses: one row per course, its parts, and its timed sections.
CREATE TABLE courses (
    course_id        text PRIMARY KEY,
    title            text NOT NULL,
    query            text NOT NULL,
    hours            double precision NOT NULL,
    preferences      jsonb NOT NULL DEFAULT '{}',
    language         text NOT NULL DEFAULT 'en',
    generator        text NOT NULL,
    total_minutes    integer NOT NULL,
    target_minutes   integer NOT NULL,
    variance_percent double precision NOT NULL,
    review_attempts  integer NOT NULL DEFAULT 0,
    time_warning     text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX courses_newest_first ON courses (created_at DESC, course_id DESC);

CREATE TABLE course_parts (
    course_id   text NOT NULL REFERENCES courses (course_id) ON DELETE CASCADE,
    part_index  integer NOT NULL,
    title       text NOT NULL,
    minutes     integer NOT NULL,
    PRIMARY KEY (course_id, part_index)
);

CREATE TABLE course_sections (
    course_id      text NOT NULL,
    part_index     integer NOT NULL,
    section_index  integer NOT NULL,
    title          text NOT NULL,
    minutes        integer NOT NULL,
    objectives     jsonb NOT NULL DEFAULT '[]',
    book_ids       text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (course_id, part_index, section_index),
    FOREIGN KEY (course_id, part_index) REFERENCES course_parts (course_id, part_index) ON DELETE CASCADE
);
