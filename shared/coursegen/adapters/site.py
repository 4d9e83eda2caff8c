"""The course's HTML for learners and marketers: the landing page and the static course site.

Pure (no I/O but reading its own templates): Jinja2 templates in site_templates/. Every string a
page shows comes from a model, the library or the request, so:

* it reaches the page through Jinja2's autoescape (on for every template; StrictUndefined makes a
  template's typo an error instead of an empty string);
* Markdown (lessons, labs) reaches it only through the book's renderer (domain/book.py: raw HTML
  off, its link check, nh3), the one HTML a template takes as HTML;
* every link is made here and is relative, so the site works under any prefix (a staging path, a
  CDN prefix, a folder on disk, a SCORM zip); the one link given from outside (start_href) is checked.

No page has a script: the quiz's answers open in <details>, which needs none.
"""

from __future__ import annotations

import posixpath
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal
from babel.units import format_unit
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from coursegen.domain import book
from coursegen.domain.visuals import LessonFigure
from coursegen.models import LandingCopy, Price, StoredCourse, StoredLab, StoredLesson, StoredQuiz

TEMPLATES = Path(__file__).with_name("site_templates")
QUIZ_HREF = "quiz.html"
# uuid5(NAMESPACE_URL, "https://coursegen/landing-pages"), written out so it can never drift.
_LANDING_NAMESPACE = uuid.UUID("714fd613-40a4-5015-9444-95de9474f1cc")
# A site-relative path: plain segments (none starting with a dot: no "..", no scheme), an optional #id.
_RELATIVE_HREF = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*(?:#[A-Za-z0-9_-]+)?")

# The words the pages add, in the course languages (the book's own - part, contents, lab - join them).
WORDS = {
    "en": {
        "skip": "Skip to the content", "on_this_page": "On this page", "learn": "What you will learn",
        "syllabus": "Syllabus", "audience": "Who it is for", "sources": "Sources", "pricing": "Price",
        "cta": "Ready to begin?", "start": "Start the course", "total": "In total", "course": "Course",
        "breadcrumb": "You are here", "pages": "Previous and next", "previous": "Previous", "next": "Next",
        "quiz": "Quiz", "question": "Question", "show_answer": "Show the answer", "answer": "Answer",
        "review": "Review the lesson", "no_sources": "This course cites no books.", "similarity": "similarity",
        "part_one": "part", "part_many": "parts",
    },
    "de": {
        "skip": "Zum Inhalt springen", "on_this_page": "Auf dieser Seite", "learn": "Was Sie lernen",
        "syllabus": "Lehrplan", "audience": "Für wen der Kurs ist", "sources": "Quellen", "pricing": "Preis",
        "cta": "Bereit?", "start": "Kurs beginnen", "total": "Insgesamt", "course": "Kurs",
        "breadcrumb": "Sie sind hier", "pages": "Zurück und weiter", "previous": "Zurück", "next": "Weiter",
        "quiz": "Quiz", "question": "Frage", "show_answer": "Antwort anzeigen", "answer": "Antwort",
        "review": "Zur Lektion", "no_sources": "Dieser Kurs zitiert keine Bücher.", "similarity": "Ähnlichkeit",
        "part_one": "Teil", "part_many": "Teile",
    },
    "fr": {
        "skip": "Aller au contenu", "on_this_page": "Sur cette page", "learn": "Ce que vous apprendrez",
        "syllabus": "Programme", "audience": "À qui s'adresse ce cours", "sources": "Sources", "pricing": "Prix",
        "cta": "Prêt à commencer ?", "start": "Commencer le cours", "total": "Au total", "course": "Cours",
        "breadcrumb": "Vous êtes ici", "pages": "Précédent et suivant", "previous": "Précédent", "next": "Suivant",
        "quiz": "Quiz", "question": "Question", "show_answer": "Voir la réponse", "answer": "Réponse",
        "review": "Revoir la leçon", "no_sources": "Ce cours ne cite aucun livre.", "similarity": "similarité",
        "part_one": "partie", "part_many": "parties",
    },
    "es": {
        "skip": "Saltar al contenido", "on_this_page": "En esta página", "learn": "Lo que aprenderás",
        "syllabus": "Temario", "audience": "Para quién es", "sources": "Fuentes", "pricing": "Precio",
        "cta": "¿Listo para empezar?", "start": "Empezar el curso", "total": "En total", "course": "Curso",
        "breadcrumb": "Estás aquí", "pages": "Anterior y siguiente", "previous": "Anterior", "next": "Siguiente",
        "quiz": "Cuestionario", "question": "Pregunta", "show_answer": "Ver la respuesta", "answer": "Respuesta",
        "review": "Repasar la lección", "no_sources": "Este curso no cita ningún libro.", "similarity": "similitud",
        "part_one": "parte", "part_many": "partes",
    },
}


@dataclass(frozen=True)
class Source:
    """A book the course cites, as the pages show it."""

    title: str
    author: str = ""
    year: int | None = None
    similarity: float | None = None  # how close the library search found it, when known

    @classmethod
    def of(cls, book_row: "Source | Mapping[str, Any] | Sequence[Any]") -> "Source":
        """From a StoredCourse.sources entry (a mapping: title, author, year, similarity) or a tuple
        (title, author, year[, similarity])."""
        if isinstance(book_row, Source):
            return book_row
        if isinstance(book_row, Mapping):
            return cls(title=str(book_row.get("title") or ""), author=str(book_row.get("author") or ""),
                       year=book_row.get("year"), similarity=book_row.get("similarity"))
        return cls(*book_row)


@dataclass(frozen=True)
class LandingInput:
    """What the landing page shows. Its facts come from the course; only `copy` is a model's words."""

    course_id: str
    title: str
    language: str
    copy: LandingCopy | None  # None: a page from the course facts alone
    parts: Sequence[tuple[str, int, Sequence[tuple[str, int]]]]  # (part title, minutes, [(section title, minutes)])
    total_minutes: int
    start_href: str  # the first lesson, site-relative: "lessons/1-1.html"
    audience: str = ""  # the request's words (shown when the copy has none)
    sources: Sequence[Source | Mapping[str, Any] | tuple] = ()  # each read with Source.of
    price: Price | None = None
    generator_note: str = ""  # e.g. "Written by the offline writer (not an LLM)"


@dataclass(frozen=True)
class LandingPage:
    html: str
    landing_page_id: str  # uuid5 of the course id: a rewrite names the same page
    sections_count: int  # the content sections rendered (hero, learn, syllabus, audience, sources, pricing, cta)
    has_hero: bool
    has_pricing: bool


@dataclass(frozen=True)
class SiteInput:
    """What the course site shows: the lessons and labs as written, the quiz, the cited books."""

    course_id: str
    title: str
    language: str
    parts: Sequence[str]  # part titles, by part index
    lessons: Sequence[StoredLesson]
    labs: Sequence[StoredLab] = ()
    quiz: StoredQuiz | None = None
    sources: Sequence[Source | Mapping[str, Any] | tuple] = ()  # each read with Source.of
    figures: Mapping[str, LessonFigure] = field(default_factory=dict)  # lesson id -> its figure
    landing_html: str | None = None  # render_landing_page's html, the site's index.html (None: the contents)
    generator_note: str = ""


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    """Every template autoescaped; an undefined name raises instead of rendering as ""."""
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def stylesheet() -> bytes:
    """The site's styles.css (the landing page links it too)."""
    return (TEMPLATES / "styles.css").read_bytes()


def words(language: str) -> dict[str, str]:
    return {**book.labels(language), **WORDS.get(language.split("-")[0].lower(), WORDS["en"])}


def lesson_href(lesson: StoredLesson) -> str:
    return f"lessons/{lesson.part_index + 1}-{lesson.section_index + 1}.html"


def lab_href(lab: StoredLab) -> str:
    return f"labs/{lab.part_index + 1}.html"


def landing_page_id(course_id: str) -> str:
    return str(uuid.uuid5(_LANDING_NAMESPACE, course_id))


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language, sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def _duration(minutes: float, locale: Locale) -> str:
    """45 min, 2 hr 30 min, 2 Std. 30 Min. (Babel's short units)."""
    hours, rest = divmod(max(0, round(minutes)), 60)
    shown = [format_unit(hours, "duration-hour", length="short", locale=locale)] if hours else []
    if rest or not hours:
        shown.append(format_unit(rest, "duration-minute", length="short", locale=locale))
    return " ".join(shown)


def _facts(parts_count: int, minutes: float, language: str, locale: Locale) -> str:
    said = words(language)
    return f"{parts_count} {said['part_one'] if parts_count == 1 else said['part_many']} · {_duration(minutes, locale)}"


def _source_view(source: Source, locale: Locale | None) -> dict[str, Any]:
    """A cited book as the templates show it; its similarity only with a locale to format it in."""
    shown = locale is not None and source.similarity is not None
    return {"title": source.title, "author": source.author, "year": source.year,
            "similarity": format_decimal(source.similarity, "0.00", locale=locale) if shown else ""}


def _render(template: str, **context: Any) -> str:
    return template_environment().get_template(template).render(**context)


# -- the landing page --------------------------------------------------------------------------
def landing_input(course: StoredCourse, *, language: str, copy: LandingCopy | None, price: Price | None = None,
                  audience: str = "", generator_note: str = "") -> LandingInput:
    """A stored course's landing page facts: its outline's parts and minutes, its cited books."""
    parts = [(part.title, sum(s.minutes for s in part.sections), [(s.title, s.minutes) for s in part.sections])
             for part in course.outline.parts]
    first = next(((p.index, s.index) for p in course.outline.parts for s in p.sections), (0, 0))
    return LandingInput(
        course_id=course.course_id, title=course.outline.title, language=language, copy=copy, parts=parts,
        total_minutes=course.total_minutes, start_href=f"lessons/{first[0] + 1}-{first[1] + 1}.html",
        audience=audience, sources=[Source.of(row) for row in course.sources], price=price,
        generator_note=generator_note,
    )


def render_landing_page(page: LandingInput) -> LandingPage:
    """Hero, what you will learn, syllabus, audience, sources, pricing (with a price), call to action;
    a section with nothing to say (no outcomes, no audience, no sources) is left out."""
    language = book.checked_language(page.language)
    if not _RELATIVE_HREF.fullmatch(page.start_href):
        raise ValueError(f"start_href: {page.start_href!r} is not a site-relative path such as lessons/1-1.html")
    said, locale = words(language), _locale(language)
    copy = page.copy
    outcomes = [outcome for outcome in (copy.outcomes if copy else []) if outcome.strip()]
    audience = (copy.audience.strip() if copy else "") or page.audience.strip()
    sections = ["hero", *(["learn"] if outcomes else []), "syllabus", *(["audience"] if audience else []),
                *(["sources"] if page.sources else []), *(["pricing"] if page.price else []), "cta"]
    parts = [
        {"title": book.part_title(i, {i: title}, language), "minutes": _duration(minutes, locale),
         "sections": [(section, _duration(section_minutes, locale)) for section, section_minutes in part_sections]}
        for i, (title, minutes, part_sections) in enumerate(page.parts)
    ]
    html = _render(
        "landing.html", language=language, words=said, root="", page_title=page.title, course_title=page.title,
        generator_note=page.generator_note, sections=sections,
        nav=[(said[name], f"#{name}") for name in sections if name not in ("hero", "cta")],
        headline=copy.headline.strip() if copy else "", subtitle=copy.subtitle.strip() if copy else "",
        facts=_facts(len(page.parts), page.total_minutes, language, locale), outcomes=outcomes,
        parts=parts, total=_duration(page.total_minutes, locale), audience=audience,
        sources=[_source_view(Source.of(source), None) for source in page.sources],  # a marketing page: no similarity
        price=format_currency(page.price.amount, page.price.currency, locale=locale) if page.price else "",
        start_href=page.start_href, call_to_action=(copy.call_to_action.strip() if copy else "") or said["start"],
    )
    return LandingPage(html=html, landing_page_id=landing_page_id(page.course_id), sections_count=len(sections),
                       has_hero="hero" in sections, has_pricing="pricing" in sections)


# -- the course site ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Page:
    title: str
    href: str  # site-relative
    part_index: int | None = None
    item: StoredLesson | StoredLab | None = None


def _part_titles(site: SiteInput) -> dict[int, str]:
    return dict(enumerate(site.parts))


def _modules(site: SiteInput) -> list[tuple[int, list[_Page]]]:
    """Per part, in order: its lessons, then its lab."""
    language = site.language
    indices = sorted({lesson.part_index for lesson in site.lessons} | {lab.part_index for lab in site.labs})
    modules = []
    for part_index in indices:
        lessons = sorted((lesson for lesson in site.lessons if lesson.part_index == part_index),
                         key=lambda lesson: (lesson.lesson_index, lesson.section_index))
        pages = [_Page(f"{book.lesson_number(lesson)} {lesson.title}", lesson_href(lesson), part_index, lesson)
                 for lesson in lessons]
        pages += [_Page(book.lab_heading(lab, language), lab_href(lab), part_index, lab)
                  for lab in site.labs if lab.part_index == part_index]
        modules.append((part_index, pages))
    return modules


def site_modules(site: SiteInput) -> list[tuple[str, list[tuple[str, str]]]]:
    """The site's pages in reading order, per part: (part title, [(page title, site-relative href)]),
    for a package's manifest (SCORM lists the lessons per part); the quiz is site_quiz_href's."""
    titles = _part_titles(site)
    return [(book.part_title(part_index, titles, site.language), [(page.title, page.href) for page in pages])
            for part_index, pages in _modules(site)]


def site_quiz_href(site: SiteInput) -> str | None:
    return QUIZ_HREF if site.quiz is not None else None


def _relative(from_path: str, to_path: str) -> str:
    """A link from one site page to another that holds under any prefix."""
    target, _, anchor = to_path.partition("#")
    link = posixpath.relpath(target, posixpath.dirname(from_path) or ".")
    return f"{link}#{anchor}" if anchor else link


def render_site(site: SiteInput) -> dict[str, bytes]:
    """Every file of the site, by site-relative path: index.html, contents.html, lessons/P-S.html,
    labs/P.html, quiz.html (with a quiz), sources.html, styles.css."""
    language = book.checked_language(site.language)
    said, locale = words(language), _locale(language)
    titles = _part_titles(site)
    modules = _modules(site)
    reading = [page for _, pages in modules for page in pages]
    if site.quiz is not None:
        reading.append(_Page(site.quiz.title, QUIZ_HREF))

    def page(path: str, template: str, page_title: str, **context: Any) -> bytes:
        header = [(said["contents"], "contents.html"), *([(said["quiz"], QUIZ_HREF)] if site.quiz else []),
                  (said["sources"], "sources.html")]
        html = _render(
            template, language=language, words=said, root=_relative(path, "index.html").removesuffix("index.html"),
            page_title=f"{page_title} · {site.title}" if page_title != site.title else site.title,
            course_title=site.title, generator_note=site.generator_note,
            site_nav=[(label, _relative(path, href), href == path) for label, href in header], **context)
        return html.encode("utf-8")

    def pager(path: str) -> dict[str, Any]:
        """The pages before and after this one in reading order (lessons, each part's lab, the quiz)."""
        at = [p.href for p in reading].index(path)
        near = {"previous": reading[at - 1] if at > 0 else None,
                "next": reading[at + 1] if at + 1 < len(reading) else None}
        return {name: {"title": p.title, "href": _relative(path, p.href)} if p else None for name, p in near.items()}

    files = {"styles.css": stylesheet()}
    contents = [
        {"id": f"part-{part_index + 1}", "title": book.part_title(part_index, titles, language),
         "pages": [{"title": p.title, "href": p.href,
                    "minutes": _duration(p.item.minutes, locale) if isinstance(p.item, StoredLesson) else ""}
                   for p in pages]}
        for part_index, pages in modules
    ]
    facts = _facts(len(modules), sum(lesson.minutes for lesson in site.lessons), language, locale)
    for path in ("contents.html", "index.html"):  # the index is the landing page when there is one
        files[path] = page(path, "contents.html", site.title, parts=contents, quiz=site.quiz, facts=facts)
    if site.landing_html is not None:
        files["index.html"] = site.landing_html.encode("utf-8")
    for item in reading:
        if item.item is None:
            continue
        part = book.part_title(item.part_index, titles, language)
        if isinstance(item.item, StoredLesson):
            figure = book.figure_html(item.item, site.figures.get(item.item.lesson_id))
            body = book.lesson_html(item.item, 1, figure)
        else:
            body = book.lab_html(item.item, 1, language)
        files[item.href] = page(
            item.href, "lesson.html", item.title, body=Markup(body), current=item.title,  # sanitised by the book
            breadcrumb=[(site.title, _relative(item.href, "index.html")),
                        (part, _relative(item.href, f"contents.html#part-{item.part_index + 1}"))],
            **pager(item.href))
    if site.quiz is not None:
        files[QUIZ_HREF] = page(QUIZ_HREF, "quiz.html", site.quiz.title, quiz_title=site.quiz.title,
                                questions=_questions(site), **pager(QUIZ_HREF))
    files["sources.html"] = page(
        "sources.html", "sources.html", said["sources"],
        sources=[_source_view(Source.of(source), locale) for source in site.sources])
    return files


def _questions(site: SiteInput) -> list[dict[str, Any]]:
    lessons = {lesson.lesson_id: lesson for lesson in site.lessons}
    questions = []
    for n, question in enumerate(site.quiz.questions, start=1):
        if not 0 <= question.correct_index < len(question.options):
            raise ValueError(f"quiz question {n}: correct_index {question.correct_index} is not one of its options")
        lesson = lessons.get(question.lesson_id)
        questions.append({
            "number": n, "stem": question.stem, "options": question.options,
            "answer": f"{chr(ord('A') + question.correct_index)}. {question.options[question.correct_index]}",
            "explanation": question.explanation,
            "lesson": ({"title": f"{book.lesson_number(lesson)} {lesson.title}",
                        "href": _relative(QUIZ_HREF, lesson_href(lesson))} if lesson else None),
        })
    return questions
