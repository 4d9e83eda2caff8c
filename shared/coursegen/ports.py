"""The small protocols the services depend on. Adapters implement them; tests pass fakes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from coursegen.domain.execution_end import ExecutionEnd
from coursegen.domain.prompts import Prompt
from coursegen.domain.visuals import DiagramSpec
from coursegen.models import BookSummary, CourseOutline, CourseState, FoundBook, StoredCourse
from coursegen.models import StoredLab, StoredLesson, StoredQuiz


@dataclass(frozen=True)
class LlmReply:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    truncated: bool = False  # the model stopped at max_tokens: the answer is incomplete


class Llm(Protocol):
    """Answers a rendered prompt. Raises LlmThrottled / LlmUnavailable for provider trouble."""

    name: str  # shown wherever its output appears, e.g. "offline planner (not an LLM)"

    def complete(self, prompt: Prompt) -> LlmReply: ...


class Embedder(Protocol):
    model_id: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class BookRepository(Protocol):
    def upsert_books(self, books: Sequence[BookSummary], embeddings: Sequence[Sequence[float]], model_id: str) -> int: ...

    def unchanged_book_ids(self, books: Sequence[BookSummary], model_id: str) -> set[str]:
        """Ids of the books stored already with this very content, embedded by model_id."""

    def search(
        self, embedding: Sequence[float], top_k: int, min_similarity: float, model_id: str | None = None
    ) -> list[FoundBook]: ...

    def count_books(self) -> int: ...

    def subjects(self) -> list[str]:
        """The subjects the library covers, most books first (books with no subject left out)."""


class CourseRepository(Protocol):
    def store_course(self, state: CourseState, outline: CourseOutline) -> None:
        """Course and sections in one transaction; storing the same course_id again replaces, never duplicates."""

    def get_course(self, course_id: str, owner: str | None = None) -> StoredCourse | None: ...

    def list_courses(self, limit: int = 20, before: str | None = None, owner: str | None = None) -> list[StoredCourse]: ...


class LessonRepository(Protocol):
    def store_lesson(self, lesson: StoredLesson) -> None:
        """Idempotent per (course, part, section, revision): a re-run writes that one row again,
        under its first lesson_id."""

    def list_lessons(self, course_id: str, owner: str | None = None) -> list[StoredLesson]:
        """The latest revision of each section's lesson, in lesson_index order; [] for a course of another owner."""

    def get_lesson(self, course_id: str, lesson_id: str, owner: str | None = None) -> StoredLesson | None: ...

    def lesson_revisions(self, course_id: str) -> dict:
        """Every revision of each section's lesson, oldest first: {(part, section): [{lesson_id, revision}]}."""

    def store_lab(self, lab: StoredLab) -> None:
        """Idempotent per (course, part, revision), like store_lesson."""

    def store_content(self, course_id: str, lessons: Sequence[StoredLesson], labs: Sequence[StoredLab]) -> None:
        """These lessons and labs, at once: every lower revision of their sections and parts kept, the
        sections and parts no longer in the course gone (all their revisions)."""

    def list_labs(self, course_id: str, owner: str | None = None) -> list[StoredLab]:
        """The latest revision of each part's lab, in part order; [] for a theory course or another owner's."""

    def get_lab(self, course_id: str, lab_id: str, owner: str | None = None) -> StoredLab | None: ...


class QuizRepository(Protocol):
    def store_quiz(self, quiz: StoredQuiz) -> None:
        """The course's one quiz; storing it again replaces it (its first quiz_id kept)."""

    def delete_quiz(self, course_id: str) -> None: ...

    def get_quiz(self, course_id: str, owner: str | None = None) -> StoredQuiz | None:
        """None for a course with no quiz, or of another owner (when one is given)."""


class StateStore(Protocol):
    def load(self, course_id: str, include_text: bool = True, entering: str | None = None) -> CourseState:
        """`entering`: set this phase (so pollers see it) and read the state, in one write."""

    def create(self, state: CourseState) -> bool:
        """Write a new course's first state; False (and nothing written) if the course exists."""

    def delete(self, course_id: str) -> None: ...

    def claim_resume(self, course_id: str) -> int:
        """Mark a failed course processing again, atomically; the resume's number. NotResumable otherwise."""

    def release_resume(self, course_id: str) -> None: ...

    def save(self, state: CourseState) -> None: ...

    def set_phase(self, course_id: str, phase: str) -> None:
        """Announce the phase a step starts, so pollers see it while the step works."""

    def record_lesson_done(self, course_id: str, lesson_index: int, words: int) -> None:
        """Count one written lesson (by its index: a re-run counts once)."""

    def record_part_done(self, course_id: str, part_index: int, sections: int) -> None:
        """Count one finished part; parallel Map iterations call this at once, a retry calls it again."""

    def record_end(
        self, course_id: str, execution_arn: str, status: str, error_type: str = "", error_message: str = "",
        *, failed_event_owed: bool = False,
    ) -> bool:
        """Write an execution's end (complete, or error with its cause and whether its failed
        event is still owed) if that execution owns the course and the record allows it (never
        over complete; error only over processing). False when the record was left as it was."""

    def failed_event_published(self, course_id: str) -> None:
        """The owed course.generation.failed is out."""


class PayloadStore(Protocol):
    def put_text(self, key: str, text: str, content_type: str = "text/plain; charset=utf-8") -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def get_text(self, key: str) -> str: ...

    def get_bytes(self, key: str) -> bytes:
        """The object's bytes; PayloadMissing when there is none (as get_text)."""

    def list_keys(self, prefix: str) -> list[str]:
        """Every key under the prefix, in key order ([] when there is none)."""

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete these keys; one that is not there is no error."""

    def presigned_url(self, key: str, seconds: int) -> str:
        """A URL that GETs the key for `seconds`, for a client outside (a package download)."""


class FigureRenderer(Protocol):
    def render(self, spec: DiagramSpec) -> str:
        """The diagram as a self-contained SVG document; any exception means no figure."""


class SiteHost(Protocol):
    def deploy(self, course_id: str, files: Mapping[str, bytes]):
        """Stage the site (site path -> bytes) under the course's prefix, replacing the last deploy;
        a StagedSite(url, domain). StagingFailed, with nothing left half-staged, if it cannot."""


class EventPublisher(Protocol):
    def publish(self, detail_type: str, payload: dict) -> None:
        """Publish one domain event (detail {payload, meta}) to the course event bus."""


class WorkflowStarter(Protocol):
    def start(self, execution_name: str, execution_input: str) -> bool:
        """Start the course-generation execution; False if one with this name was started before."""

    def started_at(self, execution_name: str) -> datetime | None: ...

    def execution_arn(self, execution_name: str) -> str: ...

    def end_of(self, execution_arn: str) -> ExecutionEnd | None:
        """How the execution ended (NOT_STARTED if there is none); None while it runs."""


class WorkflowRepository(Protocol):
    """The course lifecycle (adapters/postgres/workflow.py): a course's workflow and its transitions."""

    def deciding(self, course_id: str):
        """A context manager: the course's workflow locked (a WorkflowTransaction with .workflow,
        .record(transition, after), .update(after), .last_transition()) until the block ends;
        committed when it ends normally, rolled back when it raises."""

    def get_workflow(self, course_id: str): ...

    def list_transitions(self, course_id: str) -> list: ...

    def decision_on(self, course_id: str, approval_id: str):
        """The recorded decision that answered this wait, or None."""

    def annotate_decision(self, course_id: str, approval_id: str, details: dict) -> None:
        """Add to the record of the decision that answered this wait (what carrying it out gave)."""

    def waiting_courses(self) -> list:
        """(workflow, request) of every course whose execution waits for a decision."""


class TaskTokens(Protocol):
    """Where a waiting execution's task token is kept (the state store: never an event or a log),
    and how a decision reaches it."""

    def keep_task_token(self, approval_id: str, course_id: str, token: str, seconds: int) -> None: ...

    def task_token(self, approval_id: str) -> str | None: ...

    def drop_task_token(self, approval_id: str) -> None: ...


class DecisionSender(Protocol):
    def send(self, token: str, output: dict) -> None:
        """SendTaskSuccess; WaitEnded when the wait is over (timed out, answered, or its execution stopped)."""
