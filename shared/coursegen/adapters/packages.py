"""The course for learning platforms: its site as a SCORM 1.2 package, its quiz as an IMS QTI 2.1
package and as Moodle GIFT text.

Pure (no I/O but reading its own schema files): each builder returns the package's bytes or text.
Every title, stem, option and explanation comes from a model or a request, so:

* XML is written by xml.etree.ElementTree, which escapes every text and attribute value (nothing
  is put together by string formatting); a character XML 1.0 cannot hold becomes U+FFFD. Element
  and attribute names are our constants, prefixed as platforms expect them (Moodle reads the
  literal "adlcp:scormtype"), with the namespaces declared on each root;
* GIFT is one line per question with each of GIFT's special characters ~ = # { } : \\ backslashed
  in every text, and marked [plain] so that a platform shows it as text, never as HTML;
* identifiers are made here, from positions and the quiz's ids (NCNames: "Q-" + uuid), never from text.

The same course gives the same bytes: zip entries in a fixed order with a fixed time and mode.
The official schemas the packages follow are in schemas/ (README.md there says whose copies they are).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET

from coursegen.models import QuestionKind, QuizQuestion, StoredQuiz

SCHEMAS = Path(__file__).with_name("schemas")
MANIFEST = "imsmanifest.xml"
# The SCORM 1.2 schemas a package carries at its root, as SCORM 1.2 packages conventionally do.
SCORM_SCHEMA_FILES = ("imscp_rootv1p1p2.xsd", "adlcp_rootv1p2.xsd", "imsmd_rootv1p2p1.xsd", "ims_xml.xsd")
QTI_TEST_FILE = "test.xml"

CP_SCORM = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"  # IMS CP 1.1.2, as SCORM 1.2 uses it
ADLCP = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
CP = "http://www.imsglobal.org/xsd/imscp_v1p1"  # IMS CP 1.1(.4), as QTI 2.1 packages use it
QTI = "http://www.imsglobal.org/xsd/imsqti_v2p1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
QTI_SCHEMA_URL = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
MATCH_CORRECT = "http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"

SCORM_TITLE_CHARS = 200  # imscp_rootv1p1p2.xsd's titleType
QUESTION_TITLE_CHARS = 60  # of the stem, in a question's title (its name in a platform's question bank)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: the same bytes on every build
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
# A site-relative path: plain segments, none starting with a dot (no "..", no scheme, no query).
_SITE_PATH = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_NCNAME = re.compile(r"[^A-Za-z0-9._-]")
_GIFT_SPECIAL = frozenset("~=#{}:\\")


@dataclass(frozen=True)
class PackageItem:
    title: str
    href: str  # site-relative, e.g. lessons/1-1.html


@dataclass(frozen=True)
class PackageModule:
    title: str  # a part of the course
    items: tuple[PackageItem, ...]  # its pages in reading order


# -- shared ----------------------------------------------------------------------------------
def _language(language: str) -> str:
    if not _LANGUAGE_TAG.fullmatch(language or ""):
        raise ValueError(f"language: {language!r} is not a language tag such as en or de")
    return language


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _flat(text: str) -> str:
    """One line: runs of whitespace (line breaks too) as one space."""
    return " ".join(text.split())


def _short(text: str, limit: int) -> str:
    line = _flat(_xml_text(text))
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def _ncname(prefix: str, value: str) -> str:
    """An XML identifier (NCName) from a prefix that starts with a letter and an id of ours."""
    return prefix + _NOT_NCNAME.sub("_", value)


def _question_title(number: int, stem: str) -> str:
    return f"{number}. {_short(stem, QUESTION_TITLE_CHARS)}"


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrib)
    if text is not None:
        node.text = _xml_text(text)
    return node


def _xml(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _zip(entries: Sequence[tuple[str, bytes]]) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever builds it
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@lru_cache(maxsize=None)
def schema_file(folder: str, name: str) -> bytes:
    """One of the official schemas this module ships (schemas/scorm12/, schemas/qti21/)."""
    return (SCHEMAS / folder / name).read_bytes()


# -- SCORM 1.2 -------------------------------------------------------------------------------
class _EmbeddedUrls(HTMLParser):
    """The URLs a page loads to show itself (stylesheets, images, media, scripts), not those it links to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = values.get("href") if tag == "link" else values.get("src")
        if url:
            self.urls.append(url)


def _site_path(page: str, url: str) -> str | None:
    """The package file a page's relative URL names, or None (another site, an anchor, outside the package)."""
    parts = urlsplit(url.strip())
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(parts.path)))
    return None if path.startswith(("../", "/")) or path == ".." else path


def _embedded_files(page: str, html: bytes, files: Mapping[str, bytes]) -> list[str]:
    parser = _EmbeddedUrls()
    parser.feed(html.decode("utf-8", errors="replace"))
    parser.close()
    found = (_site_path(page, url) for url in parser.urls)
    return sorted({path for path in found if path in files and path != page})


def _checked_files(files: Mapping[str, bytes]) -> None:
    reserved = {MANIFEST, *SCORM_SCHEMA_FILES}
    for path in files:
        if not _SITE_PATH.fullmatch(path) or len(path) > 2000:
            raise ValueError(f"files: {path!r} is not a site-relative path")
        if path in reserved:
            raise ValueError(f"files: {path!r} is a name the package itself uses")


# Every page is an asset, not a SCO. A SCO must call the LMS's API (LMSInitialize, LMSSetValue
# cmi.core.lesson_status, LMSFinish), so each page would need a script; the site has none by design
# (adapters/site.py), the package's pages are the very bytes the site serves, and the quiz's answers
# open in <details>, so there is no score to report. An LMS records an asset as launched.
SCORM_TYPE = "asset"
SITE_RESOURCE = "RES-SITE"


def _scorm_manifest(course_id: str, title: str, language: str, modules: Sequence[PackageModule],
                    quiz: PackageItem | None, files: Mapping[str, bytes]) -> bytes:
    manifest = ET.Element("manifest", {
        "xmlns": CP_SCORM, "xmlns:adlcp": ADLCP, "xmlns:xsi": XSI,
        "identifier": _ncname("MANIFEST-", course_id), "version": "1.0",
        "xsi:schemaLocation": f"{CP_SCORM} imscp_rootv1p1p2.xsd {ADLCP} adlcp_rootv1p2.xsd"})
    # No IMS MD record (the one place for the language): SCORM 1.2 does not ask for one and its
    # schema, imsmd_rootv1p2p1.xsd, has a content model validators reject as ambiguous.
    metadata = _element(manifest, "metadata")
    _element(metadata, "schema", "ADL SCORM")
    _element(metadata, "schemaversion", "1.2")

    organizations = _element(manifest, "organizations", default="ORG-1")
    organization = _element(organizations, "organization", identifier="ORG-1")
    _element(organization, "title", _short(title, SCORM_TITLE_CHARS))
    resource_ids: dict[str, str] = {}  # page -> its resource, in order of first use

    def page_item(parent: ET.Element, identifier: str, item: PackageItem) -> None:
        if item.href not in files:
            raise ValueError(f"item {identifier}: {item.href!r} is not one of the files")
        resource_ids.setdefault(item.href, f"RES-{len(resource_ids) + 1}")
        node = _element(parent, "item", identifier=identifier, identifierref=resource_ids[item.href],
                        isvisible="true")
        _element(node, "title", _short(item.title, SCORM_TITLE_CHARS))

    for m, module in enumerate(modules, 1):
        part = _element(organization, "item", identifier=f"ITEM-{m}", isvisible="true")
        _element(part, "title", _short(module.title, SCORM_TITLE_CHARS))
        for p, item in enumerate(module.items, 1):
            page_item(part, f"ITEM-{m}-{p}", item)
    if quiz is not None:
        page_item(organization, "ITEM-QUIZ", quiz)

    resources = _element(manifest, "resources")
    for href, identifier in resource_ids.items():
        resource = _element(resources, "resource", identifier=identifier, type="webcontent",
                            href=href, **{"adlcp:scormtype": SCORM_TYPE})
        for path in [href, *_embedded_files(href, files[href], files)]:
            _element(resource, "file", href=path)
        # the pages it links to (contents, sources, the next lesson) travel with it as the site
        _element(resource, "dependency", identifierref=SITE_RESOURCE)
    site = _element(resources, "resource", identifier=SITE_RESOURCE, type="webcontent", **{"adlcp:scormtype": SCORM_TYPE})
    for path in sorted(files):
        _element(site, "file", href=path)
    return _xml(manifest)


def scorm_package(*, course_id: str, title: str, language: str, modules: Sequence[PackageModule],
                  files: Mapping[str, bytes], quiz: PackageItem | None = None) -> bytes:
    """The course site as a SCORM 1.2 content package (zip): imsmanifest.xml (one organization: an
    item per module, a child item per page, then the quiz page's item), the site's files as given
    (site-relative path -> bytes) and the SCORM 1.2 schemas at its root."""
    _language(language)
    _checked_files(files)
    manifest = _scorm_manifest(course_id, title, language, modules, quiz, files)
    schemas = [(name, schema_file("scorm12", name)) for name in SCORM_SCHEMA_FILES]
    return _zip([(MANIFEST, manifest), *schemas, *sorted(files.items())])


# -- IMS QTI 2.1 -----------------------------------------------------------------------------
def _qti_root(tag: str, **attrib: str) -> ET.Element:
    return ET.Element(tag, {"xmlns": QTI, "xmlns:xsi": XSI, "xsi:schemaLocation": f"{QTI} {QTI_SCHEMA_URL}", **attrib})


def _choice_id(index: int) -> str:
    return f"C{index + 1}"


def _qti_item(question: QuizQuestion, identifier: str, number: int, language: str) -> bytes:
    item = _qti_root("assessmentItem", identifier=identifier, title=_question_title(number, question.stem),
                     adaptive="false", timeDependent="false", **{"xml:lang": language})
    response = _element(item, "responseDeclaration", identifier="RESPONSE", cardinality="single",
                        baseType="identifier")
    _element(_element(response, "correctResponse"), "value", _choice_id(question.correct_index))
    score = _element(item, "outcomeDeclaration", identifier="SCORE", cardinality="single", baseType="float")
    _element(_element(score, "defaultValue"), "value", "0")
    # FEEDBACK starts every attempt as EXPLANATION, so the explanation's modalFeedback shows after any
    # answer while response processing stays the standard match_correct template (which sets SCORE only).
    feedback = _element(item, "outcomeDeclaration", identifier="FEEDBACK", cardinality="single",
                        baseType="identifier")
    _element(_element(feedback, "defaultValue"), "value", "EXPLANATION")
    body = _element(item, "itemBody")
    _element(body, "p", question.stem)
    interaction = _element(body, "choiceInteraction", responseIdentifier="RESPONSE", shuffle="false",
                           maxChoices="1")
    for index, option in enumerate(question.options):
        _element(interaction, "simpleChoice", option, identifier=_choice_id(index))
    _element(item, "responseProcessing", template=MATCH_CORRECT)
    _element(item, "modalFeedback", question.explanation, outcomeIdentifier="FEEDBACK",
             identifier="EXPLANATION", showHide="show")
    return _xml(item)


def _qti_test(quiz: StoredQuiz, course_title: str, items: Sequence[tuple[str, str]]) -> bytes:
    test = _qti_root("assessmentTest", identifier=_ncname("T-", quiz.quiz_id),
                     title=_flat(_xml_text(quiz.title or course_title)))
    score = _element(test, "outcomeDeclaration", identifier="SCORE", cardinality="single", baseType="float")
    _element(_element(score, "defaultValue"), "value", "0")
    part = _element(test, "testPart", identifier="P1", navigationMode="nonlinear", submissionMode="individual")
    section = _element(part, "assessmentSection", identifier="S1", title=_flat(_xml_text(course_title)),
                       visible="true")
    for identifier, href in items:
        _element(section, "assessmentItemRef", identifier=identifier, href=href)
    total = _element(_element(test, "outcomeProcessing"), "setOutcomeValue", identifier="SCORE")
    _element(_element(total, "sum"), "testVariables", variableIdentifier="SCORE")
    return _xml(test)


def _qti_manifest(course_id: str, test_id: str, items: Sequence[tuple[str, str]]) -> bytes:
    manifest = ET.Element("manifest", {"xmlns": CP, "xmlns:xsi": XSI, "identifier": _ncname("MANIFEST-", course_id),
                                       "xsi:schemaLocation": f"{CP} http://www.imsglobal.org/xsd/imscp_v1p1.xsd"})
    metadata = _element(manifest, "metadata")
    _element(metadata, "schema", "QTIv2.1 Package")
    _element(metadata, "schemaversion", "1.0.0")
    _element(manifest, "organizations")
    resources = _element(manifest, "resources")
    test = _element(resources, "resource", identifier=test_id, type="imsqti_test_xmlv2p1", href=QTI_TEST_FILE)
    _element(test, "file", href=QTI_TEST_FILE)
    for identifier, _ in items:
        _element(test, "dependency", identifierref=identifier)
    for identifier, href in items:
        resource = _element(resources, "resource", identifier=identifier, type="imsqti_item_xmlv2p1", href=href)
        _element(resource, "file", href=href)
    return _xml(manifest)


def qti_package(*, course_id: str, title: str, quiz: StoredQuiz, language: str) -> bytes:
    """The quiz as an IMS QTI 2.1 content package (zip): imsmanifest.xml (IMS CP 1.1), one
    assessmentItem per question under items/ and the assessmentTest (test.xml) that takes them in order."""
    _language(language)
    items = [(_ncname("Q-", question.question_id), question) for question in quiz.questions]
    if len({identifier for identifier, _ in items}) != len(items):
        raise ValueError("quiz: two questions have the same question_id")
    refs = [(identifier, f"items/{identifier}.xml") for identifier, _ in items]
    entries = [(MANIFEST, _qti_manifest(course_id, _ncname("T-", quiz.quiz_id), refs)),
               (QTI_TEST_FILE, _qti_test(quiz, title, refs))]
    entries += [(href, _qti_item(question, identifier, number, language))
                for number, ((identifier, question), (_, href)) in enumerate(zip(items, refs), 1)]
    return _zip(entries)


# -- Moodle GIFT -----------------------------------------------------------------------------
def gift_escape(text: str) -> str:
    """Text as GIFT shows it: one line, each of ~ = # { } : \\ backslashed."""
    return "".join("\\" + ch if ch in _GIFT_SPECIAL else ch for ch in _flat(text))


def _gift_field(text: str) -> str:
    """An option or explanation: Moodle reads a leading [name] as a text format (an option led by
    "[html]" would be HTML) and a leading %50% as a weight, so such a text says [plain] first."""
    escaped = gift_escape(text)
    return "[plain]" + escaped if escaped.startswith(("[", "%")) else escaped


def _gift_question(number: int, question: QuizQuestion) -> str:
    if question.kind == QuestionKind.true_false:  # options are [true, false] in the course language
        answers = "TRUE" if question.correct_index == 0 else "FALSE"
    else:
        answers = " ".join(("=" if index == question.correct_index else "~") + _gift_field(option)
                           for index, option in enumerate(question.options))
    # The stem says [plain]: every text of the question is shown as text. A space before the title's
    # closing "::" and before "{": a title or stem ending in an escaped character never runs into them.
    return (f"::{gift_escape(_question_title(number, question.stem))} ::[plain]{gift_escape(question.stem)} "
            f"{{{answers} ####{_gift_field(question.explanation)}}}")


def gift_text(quiz: StoredQuiz) -> str:
    """The quiz in Moodle's GIFT format: a comment header, then one question a line, a blank line between."""
    header = [f"// {_flat(quiz.title)}",
              f"// Generated by coursegen: {len(quiz.questions)} questions in GIFT (UTF-8), for a question bank."]
    questions = [_gift_question(number, question) for number, question in enumerate(quiz.questions, 1)]
    return "\n".join(header) + "\n\n" + "\n\n".join(questions) + "\n"
