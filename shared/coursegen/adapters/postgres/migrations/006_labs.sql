-- Labs (theory_and_labs courses): one row per part and revision, like lessons. The latest revision
-- of a part's lab is the one readers see; a re-run of the same (course, part, revision) updates
-- its one row. Like lessons, labs hang off the course, so storing its outline again keeps them.
CREATE TABLE labs (
    lab_id         uuid PRIMARY KEY,
    course_id      text NOT NULL REFERENCES courses (course_id) ON DELETE CASCADE,
    part_index     integer NOT NULL CHECK (part_index >= 0),
    title          text NOT NULL,
    markdown       text NOT NULL,
    objective_ids  text[] NOT NULL DEFAULT '{}',
    book_ids       text[] NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'full' CHECK (status IN ('full', 'placeholder')),
    revision       integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- also the index list_labs reads a course's labs in part order by
    CONSTRAINT labs_one_per_part_revision UNIQUE (course_id, part_index, revision)
);
