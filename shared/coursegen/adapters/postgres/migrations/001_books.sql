-- The library: one row per book summary, embedded for similarity search.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE books (
    book_id         text PRIMARY KEY,
    title           text NOT NULL,
    author          text NOT NULL DEFAULT '',
    subject         text NOT NULL DEFAULT '',
    year            integer,
    summary         text NOT NULL,
    key_topics      jsonb NOT NULL DEFAULT '[]',
    embedding       vector(${EMBEDDING_DIM}) NOT NULL,
    embedding_model text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Cosine distance, matching the <=> operator the search uses.
CREATE INDEX books_embedding_hnsw ON books USING hnsw (embedding vector_cosine_ops);
CREATE INDEX books_subject ON books (subject);
