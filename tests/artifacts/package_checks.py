"""The packages of adapters/packages.py re-read as a learning platform would, each problem one line.

validate_package(kind, data, quiz=...) -> [] when the package is sound:

* scorm: imsmanifest.xml valid against the SCORM 1.2 schemas (IMS CP 1.1.2 and ADL CP 1.2),
  those schemas at the zip's root as shipped, every file the manifest names in the zip, every item's
  resource declared, and every link and source of every HTML page resolving to a file in the zip;
* qti: imsmanifest.xml valid against IMS CP 1.1.4, each assessmentItem and the assessmentTest valid
  against imsqti_v2p1.xsd, every file and dependency the manifest names there; with the quiz, the
  same questions in order: stems, options, the correct choice and the explanation;
* gift: re-read by the pygiftparser package: with the quiz, the same number of questions, the same
  stems, options, correct answers and explanations (unescaped).

lxml is a dev dependency (too heavy for the Lambda layer), so this lives with the tests. Schemas
load from the repo only: no network, an import of a remote schema is pointed at a local copy.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lxml import etree, html

from coursegen.adapters import packages
from coursegen.models import QuestionKind, StoredQuiz

SCHEMAS = packages.SCHEMAS
CP_SCORM, ADLCP, CP, QTI = packages.CP_SCORM, packages.ADLCP, packages.CP, packages.QTI
XSD = "http://www.w3.org/2001/XMLSchema"
# Where QTI 2.1's schema imports its neighbours from, and the local copy each is read from instead.
QTI_IMPORTS = {
    "http://www.imsglobal.org/xsd/w3/2001/xml.xsd": "xml.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.imsglobal.org/xsd/w3/2001/XInclude.xsd": "XInclude.xsd",
    "http://www.w3.org/2001/XInclude.xsd": "XInclude.xsd",
    "http://www.w3.org/Math/XMLSchema/mathml2/mathml2.xsd": "mathml2_stub.xsd",
    "http://www.imsglobal.org/profile/apip/apipv1p0/apipv1p0_qtiextv2p1_v1p0.xsd":
        "apipv1p0_qtiextv2p1_v1p0.xsd",
    # The APIP copy (from oat-sa/qti-sdk) imports xml.xsd from its old neighbour folder.
    "w3/xml.xsd": "xml.xsd",
}
# ims_xml.xsd, which the SCORM 1.2 schemas import, binds the xml namespace as its default, which
# libxml2 refuses; W3C's own schema for that namespace (xml.xsd) stands in for it.
LOCAL_IMPORTS = {**QTI_IMPORTS, "ims_xml.xsd": "xml.xsd"}


class _LocalSchemas(etree.Resolver):
    """Every schema an import names, from schemas/qti21/ when it is one of LOCAL_IMPORTS; nothing
    from the network (the parser has no_network as well)."""

    def resolve(self, url, pubid, context):
        for location, name in LOCAL_IMPORTS.items():
            if url == location or url.endswith("/" + location):
                return self.resolve_filename(str(SCHEMAS / "qti21" / name), context)
        return None


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_LocalSchemas())
    return parser


def _schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path), _parser()))


@lru_cache(maxsize=None)
def scorm_schema() -> etree.XMLSchema:
    """adlcp_rootv1p2.xsd imports imscp_rootv1p1p2.xsd: the two namespaces a manifest uses."""
    return _schema(SCHEMAS / "scorm12" / "adlcp_rootv1p2.xsd")


@lru_cache(maxsize=None)
def cp_schema() -> etree.XMLSchema:
    return _schema(SCHEMAS / "qti21" / "imscp_v1p1.xsd")


@lru_cache(maxsize=None)
def qti_schema() -> etree.XMLSchema:
    return _schema(SCHEMAS / "qti21" / "imsqti_v2p1.xsd")


def _invalid(schema: etree.XMLSchema, document: etree._ElementTree, name: str) -> list[str]:
    if schema.validate(document):
        return []
    return [f"{name}: line {error.line}: {error.message}" for error in schema.error_log]


def _archive(data: bytes) -> tuple[zipfile.ZipFile | None, list[str]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        return None, [f"not a zip: {error}"]
    names = archive.namelist()
    problems = [f"{name}: twice in the zip" for name in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"{name}: not a plain relative path" for name in names
                 if name.startswith("/") or ".." in name.split("/") or "\\" in name]
    if packages.MANIFEST not in names:
        problems.append("imsmanifest.xml: not at the zip's root")
    return archive, problems


def _xml(archive: zipfile.ZipFile, name: str) -> tuple[etree._ElementTree | None, list[str]]:
    try:
        return etree.ElementTree(etree.fromstring(archive.read(name), _parser())), []
    except (KeyError, etree.XMLSyntaxError) as error:
        return None, [f"{name}: {error}"]


def _manifest_files(manifest: etree._ElementTree, namespace: str, names: set[str]) -> list[str]:
    """Every resource's href and file, and every dependency and item reference, found."""
    ns = {"cp": namespace}
    problems = []
    for node in manifest.xpath("//cp:resource[@href] | //cp:file", namespaces=ns):
        href = unquote(node.get("href").partition("#")[0])
        if href not in names:
            problems.append(f"imsmanifest.xml: {href} is not in the zip")
    resources = set(manifest.xpath("//cp:resource/@identifier", namespaces=ns))
    for ref in manifest.xpath("//cp:dependency/@identifierref | //cp:item/@identifierref", namespaces=ns):
        if ref not in resources:
            problems.append(f"imsmanifest.xml: {ref} names no resource")
    return problems


def _page_links(archive: zipfile.ZipFile, names: set[str]) -> list[str]:
    """Every relative link and source of every page (hrefs, srcs, CSS urls) lands on a file of the zip."""
    problems = []
    for page in sorted(name for name in names if name.endswith(".html")):
        document = html.document_fromstring(archive.read(page))
        for _, _, link, _ in document.iterlinks():
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # another site, or an anchor of this page
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(parts.path)))
            if target not in names:
                problems.append(f"{page}: {link} is not in the zip")
    return problems


def scorm_problems(data: bytes) -> list[str]:
    archive, problems = _archive(data)
    if archive is None:
        return problems
    names = set(archive.namelist())
    manifest, broken = _xml(archive, packages.MANIFEST)
    if manifest is None:
        return problems + broken
    problems += _invalid(scorm_schema(), manifest, packages.MANIFEST)
    for name in packages.SCORM_SCHEMA_FILES:
        if name not in names or archive.read(name) != (SCHEMAS / "scorm12" / name).read_bytes():
            problems.append(f"{name}: not the shipped schema at the zip's root")
    return problems + _manifest_files(manifest, CP_SCORM, names) + _page_links(archive, names)


def qti_problems(data: bytes, quiz: StoredQuiz | None = None) -> list[str]:
    archive, problems = _archive(data)
    if archive is None:
        return problems
    names = set(archive.namelist())
    manifest, broken = _xml(archive, packages.MANIFEST)
    if manifest is None:
        return problems + broken
    problems += _invalid(cp_schema(), manifest, packages.MANIFEST) + _manifest_files(manifest, CP, names)
    ns = {"cp": CP, "q": QTI}
    tests = manifest.xpath("//cp:resource[@type='imsqti_test_xmlv2p1']/@href", namespaces=ns)
    items = manifest.xpath("//cp:resource[@type='imsqti_item_xmlv2p1']/@href", namespaces=ns)
    if len(tests) != 1:
        problems.append(f"imsmanifest.xml: {len(tests)} tests, not one")
    documents = {}
    for name in [*tests, *items]:
        document, broken = _xml(archive, name)
        problems += broken
        if document is not None:
            documents[name] = document
            problems += _invalid(qti_schema(), document, name)
    for test in tests[:1]:
        if test in documents:
            refs = documents[test].xpath("//q:assessmentItemRef/@href", namespaces=ns)
            if [posixpath.normpath(posixpath.join(posixpath.dirname(test), ref)) for ref in refs] != items:
                problems.append(f"{test}: does not take the manifest's items in order")
    if quiz is not None:
        problems += _same_quiz_in_qti(quiz, [documents.get(name) for name in items])
    return problems


def _flat(text: str) -> str:
    return " ".join(text.split())


def _text(node) -> str:
    return "".join(node.itertext()) if node is not None else ""


def _same_quiz_in_qti(quiz: StoredQuiz, items: list) -> list[str]:
    if len(items) != len(quiz.questions):
        return [f"qti: {len(items)} items for {len(quiz.questions)} questions"]
    ns = {"q": QTI}
    problems = []
    for number, (question, item) in enumerate(zip(quiz.questions, items), 1):
        if item is None:
            continue
        root = item.getroot()
        stem = _text(root.find("q:itemBody/q:p", ns))
        options = [_text(choice) for choice in root.iterfind(".//q:simpleChoice", ns)]
        ids = [choice.get("identifier") for choice in root.iterfind(".//q:simpleChoice", ns)]
        correct = root.findtext("q:responseDeclaration/q:correctResponse/q:value", namespaces=ns)
        explanation = _text(root.find("q:modalFeedback", ns))
        expected = (question.stem, question.options, ids[question.correct_index] if question.correct_index < len(ids)
                    else None, question.explanation, "Q-" + question.question_id)
        if (stem, options, correct, explanation, root.get("identifier")) != expected:
            problems.append(f"qti item {number}: not question {number} as the quiz has it")
    return problems


# -- GIFT ------------------------------------------------------------------------------------
_PLACEHOLDER = "\ue000"


def _gift_unescaped(text: str) -> str:
    """pygiftparser keeps GIFT's backslashes; it also reads a backslash-n as a line break, even the
    n after an escaped backslash. GIFT is one line a question here, so a line break is put back."""
    text = text.replace("\n", "\\n").replace("\\" + _PLACEHOLDER, "\\}")
    return re.sub(r"\\(.)", r"\1", text)


def _gift_field(text: str) -> str:
    return _gift_unescaped(text).removeprefix("[plain]")


def _feedback_pygiftparser_keeps(explanation: str) -> str:
    """pygiftparser takes every leading [..] of a general feedback for a format (Moodle takes the
    first only, which the writer makes [plain] when the explanation begins with "["), so of such an
    explanation it gives back what follows those brackets."""
    field = packages.gift_escape(explanation)
    if not field.startswith("["):
        return explanation
    return _gift_unescaped(re.sub(r"^(?:\[.*?\])*", "", field)).strip()


def gift_questions(text: str) -> list:
    """The questions pygiftparser reads. Its answer pattern ends the answers at the first "}", an
    escaped one too (Moodle's reader does not: it sets each escape aside first); so, as Moodle does,
    an escaped } is set aside before parsing and given back after."""
    from pygiftparser.parser import parseFile

    if _PLACEHOLDER in text:
        raise ValueError("the GIFT holds the character this check sets escaped braces aside as")
    guarded = re.sub(r"\\(.)", lambda m: "\\" + _PLACEHOLDER if m.group(1) == "}" else m.group(0), text)
    return parseFile(io.StringIO(guarded))


def gift_problems(text: str, quiz: StoredQuiz | None = None) -> list[str]:
    from pygiftparser import answer as answers

    problems = []
    if "\r" in text or any(line.strip() and not line.startswith(("//", "::")) for line in text.split("\n")):
        problems.append("gift: a line that is neither a comment nor a question")
    read = gift_questions(text)
    problems += [f"gift question {n}: pygiftparser finds it invalid" for n, q in enumerate(read, 1) if not q.valid]
    if quiz is None:
        return problems
    if len(read) != len(quiz.questions):
        return problems + [f"gift: {len(read)} questions read back, the quiz has {len(quiz.questions)}"]
    for number, (question, parsed) in enumerate(zip(quiz.questions, read), 1):
        stem, explanation = _flat(question.stem), _flat(question.explanation)
        if parsed.markup != "plain" or _gift_unescaped(parsed.text) != stem:
            problems.append(f"gift question {number}: its stem reads back as {parsed.text[:80]!r}")
        if _gift_field(parsed.generalFeedback) != _feedback_pygiftparser_keeps(explanation):
            problems.append(f"gift question {number}: its explanation reads back as {parsed.generalFeedback[:80]!r}")
        if question.kind == QuestionKind.true_false:
            if not isinstance(parsed.answers, answers.TrueFalseSet) or parsed.answers.answer != (question.correct_index == 0):
                problems.append(f"gift question {number}: not true/false with the quiz's answer")
            continue
        read_options = [(_gift_field(a.answer), a.fraction) for a in getattr(parsed.answers, "answers", [])]
        expected = [(_flat(option), 100 if index == question.correct_index else 0)
                    for index, option in enumerate(question.options)]
        if not isinstance(parsed.answers, answers.SelectSet) or read_options != expected:
            problems.append(f"gift question {number}: its options read back as {read_options!r}"[:300])
    return problems


def validate_package(kind: str, data: bytes | str, *, quiz: StoredQuiz | None = None) -> list[str]:
    """The package's problems, [] when none: kind is scorm, qti or gift (EXPORT_FORMATS)."""
    if kind == "scorm":
        return scorm_problems(data)
    if kind == "qti":
        return qti_problems(data, quiz)
    if kind == "gift":
        return gift_problems(data.decode("utf-8") if isinstance(data, bytes) else data, quiz)
    raise ValueError(f"kind: {kind!r} is not scorm, qti or gift")
