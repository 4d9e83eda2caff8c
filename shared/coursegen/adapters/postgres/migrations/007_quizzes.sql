-- A course's quiz: one per course (a rewrite replaces it under its first quiz_id). The questions
-- are one JSON document: the API serves the quiz whole and nothing queries a single question.
CREATE TABLE quizzes (
    quiz_id     uuid PRIMARY KEY,
    course_id   text NOT NULL UNIQUE REFERENCES courses (course_id) ON DELETE CASCADE,
    title       text NOT NULL,
    questions   jsonb NOT NULL CHECK (jsonb_typeof(questions) = 'array'),
    generator   text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
