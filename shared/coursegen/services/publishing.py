"""The publishing stage's steps (statemachine/course_publishing.asl.json), after the lessons:

PlanPublishing -> what this course publishes (its request's flags, as the state holds them);
GenerateLandingPage -> the landing page (the model writes its words, the course gives its facts);
BuildSite -> the course site and its packages (SCORM, QTI, GIFT) into the payload bucket;
DeployToStaging -> the site to the staging bucket (CloudFront in AWS, `coursegen serve` offline).
(GenerateQuiz is services/assessments.py; WriteEvidencePack services/evidence.py.)

Every page is rendered by the site adapter from autoescaping templates, lesson Markdown by the
book's one renderer and sanitised; what a step answers is ids, counts and keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from coursegen.domain.artifacts import EXPORT_FORMATS, export_key, landing_page_key, media_type, quiz_key, site_prefix
from coursegen.domain.landing import landing_prompt, parse_landing_copy
from coursegen.errors import CoursegenError, PayloadMissing, StagingFailed
from coursegen.models import CourseOutline, CourseState, LandingCopy, Phase, StoredCourse, StoredQuiz
from coursegen.ports import CourseRepository, LessonRepository, Llm, PayloadStore, QuizRepository, SiteHost, StateStore
from coursegen.services.evidence import completion_fields
from coursegen.services.lessons import lesson_plans
from coursegen.services.outline import StepInput, artifact_key, ask, stored_outline
from coursegen.services.visuals import lesson_figures

OFFLINE_NOTE = "Written by the offline writer (not an LLM): extractive text from the library, for trying coursegen out."


@dataclass(frozen=True)
class PublishingSettings:
    max_repairs: int = 2
    offline: bool = False  # the writer is the offline one: every page says so


class PublishingWorkflow:
    def __init__(self, *, llm: Llm, states: StateStore, payloads: PayloadStore, courses: CourseRepository,
                 lessons: LessonRepository, quizzes: QuizRepository, site, packages, staging: SiteHost,
                 settings: PublishingSettings) -> None:
        """site, packages: the renderer adapters (adapters/site.py, adapters/packages.py)."""
        self.llm = llm
        self.states = states
        self.payloads = payloads
        self.courses = courses
        self.lessons = lessons
        self.quizzes = quizzes
        self.site = site
        self.packages = packages
        self.staging = staging
        self.settings = settings

    # -- PlanPublishing ----------------------------------------------------------------------
    def plan_publishing(self, step: StepInput) -> dict:
        """From the state alone (no database: this step runs outside the VPC)."""
        state = self.states.load(step.course_id, entering=Phase.publishing.value)
        written = not state.dry_run and state.full_lessons_count != 0  # some lesson is in full
        quiz = state.generate_quiz and written  # a quiz assesses written lessons: none in full, no quiz
        landing = state.generate_landing_page and not state.dry_run
        staging = state.deploy_to_staging and not state.dry_run
        # what a run under this course id published before and this request does not ask for goes
        # (BuildSite deletes the quiz row and the packages; DeployToStaging is skipped)
        state.quiz_id, state.quiz_questions_count = (state.quiz_id, state.quiz_questions_count) if quiz else ("", 0)
        state.landing_page_id = state.landing_page_id if landing else ""
        state.staging_url = state.staging_url if staging else ""
        state.phase = Phase.publishing
        self.states.save(state)
        return {"dry_run": state.dry_run, "generate_quiz": quiz, "generate_landing_page": landing, "deploy_to_staging": staging}

    # -- GenerateLandingPage -------------------------------------------------------------------
    def generate_landing_page(self, step: StepInput) -> dict:
        state = self.states.load(step.course_id, entering=Phase.writing_landing_page.value)
        outline = stored_outline(state)  # from the state: no database here either
        draft = artifact_key(state, "landing_copy.json")
        try:
            copy = LandingCopy.model_validate_json(self.payloads.get_text(draft))
        except PayloadMissing:
            copy = self._write_copy(state, outline)
            self.payloads.put_text(draft, copy.model_dump_json(), "application/json")
        page = self.site.render_landing_page(self._landing_input(state, outline, copy))
        self.payloads.put_text(landing_page_key(state.course_id), page.html, "text/html; charset=utf-8")
        state.landing_page_id = page.landing_page_id
        self.states.save(state)
        return {"landing_page_id": page.landing_page_id, "sections_count": page.sections_count,
                "has_hero": page.has_hero, "has_pricing": page.has_pricing}

    # -- BuildSite ---------------------------------------------------------------------------
    def build_site(self, step: StepInput) -> dict:
        state = self.states.load(step.course_id, entering=Phase.building_site.value)
        course = self._course(state)
        lessons = self.lessons.list_lessons(state.course_id)
        labs = self.lessons.list_labs(state.course_id)
        quiz = self._quiz(state)
        figures, _ = lesson_figures(self.payloads, state, lesson_plans(self.payloads, state))
        landing = self.payloads.get_text(landing_page_key(state.course_id)) if state.landing_page_id else None
        if landing is None:  # asked for none this time: none from before stays published
            self.payloads.delete_keys([landing_page_key(state.course_id)])
        site_input = self.site.SiteInput(
            course_id=state.course_id, title=course.outline.title, language=state.language,
            parts=[part.title for part in course.outline.parts], lessons=lessons, labs=labs, quiz=quiz,
            sources=_sources(state), figures=figures, landing_html=landing, generator_note=self._note())
        files = self.site.render_site(site_input)
        prefix = site_prefix(state.course_id)
        stale = set(self.payloads.list_keys(prefix)) - {prefix + path for path in files}
        for path, data in sorted(files.items()):
            self.payloads.put_bytes(prefix + path, data, media_type(path))
        self.payloads.delete_keys(sorted(stale))  # a page the last build had and this one has not
        exports = self._packages(state, course, site_input, files, quiz)
        # last, once the site and packages are in: what the API serves (the quiz step has no database)
        if quiz is not None:
            self.quizzes.store_quiz(quiz)
        else:  # asked for none this time: none from before stays
            self.quizzes.delete_quiz(state.course_id)
            self.payloads.delete_keys([quiz_key(state.course_id)])
        return {"pages": sum(path.endswith(".html") for path in files), "exports": exports}

    # -- DeployToStaging ------------------------------------------------------------------------
    def deploy_to_staging(self, step: StepInput) -> dict:
        state = self.states.load(step.course_id, entering=Phase.deploying_staging.value)
        prefix = site_prefix(state.course_id)
        files = {key.removeprefix(prefix): self.payloads.get_bytes(key) for key in self.payloads.list_keys(prefix)}
        if "index.html" not in files:
            raise PayloadMissing(f"The site of course {state.course_id} is not built (no {prefix}index.html).")
        try:
            staged = self.staging.deploy(state.course_id, files)
        except StagingFailed:  # nothing of it is left staged: no URL says otherwise
            state.staging_url = ""
            self.states.save(state)
            raise
        state.staging_url = staged.url
        self.states.save(state)
        # the last step when asked for: it answers the completion's fields too
        return completion_fields(state) | {"staging_url": staged.url, "staging_domain": staged.domain,
                                           "deployed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    # -- helpers -----------------------------------------------------------------------------
    def _note(self) -> str:
        return OFFLINE_NOTE if self.settings.offline else ""

    def _course(self, state: CourseState) -> StoredCourse:
        course = self.courses.get_course(state.course_id)
        if course is None:
            raise PayloadMissing(f"Course {state.course_id} is not stored.")
        return course

    def _quiz(self, state: CourseState) -> StoredQuiz | None:
        if not state.quiz_id:
            return None
        return StoredQuiz.model_validate_json(self.payloads.get_text(quiz_key(state.course_id)))

    def _write_copy(self, state: CourseState, outline: CourseOutline) -> LandingCopy:
        plans = lesson_plans(self.payloads, state)
        prompt = landing_prompt(
            outline.title, [(part.title, sum(s.minutes for s in part.sections)) for part in outline.parts],
            [objective.text for plan in plans for objective in plan.objectives], state.pending_course_prefs.audience,
            state.language, state.pending_course_prefs)
        try:
            return ask(self.llm, prompt, parse_landing_copy, self.settings.max_repairs)
        except CoursegenError as error:
            raise type(error)(f"Landing page: {error}") from error

    def _landing_input(self, state: CourseState, outline: CourseOutline, copy: LandingCopy):
        parts = [(part.title, sum(s.minutes for s in part.sections), [(s.title, s.minutes) for s in part.sections])
                 for part in outline.parts]
        first = outline.parts[0]
        return self.site.LandingInput(
            course_id=state.course_id, title=outline.title, language=state.language, copy=copy, parts=parts,
            total_minutes=sum(s.minutes for part in outline.parts for s in part.sections), audience=state.pending_course_prefs.audience, sources=[
                (book.title, book.author, book.year) for book in state.book_summaries],
            price=state.price, start_href=f"lessons/{first.index + 1}-1.html", generator_note=self._note())

    def _scorm(self, state: CourseState, title: str, site_input, files: dict[str, bytes]) -> bytes:
        """The SCORM package: an item per part with its pages, then the quiz page's."""
        item = self.packages.PackageItem
        modules = [self.packages.PackageModule(title=part, items=tuple(item(title=page, href=href) for page, href in pages))
                   for part, pages in self.site.site_modules(site_input)]
        quiz_href = self.site.site_quiz_href(site_input)
        return self.packages.scorm_package(course_id=state.course_id, title=title, language=state.language, modules=modules,
                                           files=files, quiz=item(title="Quiz", href=quiz_href) if quiz_href else None)

    def _packages(self, state: CourseState, course: StoredCourse, site_input, files: dict[str, bytes],
                  quiz: StoredQuiz | None) -> list[str]:
        """The course's packages, each replacing the last; a course without a quiz has no QTI or GIFT."""
        built = {"scorm": self._scorm(state, course.outline.title, site_input, files)}
        if quiz is not None:
            built["qti"] = self.packages.qti_package(course_id=state.course_id, title=course.outline.title, quiz=quiz,
                                                     language=state.language)
            built["gift"] = self.packages.gift_text(quiz).encode("utf-8")
        for export_format in EXPORT_FORMATS:
            key = export_key(state.course_id, export_format)
            if export_format in built:
                self.payloads.put_bytes(key, built[export_format], EXPORT_FORMATS[export_format][1])
            else:
                self.payloads.delete_keys([key])
        return sorted(built)


def _sources(state: CourseState) -> list[dict]:
    return [{"book_id": b.book_id, "title": b.title, "author": b.author, "year": b.year,
             "similarity": round(b.similarity, 3)} for b in state.book_summaries]


def export_document(payloads: PayloadStore, course_id: str, export_format: str) -> bytes:
    """A built package's bytes (PayloadMissing if the course has none of that format)."""
    return payloads.get_bytes(export_key(course_id, export_format))
