"""The shapes that cross boundaries: requests, the course state, parts, sections, books.

Pydantic v2 throughout, so one definition validates an API body, a CLI argument, an execution
input and a DynamoDB item alike.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, TypeAdapter, ValidationError, field_validator

MAX_QUERY_CHARS = 500
MIN_HOURS = 0.25
MAX_HOURS = 100.0
STATE_TTL_SECONDS = 7 * 24 * 60 * 60


def describe_validation_error(error: ValidationError, whole: str = "body") -> str:
    """One line per problem: 'hours: must be between 0.25 and 100 hours'; `whole` names what a
    problem of no one field is about."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or whole}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors()
    )


def without_control_characters(text: str) -> str:
    """Text as typed: tabs and line breaks, but no C0, DEL or C1 control characters (NUL, which
    PostgreSQL cannot store, among them)."""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text):
        raise ValueError("must not contain control characters")
    return text


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Depth(str, Enum):
    overview = "overview"
    balanced = "balanced"
    deep = "deep"


class Pace(str, Enum):
    relaxed = "relaxed"
    moderate = "moderate"
    intensive = "intensive"


class ContentMode(str, Enum):
    """Seed 003's content modes: lessons only, or lessons and one lab per part."""

    theory = "theory"
    theory_and_labs = "theory_and_labs"


class CoursePreferences(BaseModel):
    """How the learner wants the course: depth and pace shape the part and section sizes."""

    model_config = ConfigDict(extra="forbid")

    depth: Depth = Depth.balanced
    pace: Pace = Pace.moderate
    audience: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    focus: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""

    @field_validator("audience", "focus")
    @classmethod
    def _printable(cls, text: str) -> str:
        return without_control_characters(text)


Query = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=MAX_QUERY_CHARS)]


class Price(BaseModel):
    """An optional price for the landing page's pricing section."""

    model_config = ConfigDict(extra="forbid")

    amount: float = Field(ge=0, le=1_000_000, strict=True)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(description="ISO 4217 code, e.g. EUR")


class CourseRequest(BaseModel):
    """What a user asks for. Validated at every entry point (CLI, API, execution input)."""

    model_config = ConfigDict(extra="forbid")

    query: Query
    hours: float = Field(gt=0, strict=True, description="Course length in hours")  # a number: not "2", not true
    preferences: CoursePreferences = Field(default_factory=CoursePreferences)
    language: Annotated[str, StringConstraints(pattern=r"^(de|en|es|fr)$")] = Field(
        "en", description="The course language: de, en, es or fr (the offline writer writes en only)")
    full_lessons_count: int | None = Field(
        None, ge=0, le=10_000,
        description="Write the first N lessons in full, the rest as placeholders (title, objectives, sources): a cheap "
                    "preview. Default: all.")
    content_mode: ContentMode = Field(
        ContentMode.theory,
        description="theory: lessons only; theory_and_labs: lessons and one lab per part (goal, setup, steps, expected "
                    "result, solution, self-check).")
    dry_run: bool = Field(
        False, strict=True,
        description="Plan the outline and the lessons, write no lesson, and answer with an estimate of the tokens, "
                    "cost and time of writing them (in the course's status).")
    generate_quiz: bool = Field(
        True, strict=True,
        description="Write a quiz: 10-15 questions (multiple choice and true/false), each assessing one lesson's objective.")
    generate_landing_page: bool = Field(
        True, strict=True,
        description="Write a landing page: hero, what you will learn, syllabus with minutes, audience, sources, a call to "
                    "action (and pricing when `price` is given).")
    deploy_to_staging: bool = Field(
        False, strict=True,
        description="Stage the course site (landing page, lessons, labs, quiz, sources) for preview; its URL is the "
                    "status's staging_url.")
    price: Price | None = Field(None, description="A price for the landing page's pricing section (none: no pricing).")
    review: bool = Field(
        False, strict=True,
        description="Once generated, wait for a reviewer (workflow_state REVIEW): approve, request changes on named "
                    "lessons, or reject, with POST /courses/{id}/review. Without it the course stays a DRAFT until "
                    "submitted.")
    review_outline: bool = Field(
        False, strict=True,
        description="Pause after the outline, before any lesson is written (waiting_for outline_approval): approve it, "
                    "replace it with an edited one, or ask for a re-plan with feedback.")

    @field_validator("query")
    @classmethod
    def _printable(cls, query: str) -> str:
        return without_control_characters(query)

    @field_validator("hours")
    @classmethod
    def _sensible_hours(cls, hours: float) -> float:
        if not MIN_HOURS <= hours <= MAX_HOURS:
            raise ValueError(f"must be between {MIN_HOURS} and {MAX_HOURS:g} hours")
        return hours

    def fingerprint(self) -> str:
        """Identifies what was asked (not who asked or the course id): artifacts are keyed by it."""
        request = CourseRequest.model_validate(self.model_dump(include=set(CourseRequest.model_fields)))
        # Fields added since courses were first stored count only when set: an earlier request's
        # fingerprint (its Idempotency-Key replay, its resume's artifacts) stays what it was.
        added = {name for name, default in ADDED_REQUEST_FIELDS.items() if getattr(request, name) == default}
        return hashlib.sha256(request.model_dump_json(exclude=added).encode()).hexdigest()


# Request fields added after the first courses were stored, with their defaults: at the default
# they leave a request's fingerprint as it was (tests/unit/test_models.py pins one).
ADDED_REQUEST_FIELDS: dict[str, Any] = {
    "content_mode": ContentMode.theory, "dry_run": False, "generate_quiz": True, "generate_landing_page": True,
    "deploy_to_staging": False, "price": None, "review": False, "review_outline": False,
}
COURSE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"  # an execution name's characters, and a safe S3 key part
Owner = Annotated[str, StringConstraints(min_length=1, max_length=300)]


class WorkflowInput(CourseRequest):
    """The execution input: the request, the id the execution is named by, and the principal
    (tenant) it belongs to. Ignores what the state machine adds to its own state."""

    model_config = ConfigDict(extra="ignore")

    course_id: Annotated[str, StringConstraints(pattern=COURSE_ID_PATTERN)]
    owner: Owner = "local"


class Status(str, Enum):
    processing = "processing"
    complete = "complete"
    error = "error"


class Phase(str, Enum):
    """Where a course is. The seeds' statuses (generating, reviewing, storing) are phases here."""

    queued = "queued"
    embedding = "embedding"
    searching_books = "searching_books"
    planning_parts = "planning_parts"
    generating_sections = "generating_sections"
    assembling_outline = "assembling_outline"
    reviewing_outline = "reviewing_outline"
    storing = "storing"
    awaiting_outline_approval = "awaiting_outline_approval"  # review_outline: waits for the reviewer
    planning_lessons = "planning_lessons"
    writing_lessons = "writing_lessons"
    writing_labs = "writing_labs"
    building_book = "building_book"
    estimating = "estimating"  # a dry run: the lessons are planned, not written
    publishing = "publishing"
    writing_quiz = "writing_quiz"
    writing_landing_page = "writing_landing_page"
    building_site = "building_site"
    deploying_staging = "deploying_staging"
    writing_evidence = "writing_evidence"
    complete = "complete"


class ContentEstimate(BaseModel):
    """What writing a course's lessons would take (a dry run): coursegen/domain/estimate.py."""

    lessons_planned: int
    lessons_in_full: int
    batches: int
    labs: int = 0
    model_calls: int
    input_tokens: int
    output_tokens: int
    model: str
    cost_usd: float | None  # None: no price is listed for the model
    wall_seconds: int
    sequential_seconds: int
    max_concurrency: int
    basis: str  # how it was reckoned, in a sentence or two


class BookSummary(BaseModel):
    """One book of the library as the planner sees it (no embedding)."""

    book_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,80}$")]
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    author: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    subject: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] = ""
    year: int | None = Field(default=None, ge=1000, le=2100)
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=20, max_length=8000)]
    key_topics: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=30
    )

    @field_validator("title", "author", "subject", "summary")
    @classmethod
    def _printable(cls, text: str) -> str:
        return without_control_characters(text)

    @field_validator("key_topics")
    @classmethod
    def _printable_topics(cls, topics: list[str]) -> list[str]:
        return [without_control_characters(topic) for topic in topics]


class FoundBook(BookSummary):
    similarity: float


class Part(BaseModel):
    index: int = Field(ge=0)
    title: str
    minutes: int = Field(ge=0)
    description: str = ""


class Section(BaseModel):
    part_index: int = Field(ge=0)
    index: int = Field(ge=0)
    title: str
    minutes: int = Field(ge=0)
    objectives: list[str] = Field(default_factory=list)
    book_ids: list[str]


class OutlinePart(Part):
    sections: list[Section] = Field(default_factory=list)


class CourseOutline(BaseModel):
    """A parsed outline, ready to store."""

    title: str
    parts: list[OutlinePart]

    @property
    def total_minutes(self) -> int:
        return sum(section.minutes for part in self.parts for section in part.sections)

    @property
    def section_count(self) -> int:
        return sum(len(part.sections) for part in self.parts)


class StoredCourse(BaseModel):
    """A course as PostgreSQL holds it, with the books its sections cite."""

    course_id: str
    owner: str = "local"
    query: str
    hours: float
    outline: CourseOutline
    generator: str
    total_minutes: int
    target_minutes: int
    variance_percent: float
    review_attempts: int
    time_warning: str
    created_at: str
    sources: list[dict[str, Any]]

    @property
    def within_tolerance(self) -> bool:
        return abs(self.total_minutes - self.target_minutes) <= 0.05 * self.target_minutes

    def document(self) -> dict[str, Any]:
        """The public JSON shape of a course (CLI --json, API)."""
        return {
            "course_id": self.course_id,
            "status": "complete",
            "title": self.outline.title,
            "query": self.query,
            "hours": self.hours,
            "generator": self.generator,
            "total_minutes": self.total_minutes,
            "target_minutes": self.target_minutes,
            "variance_percent": self.variance_percent,
            "within_tolerance": self.within_tolerance,
            "reviewed": self.review_attempts > 0,
            "review_attempts": self.review_attempts,
            "warning": self.time_warning or None,
            "created_at": self.created_at,
            "parts": [
                {
                    "title": part.title,
                    "minutes": sum(s.minutes for s in part.sections),
                    "sections": [
                        {"title": s.title, "minutes": s.minutes, "objectives": s.objectives, "book_ids": s.book_ids}
                        for s in part.sections
                    ],
                }
                for part in self.outline.parts
            ],
            "sources": self.sources,
        }


_LESSON_NAMESPACE = uuid.UUID("6f1c1b8e-3d0a-5b4e-9a57-2c0d3e1f4a60")


class StoredLesson(BaseModel):
    """One written lesson of a course's section, as PostgreSQL holds it. A section may be written
    again (a revision); the latest revision is the lesson readers see."""

    lesson_id: str
    course_id: str
    part_index: int
    section_index: int
    lesson_index: int  # the lesson's place in the whole course, 0-based, in reading order
    title: str
    markdown: str
    words: int
    minutes: float
    objective_ids: list[str]
    book_ids: list[str]
    status: Literal["full", "placeholder"] = "full"
    revision: int = 1

    @field_validator("lesson_id")
    @classmethod
    def _a_uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("must be a UUID") from None

    @staticmethod
    def id_for(course_id: str, part_index: int, section_index: int, revision: int = 1) -> str:
        """The lesson id of a section's revision, the same on every run: a retried or resumed
        writer names the row it writes again exactly as the first run did."""
        return str(uuid.uuid5(_LESSON_NAMESPACE, f"{course_id}/{part_index}/{section_index}/{revision}"))

    def summary(self) -> dict[str, Any]:
        """The lesson's entry in GET /courses/{id}/lessons: no Markdown."""
        return {
            "lesson_id": self.lesson_id,
            "part_index": self.part_index,
            "section_index": self.section_index,
            "title": self.title,
            "minutes": self.minutes,
            "words": self.words,
            "status": self.status,
            "revision": self.revision,
        }


# uuid5(NAMESPACE_URL, "https://coursegen/labs"), written out so it can never drift.
_LAB_NAMESPACE = uuid.UUID("34887cd9-344d-5a4a-b688-dbcdd4956df5")


class StoredLab(BaseModel):
    """One part's lab (theory_and_labs courses), as PostgreSQL holds it; like a lesson, a part's
    lab may be written again (a revision) and the latest revision is the one readers see."""

    lab_id: str
    course_id: str
    part_index: int
    title: str  # the part's title: the book and the CLI number it "Lab <part>"
    markdown: str
    objective_ids: list[str]  # the objectives of the part's lessons it practises
    book_ids: list[str]
    status: Literal["full", "placeholder"] = "full"
    revision: int = 1

    @field_validator("lab_id")
    @classmethod
    def _a_uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("must be a UUID") from None

    @staticmethod
    def id_for(course_id: str, part_index: int, revision: int = 1) -> str:
        """The lab id of a part's revision, the same on every run (a retry or resume names it alike)."""
        return str(uuid.uuid5(_LAB_NAMESPACE, f"{course_id}/{part_index}/{revision}"))

    def summary(self) -> dict[str, Any]:
        """The lab's entry in GET /courses/{id}/labs: no Markdown."""
        return {
            "lab_id": self.lab_id,
            "part_index": self.part_index,
            "title": self.title,
            "objective_ids": self.objective_ids,
            "status": self.status,
            "revision": self.revision,
        }


class QuestionKind(str, Enum):
    multiple_choice = "multiple_choice"  # 4 options, exactly one correct
    true_false = "true_false"  # options ["True", "False"] (in the course language)


class QuizQuestion(BaseModel):
    """One checked question of a course's quiz (domain/quiz.py checks and builds them)."""

    question_id: str  # a UUID
    kind: QuestionKind
    stem: str
    options: list[str]
    correct_index: int = Field(ge=0)
    explanation: str
    lesson_id: str  # the lesson it assesses
    objective_id: str  # the objective of that lesson it assesses (O<part>.<section>.<n>)


class StoredQuiz(BaseModel):
    """A course's quiz, as PostgreSQL holds it (one per course; a rewrite replaces it)."""

    quiz_id: str  # a UUID
    course_id: str
    title: str
    questions: list[QuizQuestion]
    generator: str = ""  # who wrote it: the model's name, or "offline writer (not an LLM)"

    @property
    def question_ids(self) -> list[str]:
        return [q.question_id for q in self.questions]


class LandingCopy(BaseModel):
    """The landing page's words that a model writes (the page's structure and every fact in it -
    syllabus, minutes, sources, price - come from the course itself, not from the model)."""

    headline: str
    subtitle: str
    outcomes: list[str]  # "what you will learn", 3-8 items
    audience: str  # who it is for, a sentence or two
    call_to_action: str  # the button's words, a few


class Progress(BaseModel):
    """Counted per part, by index: a retried part sets its own entry again instead of counting twice."""

    parts_total: int = 0
    part_sections: dict[str, int] = Field(default_factory=dict)  # part index -> sections written
    stored_sections: int = 0
    lessons_total: int = 0
    lessons_written: dict[str, int] = Field(default_factory=dict)  # lesson index -> words (a re-run sets its own entry)

    @property
    def parts_done(self) -> int:
        return len(self.part_sections)

    @property
    def lessons_done(self) -> int:
        return len(self.lessons_written)

    @property
    def sections_total(self) -> int:
        return self.stored_sections or sum(self.part_sections.values())


class CourseState(BaseModel):
    """Everything the workflow knows about one course, every field the seeds list.

    Big text fields are offloaded to the payload bucket by the state store; the execution
    payload itself only carries ids, counts and keys.
    """

    model_config = ConfigDict(use_enum_values=False)
    # digests of each attribute as last loaded or saved: a save writes only what changed
    _stored: dict[str, str] = PrivateAttr(default_factory=dict)

    # identity (the seeds' session_id is the course id) and the principal it belongs to
    session_id: str
    owner: str = "local"
    request_fingerprint: str = ""
    # the request
    pending_course_query: str = ""
    pending_course_hours: float = 0.0
    pending_course_prefs: CoursePreferences = Field(default_factory=CoursePreferences)
    language: str = "en"
    full_lessons_count: int | None = None  # None: every lesson in full
    dry_run: bool = False  # plan, estimate, write no lesson
    content_mode: ContentMode = ContentMode.theory
    # outline generation
    book_summaries_json: str = "[]"
    parts_list: list[dict[str, Any]] = Field(default_factory=list)
    current_part_index: int = 0
    outline_text: str = ""
    # outline approval: a reviewer's feedback for each re-plan, oldest first (PlanParts' prompt gets all of it)
    outline_feedback: list[str] = Field(default_factory=list)
    outline_complete: bool = False
    lessons_complete: bool = False  # BuildBook stored every lesson and the book: the course is whole
    estimate: ContentEstimate | None = None  # a dry run's answer (EstimateContent)
    generate_quiz: bool = True
    generate_landing_page: bool = True
    deploy_to_staging: bool = False
    price: Price | None = None
    review: bool = False  # the lifecycle's (domain/lifecycle.py): wait for a reviewer once generated
    review_outline: bool = False  # wait for the outline's approval before writing lessons
    # the publishing stage's results (statemachine/course_publishing.asl.json)
    quiz_id: str = ""
    quiz_questions_count: int = 0
    landing_page_id: str = ""
    staging_url: str = ""
    evidence_pack_path: str = ""
    # lesson writing (later phases; kept so no field is lost between phases)
    current_course: dict[str, Any] | None = None
    current_section: dict[str, Any] | None = None
    current_section_draft: str = ""
    selected_lecture_figures: list[Any] = Field(default_factory=list)
    covered_objectives: list[str] = Field(default_factory=list)
    previous_lectures_context: str = ""
    course_outline_context: str = ""
    is_revision: bool = False
    # status, for polling
    status: Status = Status.processing
    phase: Phase = Phase.queued
    progress: Progress = Field(default_factory=Progress)
    error_message: str = ""
    error_type: str = ""
    execution_arn: str = ""
    resumes: int = 0
    failed_event_owed: bool = False  # RecordExecutionEnd recorded an error whose event is not yet published
    # the time budget, as last measured
    review_attempts: int = 0
    total_minutes: int | None = None
    variance_percent: float | None = None
    time_warning: str = ""
    generator: str = ""
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    ttl: int = 0

    @property
    def course_id(self) -> str:
        return self.session_id

    @classmethod
    def requested(cls, course_id: str, request: CourseRequest, owner: str) -> "CourseState":
        """A course's first record, before its execution starts (POST /courses, coursegen generate)."""
        state = cls(session_id=course_id, phase=Phase.queued)
        state.take_request(request, owner)
        return state

    def take_request(self, request: CourseRequest, owner: str) -> None:
        """The request's part of the record, written from here only: by POST /courses before the
        execution starts, and by its first step (EmbedQuery) for an execution started by hand."""
        self.request_fingerprint = request.fingerprint()
        self.owner = owner
        self.pending_course_query = request.query
        self.pending_course_hours = request.hours
        self.pending_course_prefs = request.preferences
        self.language = request.language
        self.full_lessons_count = request.full_lessons_count
        self.dry_run = request.dry_run
        self.content_mode = request.content_mode
        self.generate_quiz = request.generate_quiz
        self.generate_landing_page = request.generate_landing_page
        self.deploy_to_staging = request.deploy_to_staging
        self.price = request.price
        self.review = request.review
        self.review_outline = request.review_outline

    def original_request(self) -> CourseRequest:
        """The request this record was made from, as it was (its fingerprint keys the artifacts a re-run reuses)."""
        return CourseRequest(query=self.pending_course_query, hours=self.pending_course_hours,
                             preferences=self.pending_course_prefs, language=self.language,
                             full_lessons_count=self.full_lessons_count, content_mode=self.content_mode,
                             dry_run=self.dry_run, generate_quiz=self.generate_quiz,
                             generate_landing_page=self.generate_landing_page, deploy_to_staging=self.deploy_to_staging,
                             price=self.price, review=self.review, review_outline=self.review_outline)

    @property
    def is_whole(self) -> bool:
        """Everything the course was asked for is made: the outline stored, the lessons written (a
        dry run: estimated), the publishing stage's evidence pack and, when asked for, the staged site."""
        content_done = self.lessons_complete or (self.dry_run and self.estimate is not None)
        staged = not self.deploy_to_staging or self.dry_run or bool(self.staging_url)  # staging is the last step
        return self.outline_complete and content_done and bool(self.evidence_pack_path) and staged

    @property
    def course_title(self) -> str:
        """The title the planner gave the course, or the query until it has one."""
        return (self.current_course or {}).get("title") or self.pending_course_query

    @property
    def target_minutes(self) -> int:
        return round(self.pending_course_hours * 60)

    @property
    def book_summaries(self) -> list[FoundBook]:
        return _FOUND_BOOKS_ADAPTER.validate_json(self.book_summaries_json or "[]")

    @property
    def parts(self) -> list[Part]:
        return [Part.model_validate(part) for part in self.parts_list]


_FOUND_BOOKS_ADAPTER = TypeAdapter(list[FoundBook])


class ExecutionStatusChangeDetail(BaseModel):
    """The detail of a Step Functions "Execution Status Change" EventBridge event (the fields used)."""

    model_config = ConfigDict(extra="ignore")

    executionArn: str
    stateMachineArn: str = ""
    name: str
    status: str
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(BaseModel):
    """The EventBridge envelope RecordExecutionEnd receives (source aws.states)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    source: str
    detail_type: str = Field(alias="detail-type")
    detail: ExecutionStatusChangeDetail
