-- The course lifecycle (seed 004; coursegen/domain/lifecycle.py): where each course is, what
-- its execution waits for, and every transition. PostgreSQL holds it because a review outlives
-- the 7-day course-state record, and a published course lives on. A course without a row is
-- a DRAFT (courses stored before this table, or still generating).
CREATE TABLE course_workflow (
    course_id        text PRIMARY KEY REFERENCES courses (course_id) ON DELETE CASCADE,
    workflow_state   text NOT NULL DEFAULT 'DRAFT'
                     CHECK (workflow_state IN ('DRAFT', 'REVIEW', 'PUBLISH_READY', 'PUBLISHED', 'ARCHIVED')),
    waiting_for      text CHECK (waiting_for IN ('outline_approval', 'review')),
    approval_id      uuid,          -- the open wait (its task token is in the state store, never here)
    execution_id     text,          -- the execution that waits (its end, or its timeout, ends only its own wait)
    review_rounds    integer NOT NULL DEFAULT 0 CHECK (review_rounds >= 0),
    outline_replans  integer NOT NULL DEFAULT 0 CHECK (outline_replans >= 0),
    request          jsonb,         -- the course request, to re-enter a wait (coursegen serve restarts)
    version          integer NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (waiting_for IS NULL OR approval_id IS NOT NULL)  -- a wait always has its id
);
-- Courses whose execution waits (re-entered when coursegen serve starts).
CREATE INDEX course_workflow_waiting ON course_workflow (waiting_for) WHERE waiting_for IS NOT NULL;

CREATE TABLE course_transitions (
    course_id        text NOT NULL REFERENCES courses (course_id) ON DELETE CASCADE,
    seq              integer NOT NULL CHECK (seq >= 1),
    from_state       text NOT NULL,
    to_state         text NOT NULL,
    decision         text NOT NULL,
    transitioned_by  text NOT NULL,   -- an opaque owner id, or 'system'
    note             text NOT NULL DEFAULT '',
    approval_id      uuid,            -- the wait this transition opened or answered
    details          jsonb NOT NULL DEFAULT '{}',  -- what the decision carried: lessons and feedback, an edit
    at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (course_id, seq)
);
