"""The one composition root: builds the adapters from the environment once per cold start.

Handlers ask for `outline_workflow()`; tests and the offline runner may `override(...)` the
container with their own (fakes, or the same adapters pointed at local services).
"""

from __future__ import annotations

import threading
from functools import cached_property

from coursegen.adapters.metering import metered
from coursegen.config import Settings
from coursegen.errors import ConfigurationError
from coursegen.ports import (
    BookRepository, CourseRepository, Embedder, EventPublisher, FigureRenderer, Llm, PayloadStore, StateStore, WorkflowStarter,
)
from coursegen.services.courses import OFFLINE_LANGUAGES, CourseService
from coursegen.services.estimate import ContentEstimation
from coursegen.services.execution_end import ExecutionEndService
from coursegen.services.labs import LabSettings, LabWorkflow
from coursegen.services.lessons import LessonSettings, LessonWorkflow
from coursegen.services.library import LibraryIngestion
from coursegen.services.outline import OutlineSettings, OutlineWorkflow
from coursegen.services.visuals import VisualWorkflow


class Container:
    """Adapters, built lazily: a step that never touches PostgreSQL never connects to it."""

    def __init__(self, settings: Settings, **given) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._session = None
        for name, value in given.items():  # explicit adapters win over configured ones
            # a given LLM (a test's, the runner's) is metered like a built one: its runs have evidence too
            self.__dict__[name] = metered(value) if name == "llm" else value

    def _aws(self, service: str, **config):
        import boto3
        from botocore.config import Config

        # A session of its own, used under the lock: a boto3 session is not thread-safe (offline,
        # the API's threads build clients while moto's execution threads build theirs from the
        # default session); the clients it makes are.
        with self._lock:
            if self._session is None:
                self._session = boto3.session.Session()
            return self._session.client(service, region_name=self.settings.aws_region, config=Config(**config) if config else None)

    def _bedrock(self):
        # Read patiently, retry little (the state machine retries too). One step's worst case,
        # LLM_TIMEOUT_SECONDS x LLM_ATTEMPTS x (1 + LLM_MAX_REPAIRS), stays under its Lambda timeout
        # (tests/template/test_timeouts.py).
        s = self.settings
        return self._aws("bedrock-runtime", read_timeout=s.llm_timeout_seconds, retries={"mode": "standard", "max_attempts": s.llm_attempts})

    @cached_property
    def llm(self) -> Llm:
        """The configured provider's, metered (adapters/metering.py): every call's tokens and time are evidence."""
        return metered(self._provider_llm())

    def _provider_llm(self) -> Llm:
        s = self.settings
        if s.llm_provider == "bedrock":
            from coursegen.adapters.bedrock import BedrockLlm

            return BedrockLlm(self._bedrock(), s.llm_model_id)
        if s.llm_provider == "openai":
            from coursegen.adapters.openai_compatible import OpenAICompatibleClient, OpenAICompatibleLlm

            client = OpenAICompatibleClient(s.openai_base_url, s.openai_api_key, timeout_seconds=s.llm_timeout_seconds)
            return OpenAICompatibleLlm(client, s.openai_model)
        from coursegen.adapters.offline import OfflinePlanner, SimulatedLatencyLlm

        if s.llm_provider == "simulated":
            return SimulatedLatencyLlm(s.simulated_llm_first_token_seconds, s.simulated_llm_seconds_per_token)
        return OfflinePlanner()

    @cached_property
    def embedder(self) -> Embedder:
        s = self.settings
        if s.embeddings_provider == "bedrock":
            from coursegen.adapters.bedrock import TitanEmbedder

            return TitanEmbedder(self._bedrock(), s.embedding_model_id, s.embedding_dim)
        if s.embeddings_provider == "openai":
            from coursegen.adapters.openai_compatible import OpenAICompatibleClient, OpenAICompatibleEmbedder

            client = OpenAICompatibleClient(s.openai_base_url, s.openai_api_key)
            return OpenAICompatibleEmbedder(client, s.openai_embedding_model, s.embedding_dim)
        from coursegen.adapters.offline import WordLlamaEmbedder

        if s.embedding_dim != WordLlamaEmbedder.dimension:
            raise ConfigurationError(f"WordLlama makes {WordLlamaEmbedder.dimension}-dimension embeddings; EMBEDDING_DIM is {s.embedding_dim}.")
        return WordLlamaEmbedder()

    @cached_property
    def database(self):
        from coursegen.adapters.postgres import PostgresRepository, migrate

        with self._lock:
            conninfo = self.settings.database_url or _conninfo_from_secret(self.settings)
            migrate(conninfo, self.settings.embedding_dim)
            return PostgresRepository(conninfo, ef_search=self.settings.search_ef_search).open()

    @cached_property
    def books(self) -> BookRepository:
        return self.database

    @cached_property
    def courses(self) -> CourseRepository:
        return self.database

    @cached_property
    def payloads(self) -> PayloadStore:
        from coursegen.adapters.aws import S3PayloadStore

        return S3PayloadStore(self._aws("s3"), self.settings.payload_bucket)

    @cached_property
    def states(self) -> StateStore:
        from coursegen.adapters.aws import DynamoStateStore

        return DynamoStateStore(self._aws("dynamodb"), self.settings.course_state_table, self.payloads)

    @cached_property
    def starter(self) -> WorkflowStarter:
        from coursegen.adapters.aws import StepFunctionsStarter

        if not self.settings.state_machine_arn:
            raise ConfigurationError("Set STATE_MACHINE_ARN to the course-generation state machine.")
        return StepFunctionsStarter(self._aws("stepfunctions"), self.settings.state_machine_arn)

    @cached_property
    def lesson_workflow(self) -> LessonWorkflow:
        return LessonWorkflow(
            llm=self.llm, states=self.states, payloads=self.payloads, lessons=_Lazy(lambda: self.database),
            events=_Lazy(lambda: self.lesson_events),
            settings=LessonSettings(max_repairs=self.settings.llm_max_repairs),
        )

    @cached_property
    def content_estimation(self) -> ContentEstimation:
        s = self.settings
        offline = s.llm_provider in ("offline", "simulated")
        return ContentEstimation(states=self.states, payloads=self.payloads, offline=offline,
                                 model_id=s.openai_model if s.llm_provider == "openai" else s.llm_model_id)

    @cached_property
    def lab_workflow(self) -> LabWorkflow:
        return LabWorkflow(llm=self.llm, states=self.states, payloads=self.payloads,
                           settings=LabSettings(max_repairs=self.settings.llm_max_repairs))

    @cached_property
    def figure_renderer(self) -> FigureRenderer:
        from coursegen.adapters.figures import SvgFigureRenderer

        return SvgFigureRenderer()

    @cached_property
    def visual_workflow(self) -> VisualWorkflow:
        return VisualWorkflow(llm=self.llm, states=self.states, payloads=self.payloads, renderer=self.figure_renderer)

    @cached_property
    def lesson_events(self) -> EventPublisher:
        return self._publisher("generate_batch_content")

    @cached_property
    def events(self) -> EventPublisher:
        return self._publisher("record_execution_end")

    def _publisher(self, producer: str) -> EventPublisher:
        """Events published from code carry their producer in meta (the state machine's say so too)."""
        from coursegen.adapters.aws import EventBridgePublisher

        return EventBridgePublisher(self._aws("events"), self.settings.event_bus_name, producer=producer)

    @cached_property
    def execution_end_service(self) -> ExecutionEndService:
        return ExecutionEndService(states=self.states, events=_Lazy(lambda: self.events), executions=_Lazy(lambda: self.starter))

    @cached_property
    def course_service(self) -> CourseService:
        return CourseService(states=self.states, courses=_Lazy(lambda: self.courses), starter=self.starter,
                             lessons=_Lazy(lambda: self.database), execution_ends=self.execution_end_service,
                             quizzes=_Lazy(lambda: self.database), payloads=_Lazy(lambda: self.payloads),
                             inline_exports=self.settings.inline_exports, workflow=_Lazy(lambda: self.database),
                             languages=OFFLINE_LANGUAGES if self.settings.llm_provider in ("offline", "simulated") else None)

    @cached_property
    def library_ingestion(self) -> LibraryIngestion:
        return LibraryIngestion(payloads=self.payloads, embedder=self.embedder, books=_Lazy(lambda: self.books))

    @cached_property
    def quiz_workflow(self):
        from coursegen.services.assessments import QuizSettings, QuizWorkflow

        return QuizWorkflow(llm=self.llm, states=self.states, payloads=self.payloads,
                            settings=QuizSettings(max_repairs=self.settings.llm_max_repairs))

    @cached_property
    def revision_workflow(self):
        """A reviewer's request for changes carried out (services/revisions.py): the metered LLM, the
        database for the lessons, the lessons' event publisher (course.lesson.generated's producer)."""
        from coursegen.services.revisions import RevisionSettings, RevisionWorkflow

        s = self.settings
        model = {"bedrock": s.llm_model_id, "openai": s.openai_model}.get(s.llm_provider, "none")  # priced by name
        return RevisionWorkflow(llm=self.llm, states=self.states, payloads=self.payloads,
                                lessons=_Lazy(lambda: self.database), courses=_Lazy(lambda: self.courses),
                                events=_Lazy(lambda: self.lesson_events),
                                settings=RevisionSettings(max_repairs=s.llm_max_repairs, model_id=model))

    @cached_property
    def staging(self):
        from coursegen.adapters.staging import S3StagingSite

        return S3StagingSite(self._aws("s3"), self.settings.staging_bucket, self.settings.staging_base_url)

    @cached_property
    def publishing_workflow(self):
        from coursegen.adapters import packages, site  # the renderers: modules with the functions the service calls
        from coursegen.services.publishing import PublishingSettings, PublishingWorkflow

        s = self.settings
        return PublishingWorkflow(
            llm=self.llm, states=self.states, payloads=self.payloads, courses=_Lazy(lambda: self.courses),
            lessons=_Lazy(lambda: self.database), quizzes=_Lazy(lambda: self.database), site=site, packages=packages,
            staging=_Lazy(lambda: self.staging),
            settings=PublishingSettings(max_repairs=s.llm_max_repairs, offline=s.llm_provider in ("offline", "simulated")))

    @cached_property
    def evidence_workflow(self):
        from coursegen.services.evidence import EvidenceWorkflow

        s = self.settings
        # the model the provider is asked for by name; the offline ones ask none
        model = {"bedrock": s.llm_model_id, "openai": s.openai_model}.get(s.llm_provider, "none")
        return EvidenceWorkflow(states=self.states, payloads=self.payloads, lessons=_Lazy(lambda: self.database),
                                provider=s.llm_provider, model=model)

    @cached_property
    def outline_workflow(self) -> OutlineWorkflow:
        return OutlineWorkflow(
            llm=self.llm,
            embedder=self.embedder,
            books=_Lazy(lambda: self.books),
            courses=_Lazy(lambda: self.courses),
            states=self.states,
            payloads=self.payloads,
            settings=OutlineSettings(
                top_k=self.settings.search_top_k,
                min_similarity=self.settings.search_min_similarity,
                max_repairs=self.settings.llm_max_repairs,
            ),
        )


    @cached_property
    def review_workflow(self):
        from coursegen.services.review import ReviewWorkflow

        return ReviewWorkflow(workflow=_Lazy(lambda: self.database), states=self.states, tokens=self.states,
                              events=self._publisher("workflow_state_machine"), revisions=_Lazy(lambda: self.revision_workflow),
                              outline=_Lazy(lambda: self.outline_workflow))

    @cached_property
    def published_sites(self):
        from coursegen.adapters.staging import S3StagingSite

        return S3StagingSite(self._aws("s3"), self.settings.staging_bucket, self.settings.site_base_url, root="sites/",
                             cache_control="max-age=300")

    @cached_property
    def review_service(self):
        from coursegen.adapters.aws import StepFunctionsDecisions, StepFunctionsStarter
        from coursegen.domain.outline_edit import check_course_outline_edit
        from coursegen.services.review import ReviewService

        return ReviewService(
            courses=_Lazy(lambda: self.courses), lessons=_Lazy(lambda: self.database), workflow=_Lazy(lambda: self.database),
            states=self.states, tokens=self.states, decisions=StepFunctionsDecisions(self._aws("stepfunctions")),
            review_starter=StepFunctionsStarter(self._aws("stepfunctions"), self.settings.review_state_machine_arn),
            events=self._publisher("workflow_state_machine"), sites=_Lazy(lambda: self.published_sites),
            payloads=self.payloads, check_outline=check_course_outline_edit)


class _Lazy:
    """Defers building an adapter until a step first uses it (no DB connection for ExpandPart)."""

    def __init__(self, build) -> None:
        self._build = build

    def __getattr__(self, name):
        return getattr(self._build(), name)


def _conninfo_from_secret(settings: Settings) -> str:
    if not settings.db_secret_arn:
        raise ConfigurationError("Set DATABASE_URL, or DB_SECRET_ARN to a Secrets Manager secret with the database credentials.")
    from aws_lambda_powertools.utilities import parameters
    from psycopg.conninfo import make_conninfo

    from coursegen.adapters.postgres import RDS_CA_BUNDLE

    secret = parameters.get_secret(settings.db_secret_arn, transform="json", max_age=300)
    host = secret.get("host") or settings.db_host  # Aurora-managed secrets hold only user and password
    if not host:
        raise ConfigurationError("The database secret has no host: set DB_HOST.")
    return make_conninfo(
        host=host,
        port=secret.get("port", 5432),
        dbname=secret.get("dbname", settings.db_name),
        user=secret["username"],
        password=secret["password"],
        # In AWS only (the embedded local server has no TLS): verify the server against the RDS CAs.
        sslmode="verify-full",
        sslrootcert=RDS_CA_BUNDLE,
        # an auto-paused Aurora holds the first connection while it resumes (about 15 s)
        connect_timeout=20,
    )


_container: Container | None = None
_container_lock = threading.Lock()


def container() -> Container:
    global _container
    with _container_lock:
        if _container is None:
            _container = Container(Settings.from_env())
        return _container


def override(replacement: Container | None) -> None:
    """Use this container (tests, the offline runner); None goes back to the environment's."""
    global _container
    with _container_lock:
        _container = replacement


def outline_workflow() -> OutlineWorkflow:
    return container().outline_workflow


def course_service() -> CourseService:
    return container().course_service


def library_ingestion() -> LibraryIngestion:
    return container().library_ingestion


def lesson_workflow() -> LessonWorkflow:
    return container().lesson_workflow


def lab_workflow() -> LabWorkflow:
    return container().lab_workflow


def content_estimation() -> ContentEstimation:
    return container().content_estimation


def visual_workflow() -> VisualWorkflow:
    return container().visual_workflow


def execution_end_service() -> ExecutionEndService:
    return container().execution_end_service


def quiz_workflow():
    return container().quiz_workflow


def revision_workflow():
    return container().revision_workflow


def publishing_workflow():
    return container().publishing_workflow


def evidence_workflow():
    return container().evidence_workflow


def payload_store() -> PayloadStore:
    """The payload bucket (the handlers write each step's usage record there)."""
    return container().payloads


def review_workflow():
    return container().review_workflow


def review_service():
    return container().review_service
