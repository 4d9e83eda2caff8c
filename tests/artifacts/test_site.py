"""The landing page and the course site (adapters/site.py), every page re-read by a browser's
parser (html5lib): lang, one h1, landmarks, headings in order, alt text, links that land on a file
of the site, and no script, handler or javascript: URL from any hostile string."""

from __future__ import annotations

import posixpath
import re
import tomllib
import uuid
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

import html5lib
import pytest
from jinja2 import UndefinedError

from coursegen.adapters.figures import SvgFigureRenderer
from coursegen.adapters.site import (
    TEMPLATES, WORDS, LandingInput, SiteInput, Source, landing_input, render_landing_page, render_site,
    site_modules, site_quiz_href, template_environment,
)
from coursegen.domain.visuals import DiagramSpec, LessonFigure
from coursegen.models import (
    CourseOutline, LandingCopy, OutlinePart, Price, QuestionKind, QuizQuestion, Section, StoredCourse, StoredLab,
    StoredLesson, StoredQuiz,
)

H = "{http://www.w3.org/1999/xhtml}"
ROOT = Path(__file__).resolve().parents[2]
COURSE = "course-site-1"
PARTS = ["Cash flows", "Terminal value"]
SECTIONS = [[("Free cash flow", 20), ("Discounting at the WACC", 25)], [("Gordon growth", 30), ("Exit multiples", 15)]]
CAPTION = 'Value = cash flows "discounted" <at> the WACC & more'


def lesson_markdown(title: str, extra: str = "") -> str:
    return f"""# {title}

## Objectives

- Explain {title.lower()} [fin-001].

## Explanation

Free cash flow is what the business could pay out [fin-001]. See [the standard text](https://example.com/dcf).

| Year | FCF |
|------|-----|
| 1    | 100 |

### Example

```python
value = sum(fcf / (1 + wacc) ** t for t, fcf in enumerate(flows, 1))
```

{extra}

## Summary

1. Forecast.
2. Discount.
"""


def make_lesson(part: int, section: int, index: int, title: str, extra: str = "") -> StoredLesson:
    return StoredLesson(
        lesson_id=StoredLesson.id_for(COURSE, part, section), course_id=COURSE, part_index=part,
        section_index=section, lesson_index=index, title=title, markdown=lesson_markdown(title, extra), words=300,
        minutes=SECTIONS[part][section][1], objective_ids=[f"O{part + 1}.{section + 1}.1"], book_ids=["fin-001"],
    )


def make_lab(part: int, title: str) -> StoredLab:
    return StoredLab(
        lab_id=StoredLab.id_for(COURSE, part), course_id=COURSE, part_index=part, title=title,
        markdown=f"# Lab {part + 1}: {title}\n\n## Goal\n\nValue a small firm [fin-001].\n\n## Steps\n\n1. Forecast.\n"
                 "2. Discount.\n3. Sum.\n\n## Self-check\n\n- Why discount?\n- Why a terminal value?\n",
        objective_ids=[], book_ids=["fin-001"],
    )


def make_quiz(lessons: list[StoredLesson], stem: str = "", option: str = "", explanation: str = "") -> StoredQuiz:
    questions = [
        QuizQuestion(question_id=str(uuid.uuid4()), kind=QuestionKind.multiple_choice,
                     stem=stem or f"What does lesson {n} teach?",
                     options=[option or "Discounting", "Depreciation", "Dividends", "Debt"], correct_index=n % 4,
                     explanation=explanation or "The lesson discounts cash flows.", lesson_id=lesson.lesson_id,
                     objective_id=lesson.objective_ids[0])
        for n, lesson in enumerate(lessons)
    ]
    questions.append(QuizQuestion(question_id=str(uuid.uuid4()), kind=QuestionKind.true_false,
                                  stem=stem or "A higher WACC lowers the value.", options=["True", "False"],
                                  correct_index=0, explanation=explanation or "It discounts more.",
                                  lesson_id=lessons[1].lesson_id, objective_id="O1.2.1"))
    return StoredQuiz(quiz_id=str(uuid.uuid4()), course_id=COURSE, title="Check your understanding",
                      questions=questions)


COPY = LandingCopy(headline="Value any company from its cash flows", subtitle="A short, practical DCF course",
                   outcomes=["Forecast free cash flow", "Pick a discount rate", "Estimate a terminal value"],
                   audience="Analysts and founders who read financial statements.", call_to_action="Start learning")
SOURCES = [Source("Valuation", "McKinsey & Company", 2020, 0.8312),
           Source("Damodaran on Valuation", "Aswath Damodaran")]
NOTE = "Written by the offline writer (not an LLM)"


def landing(copy=COPY, price=Price(amount=49.0, currency="EUR"), language="en", title="DCF valuation",
            parts=PARTS, sections=SECTIONS, audience="analysts", sources=SOURCES, note=NOTE):
    return LandingInput(
        course_id=COURSE, title=title, language=language, copy=copy,
        parts=[(parts[i], sum(m for _, m in sections[i]), sections[i]) for i in range(len(parts))],
        total_minutes=sum(m for part in sections for _, m in part), start_href="lessons/1-1.html",
        audience=audience, sources=sources, price=price, generator_note=note,
    )


def site_input(title="DCF valuation", parts=PARTS, lessons=None, quiz=None, sources=SOURCES, landing_html="",
               language="en", note=NOTE) -> SiteInput:
    lessons = lessons or [make_lesson(p, s, 2 * p + s, SECTIONS[p][s][0]) for p in range(2) for s in range(2)]
    spec = DiagramSpec(lesson_id="x", kind="flow", caption=CAPTION, steps=["Forecast", "Discount <script>", "Sum"])
    figures = {lessons[1].lesson_id: LessonFigure(lessons[1].lesson_id, CAPTION, SvgFigureRenderer().render(spec))}
    if landing_html == "":
        landing_html = render_landing_page(landing(title=title, language=language)).html
    return SiteInput(course_id=COURSE, title=title, language=language, parts=parts, lessons=lessons,
                     labs=[make_lab(0, parts[0]), make_lab(1, parts[1])], quiz=quiz or make_quiz(lessons),
                     sources=sources, figures=figures, landing_html=landing_html, generator_note=note)


def parsed(data: str | bytes):
    return html5lib.parse(data, treebuilder="etree", namespaceHTMLElements=True)


def text(element) -> str:
    return "".join(element.itertext()).strip()


def html_pages(files: dict[str, bytes]) -> dict[str, object]:
    return {path: parsed(data) for path, data in files.items() if path.endswith(".html")}


def assert_no_active_content(doc) -> None:
    elements = list(doc.iter())
    assert [e for e in elements if e.tag == f"{H}script"] == []
    assert [(e.tag, name) for e in elements for name in e.attrib if name.lower().startswith("on")] == []
    assert [v for e in elements for name, v in e.attrib.items() if name in ("href", "src", "action", "formaction")
            and v.strip().lower().startswith(("javascript:", "vbscript:"))] == []
    # a data: URL only as a figure's checked SVG image
    assert [(e.tag, v[:30]) for e in elements for name, v in e.attrib.items() if v.strip().lower().startswith("data:")
            and not (e.tag == f"{H}img" and name == "src" and v.startswith("data:image/svg+xml;base64,"))] == []


def assert_well_formed_page(doc, language: str) -> None:
    """lang, viewport, one h1, landmarks, a skip link to main, headings without skipped levels, alt text."""
    html_element = doc
    assert html_element.get("lang") == language
    viewport = doc.find(f".//{H}head/{H}meta[@name='viewport']")
    assert viewport is not None and "width=device-width" in viewport.get("content")
    body = doc.find(f"{H}body")
    assert [e.tag for e in body if e.tag in (f"{H}header", f"{H}main", f"{H}footer")] == [
        f"{H}header", f"{H}main", f"{H}footer"]
    assert doc.findall(f".//{H}nav")  # every page has navigation, and it is a nav landmark
    assert len(doc.findall(f".//{H}h1")) == 1
    skip = body.find(f"{H}a")
    assert skip is not None and skip.get("href") == "#main" and body.find(f"{H}main").get("id") == "main"
    levels = [int(e.tag[-1]) for e in doc.iter() if re.fullmatch(rf"{re.escape(H)}h[1-6]", str(e.tag))]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels
    assert all((img.get("alt") or "").strip() for img in doc.iter(f"{H}img"))
    assert_no_active_content(doc)


def assert_links_resolve(path: str, doc, files: dict[str, bytes], pages: dict[str, object]) -> None:
    """Every relative link and stylesheet names a file of the site (and an id on it, for a #fragment)."""
    for element in doc.iter():
        for name in ("href", "src"):
            url = element.get(name)
            if url is None or (name == "src" and url.startswith("data:")):
                continue
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "mailto"):
                continue
            assert not parts.scheme and not parts.netloc and not url.startswith("/"), (path, url)
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), parts.path)) if parts.path else path
            assert target in files, (path, url)
            if parts.fragment:
                ids = {e.get("id") for e in pages[target].iter() if e.get("id")}
                assert parts.fragment in ids, (path, url)


# -- the site ----------------------------------------------------------------------------------
def test_the_site_has_every_page_and_each_is_a_well_formed_page_whose_links_all_land():
    files = render_site(site_input())
    assert set(files) == {
        "index.html", "contents.html", "lessons/1-1.html", "lessons/1-2.html", "lessons/2-1.html",
        "lessons/2-2.html", "labs/1.html", "labs/2.html", "quiz.html", "sources.html", "styles.css",
    }
    pages = html_pages(files)
    for path, doc in pages.items():
        assert_well_formed_page(doc, "en")
        assert_links_resolve(path, doc, files, pages)
        assert doc.find(f".//{H}head/{H}link[@rel='stylesheet']") is not None


def test_a_lesson_page_has_its_lesson_its_figure_a_breadcrumb_to_its_part_and_previous_and_next():
    files = render_site(site_input())
    doc = parsed(files["lessons/1-2.html"])
    main = doc.find(f".//{H}main")
    assert text(main.find(f".//{H}h1")) == "1.2 Discounting at the WACC"
    assert [text(h) for h in main.iter(f"{H}h2")] == ["Objectives", "Explanation", "Summary"]
    assert main.find(f".//{H}table") is not None and "enumerate(flows, 1)" in text(main.find(f".//{H}pre"))
    [image] = main.iter(f"{H}img")
    assert image.get("alt") == CAPTION and image.get("src").startswith("data:image/svg+xml;base64,")
    crumbs = doc.find(f".//{H}nav[@class='breadcrumb']")
    assert [(text(a), a.get("href")) for a in crumbs.iter(f"{H}a")] == [
        ("DCF valuation", "../index.html"), ("Part 1: Cash flows", "../contents.html#part-1")]
    pager = doc.find(f".//{H}nav[@class='pager']")
    assert [a.get("href") for a in pager.iter(f"{H}a")] == ["1-1.html", "../labs/1.html"]


def test_the_pages_follow_in_reading_order_from_the_first_lesson_to_the_quiz():
    files = render_site(site := site_input())
    order = [href for _, pages in site_modules(site) for _, href in pages] + [site_quiz_href(site)]
    assert order == ["lessons/1-1.html", "lessons/1-2.html", "labs/1.html", "lessons/2-1.html", "lessons/2-2.html",
                     "labs/2.html", "quiz.html"]
    for before, after in zip(order, order[1:]):
        pager = parsed(files[before]).find(f".//{H}nav[@class='pager']")
        [next_link] = [a for a in pager.iter(f"{H}a") if a.get("rel") == "next"]
        assert posixpath.normpath(posixpath.join(posixpath.dirname(before), next_link.get("href"))) == after
    assert [title for title, _ in site_modules(site)] == ["Part 1: Cash flows", "Part 2: Terminal value"]
    assert site_modules(site)[0][1][2] == ("Lab 1: Cash flows", "labs/1.html")


def test_the_quiz_shows_every_question_and_its_answer_in_details_with_no_script():
    site = site_input()
    doc = parsed(render_site(site)["quiz.html"])
    questions = doc.findall(f".//{H}main/{H}section")
    assert len(questions) == len(site.quiz.questions) == 5
    for question, section in zip(site.quiz.questions, questions):
        assert text(section.find(f"{H}p")) == question.stem
        assert [text(li) for li in section.find(f"{H}ol").iter(f"{H}li")] == question.options
        details = section.find(f"{H}details")
        assert text(details.find(f"{H}summary")) == "Show the answer"
        shown = text(details)
        assert question.options[question.correct_index] in shown and question.explanation in shown
        assert details.find(f".//{H}a").get("href").startswith("lessons/")  # back to the lesson it assesses


def test_a_quiz_answer_that_is_none_of_its_options_is_refused():
    site = site_input()
    question = site.quiz.questions[0].model_copy(update={"correct_index": 7})
    broken = site.quiz.model_copy(update={"questions": [question]})
    with pytest.raises(ValueError, match="correct_index"):
        render_site(SiteInput(**{**site.__dict__, "quiz": broken}))


def test_the_sources_page_lists_each_book_with_its_author_year_and_similarity():
    doc = parsed(render_site(site_input())["sources.html"])
    items = [text(li) for li in doc.find(f".//{H}main/{H}ul").iter(f"{H}li")]
    assert items == ["Valuation, McKinsey & Company (2020) similarity 0.83", "Damodaran on Valuation, Aswath Damodaran"]


def test_sources_may_be_given_as_stored_rows_or_tuples():
    rows = [{"book_id": "fin-001", "title": "Valuation", "author": "McKinsey & Company", "year": 2020,
             "similarity": 0.8312}, ("Damodaran on Valuation", "Aswath Damodaran", None)]
    site = site_input(sources=rows)
    assert render_site(site)["sources.html"] == render_site(site_input())["sources.html"]
    assert render_landing_page(landing(sources=rows)).html == render_landing_page(landing()).html


def test_without_a_landing_page_the_index_is_the_contents_and_without_a_quiz_there_is_no_quiz_page():
    site = site_input(landing_html=None)
    files = render_site(SiteInput(**{**site.__dict__, "quiz": None}))
    index = parsed(files["index.html"])
    assert text(index.find(f".//{H}main")) == text(parsed(files["contents.html"]).find(f".//{H}main"))
    assert [text(h) for h in index.iter(f"{H}h2")] == ["Part 1: Cash flows", "Part 2: Terminal value"]
    assert "quiz.html" not in files and b"quiz.html" not in b"".join(files.values())
    pages = html_pages(files)
    for path, doc in pages.items():
        assert_well_formed_page(doc, "en")
        assert_links_resolve(path, doc, files, pages)


def test_the_site_is_in_the_course_language():
    files = render_site(site_input(language="de", landing_html=None))
    doc = parsed(files["lessons/1-1.html"])
    assert doc.get("lang") == "de"
    assert text(doc.find(f".//{H}nav[@class='breadcrumb']")).count("Teil 1: Cash flows") == 1
    assert text(doc.find(f".//{H}a[@class='skip-link']")) == "Zum Inhalt springen"


# -- the landing page --------------------------------------------------------------------------
def landing_sections(doc) -> list[str]:
    return [section.get("id") for section in doc.find(f".//{H}main").findall(f"{H}section")]


@pytest.mark.parametrize("price", [Price(amount=49.0, currency="EUR"), None])
def test_the_landing_page_has_its_sections_and_pricing_only_with_a_price(price):
    page = render_landing_page(landing(price=price))
    doc = parsed(page.html)
    assert_well_formed_page(doc, "en")
    sections = landing_sections(doc)
    expected = ["hero", "learn", "syllabus", "audience", "sources", *(["pricing"] if price else []), "cta"]
    assert sections == expected
    assert page.sections_count == len(sections)
    assert (page.has_hero, page.has_pricing) == ("hero" in sections, price is not None)
    main = doc.find(f".//{H}main")
    assert text(main.find(f".//{H}h1")) == "DCF valuation"
    assert [text(li) for li in main.find(f".//{H}ul[@class='outcomes']")] == COPY.outcomes
    assert [text(h) for h in main.iter(f"{H}h3")] == ["Part 1: Cash flows 45 min", "Part 2: Terminal value 45 min"]
    assert "Discounting at the WACC 25 min" in text(main.find(f".//{H}section[@id='syllabus']"))
    assert [a.get("href") for a in main.iter(f"{H}a")] == ["lessons/1-1.html", "lessons/1-1.html"]
    in_page = {a.get("href")[1:] for a in doc.find(f".//{H}header/{H}nav").iter(f"{H}a")}
    assert in_page <= set(sections)
    if price:
        assert text(main.find(f".//{H}section[@id='pricing']/{H}p")) == "€49.00"
    assert "offline writer (not an LLM)" in text(doc.find(f".//{H}footer"))


def test_a_landing_page_without_copy_stands_on_the_course_facts():
    page = render_landing_page(landing(copy=None, price=None, audience=""))
    doc = parsed(page.html)
    assert_well_formed_page(doc, "en")
    assert landing_sections(doc) == ["hero", "syllabus", "sources", "cta"] and page.sections_count == 4
    assert text(doc.find(f".//{H}p[@class='facts']")) == "2 parts · 1 hr 30 min"
    assert text(doc.find(f".//{H}section[@id='cta']//{H}a")) == "Start the course"
    with_audience = parsed(render_landing_page(landing(copy=None, audience="New analysts")).html)
    assert text(with_audience.find(f".//{H}section[@id='audience']/{H}p")) == "New analysts"


@pytest.mark.parametrize("language, shown", [("en", "€49.00"), ("de", "49,00\xa0€"), ("fr", "49,00\xa0€"),
                                             ("es", "49,00\xa0€")])
def test_the_price_is_written_the_way_the_course_language_writes_it(language, shown):
    doc = parsed(render_landing_page(landing(language=language)).html)
    assert doc.get("lang") == language
    assert text(doc.find(f".//{H}section[@id='pricing']/{H}p")) == shown
    assert text(doc.find(f".//{H}section[@id='learn']/{H}h2")) == WORDS[language]["learn"]


def test_the_landing_page_id_is_a_uuid_of_the_course():
    first, again = render_landing_page(landing()), render_landing_page(landing(copy=None))
    assert first.landing_page_id == again.landing_page_id == str(uuid.UUID(first.landing_page_id))
    other = render_landing_page(LandingInput(**{**landing().__dict__, "course_id": "another"}))
    assert other.landing_page_id != first.landing_page_id


def test_landing_input_takes_the_facts_from_the_stored_course():
    outline = CourseOutline(title="DCF valuation", parts=[
        OutlinePart(index=p, title=PARTS[p], minutes=45, sections=[
            Section(part_index=p, index=s, title=t, minutes=m, book_ids=["fin-001"])
            for s, (t, m) in enumerate(SECTIONS[p])])
        for p in range(2)])
    course = StoredCourse(course_id=COURSE, query="dcf", hours=1.5, outline=outline, generator="offline",
                          total_minutes=90, target_minutes=90, variance_percent=0, review_attempts=0, time_warning="",
                          created_at="now",
                          sources=[{"book_id": "fin-001", "title": "Valuation", "author": "McKinsey", "year": 2020}])
    page = landing_input(course, language="en", copy=COPY)
    assert page.parts[1] == ("Terminal value", 45, [("Gordon growth", 30), ("Exit multiples", 15)])
    assert (page.total_minutes, page.start_href) == (90, "lessons/1-1.html")
    assert page.sources == [Source("Valuation", "McKinsey", 2020)]


@pytest.mark.parametrize("field, value", [("language", 'en" onload="alert(1)'), ("start_href", "javascript:alert(1)"),
                                          ("start_href", "//evil.example/x"), ("start_href", "../../x.html")])
def test_an_unusable_language_or_start_link_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        render_landing_page(LandingInput(**{**landing().__dict__, field: value}))


# -- hostile strings ---------------------------------------------------------------------------
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{7*7}}",
    "{% raw %}{{ config }}",
    "</textarea><textarea>",
    "' onmouseover='alert(1)",
    '"quoted" & \'single\'',
    "W" * 5000,
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda s: s[:24])
def test_a_hostile_string_anywhere_is_shown_as_text_and_never_runs(hostile):
    copy = LandingCopy(headline=hostile, subtitle=hostile, outcomes=[hostile, "Discount"], audience=hostile,
                       call_to_action=hostile)
    sources = [Source(hostile, hostile, 2020, 0.5)]
    parts = [hostile, hostile]
    sections = [[(hostile, 20), ("Discounting", 25)], [(hostile, 30), ("Exit", 15)]]
    pages = {
        "with copy": render_landing_page(landing(copy=copy, title=hostile, parts=parts, sections=sections,
                                                 sources=sources, note=hostile)).html,
        "without copy": render_landing_page(landing(copy=None, title=hostile, parts=parts, sections=sections,
                                                    audience=hostile, sources=sources)).html,
    }
    extra = f"Before {hostile} after.\n\n[x](javascript:alert(1)) [y]({hostile}) ![i](javascript:alert(2))"
    lessons = [make_lesson(p, s, 2 * p + s, hostile, extra) for p in range(2) for s in range(2)]
    site = site_input(title=hostile, parts=parts, lessons=lessons, sources=sources, landing_html=pages["with copy"],
                      quiz=make_quiz(lessons, stem=hostile, option=hostile, explanation=hostile))
    files = render_site(site)
    docs = {**{name: parsed(html) for name, html in pages.items()}, **html_pages(files)}
    for name, doc in docs.items():
        assert_no_active_content(doc)
        assert len(doc.findall(f".//{H}h1")) == 1, name
        assert hostile in text(doc.find(f".//{H}title")), name

    landing_doc = docs["with copy"]
    assert text(landing_doc.find(f".//{H}h1")) == hostile
    assert text(landing_doc.find(f".//{H}p[@class='headline']")) == hostile
    assert text(landing_doc.find(f".//{H}section[@id='audience']/{H}p")) == hostile
    assert text(landing_doc.find(f".//{H}section[@id='sources']//{H}cite")) == hostile
    assert text(landing_doc.find(f".//{H}section[@id='cta']//{H}a")) == hostile
    assert text(docs["without copy"].find(f".//{H}section[@id='audience']/{H}p")) == hostile
    lesson_doc = docs["lessons/1-1.html"]
    assert text(lesson_doc.find(f".//{H}main//{H}h1")) == f"1.1 {hostile}"
    assert f"Before {hostile} after." in [text(p) for p in lesson_doc.iter(f"{H}p")]
    quiz = docs["quiz.html"].find(f".//{H}main/{H}section")
    assert text(quiz.find(f"{H}p")) == hostile and text(quiz.find(f"{H}ol/{H}li")) == hostile
    assert hostile in text(quiz.find(f"{H}details"))
    assert text(docs["sources.html"].find(f".//{H}main//{H}cite")) == hostile
    assert text(docs["contents.html"].find(f".//{H}main//{H}h2")) == f"Part 1: {hostile}"


def test_a_long_word_wraps_instead_of_widening_the_page():
    css = render_site(site_input())["styles.css"].decode()
    body = re.search(r"body\s*\{([^}]*)\}", css).group(1)
    assert "overflow-wrap: anywhere" in body and "max-width" in body
    assert re.search(r"(?<![-\w])(min-)?width\s*:\s*\d+(\.\d+)?(px|pt|cm|mm|in)", css) is None  # no fixed widths
    assert re.search(r"font-size\s*:\s*clamp\(", css)  # the type scales with the screen
    assert "style=" not in b"".join(render_site(site_input()).values()).decode()  # no inline styles


# -- the templates -----------------------------------------------------------------------------
def test_the_template_environment_escapes_everything_and_a_typo_raises():
    environment = template_environment()
    assert environment.from_string("{{ x }}").render(x="<b onclick='1'>") == "&lt;b onclick=&#39;1&#39;&gt;"
    with pytest.raises(UndefinedError):
        environment.from_string("{{ titel }}").render(title="T")
    for name in environment.list_templates(extensions=["html"]):
        environment.get_template(name)  # each one parses


def test_an_installed_package_carries_the_templates():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["coursegen"]
    package = ROOT / "shared" / "coursegen"
    for template in TEMPLATES.iterdir():
        assert any(fnmatch(str(template.relative_to(package)), pattern) for pattern in patterns), template.name


def test_every_language_has_every_word():
    assert all(set(words) == set(WORDS["en"]) for words in WORDS.values())
