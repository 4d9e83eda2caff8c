"""The packages for learning platforms (adapters/packages.py), each re-read against its official
schema and by an independent reader (tests/artifacts/package_checks.py): SCORM 1.2, IMS QTI 2.1,
Moodle GIFT. Hostile strings in every title and text leave each package valid and the GIFT exact."""

from __future__ import annotations

import io
import tomllib
import uuid
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest
from lxml import etree

from coursegen.adapters.packages import (
    CP, CP_SCORM, QTI, SCHEMAS, SCORM_SCHEMA_FILES, PackageItem, PackageModule, gift_text, qti_package, scorm_package,
)
from coursegen.models import QuestionKind, QuizQuestion, StoredQuiz
from tests.artifacts.package_checks import gift_questions, validate_package

ROOT = Path(__file__).resolve().parents[2]
COURSE = "course-packages-1"
HOSTILE = ["<script>alert(1)</script>", "]]>", "&amp;", "\"'", "~=#{}:\\", "w" * 5000, "Ünïcødé – €"]


def page(title: str, *, depth: int = 1, body: str = "") -> bytes:
    up = "../" * depth
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{up}styles.css"></head>
<body><nav><a href="{up}index.html">Course</a> <a href="{up}sources.html#books">Sources</a></nav>
<main><h1>{title}</h1>{body}</main></body></html>""".encode()


def site_files() -> dict[str, bytes]:
    figure = '<img src="../figures/lesson-1-1.svg" alt="Free cash flow, year by year">'
    return {
        "index.html": page("Valuing a business", depth=0, body='<a href="lessons/1-1.html">Start</a>'),
        "lessons/1-1.html": page("Free cash flow", body=figure + '<a href="1-2.html">Next</a>'),
        "lessons/1-2.html": page("Discounting at the WACC", body='<a href="../labs/1.html">Lab</a>'),
        "lessons/2-1.html": page("Gordon growth", body='<a href="../quiz.html">Quiz</a> '
                                                       '<a href="https://example.com/dcf">The standard text</a>'),
        "labs/1.html": page("Lab 1: Cash flows", body='<a href="../lessons/2-1.html">Next</a>'),
        "quiz.html": page("Quiz: Valuing a business", depth=0),
        "sources.html": page("Sources", depth=0, body='<h2 id="books">Books</h2>'),
        "styles.css": b"body{font-family:system-ui,sans-serif}",
        "figures/lesson-1-1.svg": b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"/>',
    }


MODULES = (
    PackageModule("Part 1: Cash flows", (PackageItem("1.1 Free cash flow", "lessons/1-1.html"),
                                         PackageItem("1.2 Discounting at the WACC", "lessons/1-2.html"),
                                         PackageItem("Lab 1: Cash flows", "labs/1.html"))),
    PackageModule("Part 2: Terminal value", (PackageItem("2.1 Gordon growth", "lessons/2-1.html"),)),
)
QUIZ_ITEM = PackageItem("Quiz: Valuing a business", "quiz.html")


def question(n: int, kind: QuestionKind, stem: str, options: list[str], correct: int, explanation: str) -> QuizQuestion:
    return QuizQuestion(question_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"q{n}")), kind=kind, stem=stem, options=options,
                        correct_index=correct, explanation=explanation, lesson_id=f"lesson-{n}",
                        objective_id=f"O1.{n}.1")


MC, TF = QuestionKind.multiple_choice, QuestionKind.true_false


def make_quiz(text: str = "") -> StoredQuiz:
    """Twelve questions of both kinds; `text` is put into every stem, option and explanation."""
    mc = [("What does free cash flow measure{}?", ["Cash the business could pay out{}", "Accounting profit{}",
                                                     "Revenue growth{}", "The share price{}"], 0),
          ("Which rate discounts a firm's free cash flows{}?", ["The coupon rate{}", "The WACC{}",
                                                                 "The tax rate{}", "Inflation{}"], 1),
          ("What does the Gordon model assume about growth{}?", ["It accelerates{}", "It is zero{}",
                                                                  "It is constant for ever{}", "It is negative{}"], 2),
          ("Which multiple is common for an exit value{}?", ["P/B{}", "Dividend yield{}", "Payout ratio{}",
                                                              "EV/EBITDA{}"], 3),
          ("What happens to value when the WACC rises{}?", ["It falls{}", "It rises{}", "Nothing{}",
                                                            "It doubles{}"], 0),
          ("Which item is added back to get free cash flow{}?", ["Dividends{}", "Depreciation{}",
                                                                  "Interest income{}", "Buybacks{}"], 1),
          ("What share of value often lies in the terminal value{}?", ["Under 5%{}", "About 10%{}",
                                                                        "50% or more{}", "None{}"], 2),
          ("Which cash flows does an enterprise value use{}?", ["To equity only{}", "After interest{}",
                                                                 "Before tax{}", "To the firm{}"], 3)]
    tf = [("A higher growth rate in the Gordon model raises the terminal value{}.", 0),
          ("The WACC weighs the cost of equity and of debt by book values only{}.", 1),
          ("Free cash flow can be negative for a growing firm{}.", 0),
          ("Discounting makes a later cash flow worth more today{}.", 1)]
    questions = [question(n, MC, stem.format(text), [o.format(text) for o in options], correct,
                          f"See lesson {n}: the reasoning{text}.") for n, (stem, options, correct) in enumerate(mc, 1)]
    questions += [question(n, TF, stem.format(text), ["True", "False"], correct, f"Lesson {n} explains why{text}.")
                  for n, (stem, correct) in enumerate(tf, len(mc) + 1)]
    return StoredQuiz(quiz_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "quiz")), course_id=COURSE,
                      title=f"Quiz: Valuing a business{text}", questions=questions, generator="test")


def build_scorm(title: str = "Valuing a business", modules=MODULES, files=None, quiz=QUIZ_ITEM) -> bytes:
    return scorm_package(course_id=COURSE, title=title, language="en", modules=modules,
                         files=site_files() if files is None else files, quiz=quiz)


def build_qti(quiz: StoredQuiz, title: str = "Valuing a business", language: str = "de") -> bytes:
    return qti_package(course_id=COURSE, title=title, quiz=quiz, language=language)


def manifest_of(data: bytes) -> etree._Element:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("imsmanifest.xml"))


# -- SCORM -----------------------------------------------------------------------------------
def test_scorm_package_is_valid_and_complete():
    data = build_scorm()
    assert validate_package("scorm", data) == []
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.namelist()[0] == "imsmanifest.xml"
    assert set(archive.namelist()) == {"imsmanifest.xml", *SCORM_SCHEMA_FILES, *site_files()}
    for name, content in site_files().items():
        assert archive.read(name) == content  # the site's bytes, as it serves them


def test_scorm_organization_has_a_module_per_part_a_page_per_item_and_the_quiz():
    manifest = manifest_of(build_scorm())
    ns = {"cp": CP_SCORM}
    assert manifest.get("identifier") == f"MANIFEST-{COURSE}"
    assert manifest.findtext("cp:metadata/cp:schema", namespaces=ns) == "ADL SCORM"
    assert manifest.findtext("cp:metadata/cp:schemaversion", namespaces=ns) == "1.2"
    organization = manifest.find("cp:organizations/cp:organization", ns)
    assert organization.findtext("cp:title", namespaces=ns) == "Valuing a business"
    tops = organization.findall("cp:item", ns)
    assert [item.findtext("cp:title", namespaces=ns) for item in tops] == [
        "Part 1: Cash flows", "Part 2: Terminal value", "Quiz: Valuing a business"]
    assert [len(item.findall("cp:item", ns)) for item in tops] == [3, 1, 0]
    resources = {r.get("identifier"): r for r in manifest.iterfind("cp:resources/cp:resource", ns)}
    hrefs = [resources[item.get("identifierref")].get("href") for item in organization.iter(f"{{{CP_SCORM}}}item")
             if item.get("identifierref")]
    assert hrefs == ["lessons/1-1.html", "lessons/1-2.html", "labs/1.html", "lessons/2-1.html", "quiz.html"]
    first = resources[tops[0].find("cp:item", ns).get("identifierref")]
    assert [f.get("href") for f in first.findall("cp:file", ns)] == [
        "lessons/1-1.html", "figures/lesson-1-1.svg", "styles.css"]  # the page and what it loads
    scormtype = "{http://www.adlnet.org/xsd/adlcp_rootv1p2}scormtype"
    assert {r.get(scormtype) for r in resources.values()} == {"asset"}
    everything = resources["RES-SITE"]
    assert sorted(f.get("href") for f in everything.findall("cp:file", ns)) == sorted(site_files())


def test_scorm_package_carries_the_official_schemas_at_its_root():
    archive = zipfile.ZipFile(io.BytesIO(build_scorm()))
    for name in SCORM_SCHEMA_FILES:
        assert archive.read(name) == (SCHEMAS / "scorm12" / name).read_bytes()


def test_scorm_check_catches_a_broken_link_and_a_missing_file():
    files = site_files()
    files["labs/1.html"] = page("Lab 1", body='<a href="../lessons/9-9.html">Nowhere</a>')
    assert validate_package("scorm", build_scorm(files=files)) == ["labs/1.html: ../lessons/9-9.html is not in the zip"]
    archive = zipfile.ZipFile(io.BytesIO(build_scorm()))
    rebuilt = io.BytesIO()
    with zipfile.ZipFile(rebuilt, "w") as out:
        for name in archive.namelist():
            if name != "styles.css":
                out.writestr(name, archive.read(name))
    problems = validate_package("scorm", rebuilt.getvalue())
    assert "imsmanifest.xml: styles.css is not in the zip" in problems


@pytest.mark.parametrize("path", ["../escape.html", "/etc/passwd", "lessons/../../x.html", ".hidden", "a\\b.html",
                                  "imsmanifest.xml", "adlcp_rootv1p2.xsd", "http://example.com/x.html"])
def test_scorm_refuses_a_file_path_that_is_not_a_plain_site_path(path):
    with pytest.raises(ValueError):
        build_scorm(files={**site_files(), path: b"x"})


def test_scorm_refuses_an_item_whose_page_is_not_in_the_files():
    with pytest.raises(ValueError, match="lessons/9-9.html"):
        build_scorm(modules=(PackageModule("Part 1", (PackageItem("Missing", "lessons/9-9.html"),)),))


def test_scorm_titles_are_cut_to_the_schemas_200_characters():
    manifest = manifest_of(build_scorm(title="word " * 100))
    title = manifest.findtext(f".//{{{CP_SCORM}}}organization/{{{CP_SCORM}}}title")
    assert len(title) == 200 and title.endswith("…")


# -- QTI -------------------------------------------------------------------------------------
def test_qti_package_is_valid_and_holds_every_question():
    quiz = make_quiz()
    data = build_qti(quiz)
    assert validate_package("qti", data, quiz=quiz) == []
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(archive.namelist()) == sorted(["imsmanifest.xml", "test.xml",
                                                 *[f"items/Q-{q.question_id}.xml" for q in quiz.questions]])
    manifest = manifest_of(data)
    types = [r.get("type") for r in manifest.iterfind(f".//{{{CP}}}resource")]
    assert types == ["imsqti_test_xmlv2p1"] + ["imsqti_item_xmlv2p1"] * len(quiz.questions)


def test_qti_item_scores_the_correct_choice_and_explains_it():
    quiz = make_quiz()
    archive = zipfile.ZipFile(io.BytesIO(build_qti(quiz)))
    second = quiz.questions[1]
    item = etree.fromstring(archive.read(f"items/Q-{second.question_id}.xml"))
    ns = {"q": QTI}
    assert item.get("{http://www.w3.org/XML/1998/namespace}lang") == "de"
    assert item.get("identifier") == f"Q-{second.question_id}"  # a UUID starts with a digit: not an NCName alone
    response = item.find("q:responseDeclaration", ns)
    assert (response.get("identifier"), response.get("cardinality"), response.get("baseType")) == (
        "RESPONSE", "single", "identifier")
    assert response.findtext("q:correctResponse/q:value", namespaces=ns) == "C2"
    assert item.find("q:outcomeDeclaration[@identifier='SCORE']", ns).get("baseType") == "float"
    interaction = item.find("q:itemBody/q:choiceInteraction", ns)
    assert (interaction.get("shuffle"), interaction.get("maxChoices")) == ("false", "1")
    assert [c.text for c in interaction.findall("q:simpleChoice", ns)] == second.options
    assert item.find("q:responseProcessing", ns).get("template").endswith("/rptemplates/match_correct")
    feedback = item.find("q:modalFeedback", ns)
    assert feedback.text == second.explanation
    assert item.findtext("q:outcomeDeclaration[@identifier='FEEDBACK']/q:defaultValue/q:value", namespaces=ns) == \
        feedback.get("identifier")  # shown after every attempt


def test_qti_check_catches_an_item_against_the_schema():
    quiz = make_quiz()
    archive = zipfile.ZipFile(io.BytesIO(build_qti(quiz)))
    name = f"items/Q-{quiz.questions[0].question_id}.xml"
    rebuilt = io.BytesIO()
    with zipfile.ZipFile(rebuilt, "w") as out:
        for entry in archive.namelist():
            content = archive.read(entry)
            out.writestr(entry, content.replace(b'maxChoices="1"', b'maxChoices="one"') if entry == name else content)
    problems = validate_package("qti", rebuilt.getvalue(), quiz=quiz)
    assert problems and all(p.startswith(name) for p in problems)


# -- GIFT ------------------------------------------------------------------------------------
def test_gift_reads_back_as_the_same_quiz():
    quiz = make_quiz()
    text = gift_text(quiz)
    assert validate_package("gift", text, quiz=quiz) == []
    head, first = text.split("\n\n")[:2]
    assert head == ("// Quiz: Valuing a business\n"
                    "// Generated by coursegen: 12 questions in GIFT (UTF-8), for a question bank.")
    assert first == ("::1. What does free cash flow measure? ::[plain]What does free cash flow measure? "
                     "{=Cash the business could pay out ~Accounting profit ~Revenue growth ~The share price "
                     "####See lesson 1\\: the reasoning.}")
    assert text.endswith("{FALSE ####Lesson 12 explains why.}\n")
    assert len(gift_questions(text)) == 12


def test_gift_marks_a_text_that_a_platform_would_read_as_a_format_or_a_weight_plain():
    quiz = make_quiz()
    first = quiz.questions[0].model_copy(update={"options": ["[html]<b>x</b>", "%50% of it", "c", "d"],
                                                 "explanation": "[fin-001] says so."})
    quiz = quiz.model_copy(update={"questions": [first, *quiz.questions[1:]]})
    text = gift_text(quiz)
    assert "{=[plain][html]<b>x</b> ~[plain]%50% of it ~c ~d ####[plain][fin-001] says so.}" in text
    assert validate_package("gift", text, quiz=quiz) == []


# -- hostile text and determinism ------------------------------------------------------------
@pytest.mark.parametrize("hostile", HOSTILE, ids=["script", "cdata-end", "entity", "quotes", "gift-specials",
                                                  "long-word", "non-ascii"])
def test_hostile_text_leaves_every_package_valid(hostile):
    modules = tuple(PackageModule(f"{module.title} {hostile}", tuple(PackageItem(f"{hostile} {item.title}", item.href)
                                                                      for item in module.items))
                    for module in MODULES)
    scorm = build_scorm(title=f"Valuing {hostile}", modules=modules, quiz=PackageItem(f"Quiz {hostile}", "quiz.html"))
    assert validate_package("scorm", scorm) == []
    manifest = zipfile.ZipFile(io.BytesIO(scorm)).read("imsmanifest.xml")
    assert b"<script>" not in manifest and b"]]>" not in manifest
    titles = [t.text for t in manifest_of(scorm).iter(f"{{{CP_SCORM}}}title")]
    if len(hostile) < 100:
        assert titles[0] == f"Valuing {hostile}" and titles[-1] == f"Quiz {hostile}"  # escaped, read back as written

    quiz = make_quiz(f" {hostile}")
    qti = build_qti(quiz, title=f"Valuing {hostile}")
    assert validate_package("qti", qti, quiz=quiz) == []
    assert validate_package("gift", gift_text(quiz), quiz=quiz) == []


def test_the_same_course_gives_the_same_bytes():
    quiz = make_quiz()
    assert build_scorm() == build_scorm()
    assert build_qti(quiz) == build_qti(make_quiz())
    assert gift_text(quiz) == gift_text(make_quiz())
    for info in zipfile.ZipFile(io.BytesIO(build_scorm())).infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)


def test_language_must_be_a_language_tag():
    with pytest.raises(ValueError):
        build_qti(make_quiz(), language="en\" onload=\"x")
    with pytest.raises(ValueError):
        scorm_package(course_id=COURSE, title="t", language="", modules=MODULES, files=site_files())


# -- the schemas ship with the package -------------------------------------------------------
def test_schemas_are_package_data_and_lxml_and_pygiftparser_dev_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["coursegen"]
    shipped = [path.relative_to(SCHEMAS.parent.parent).as_posix() for path in SCHEMAS.rglob("*.xsd")]
    assert len(shipped) >= 7
    assert all(any(fnmatch(path, pattern) for pattern in patterns) for path in shipped)
    dev = " ".join(project["project"]["optional-dependencies"]["dev"])
    assert "lxml" in dev and "pygiftparser" in dev
    assert "lxml" not in " ".join(project["project"]["dependencies"])  # not in the Lambda layer
