"""The course as one book: every lesson in order, as Markdown, as one HTML5 document and as EPUB.

Pure: no I/O. Lesson Markdown is untrusted text (a model wrote it), so:

* it is parsed by markdown-it-py's CommonMark parser with raw HTML off (`<script>` stays text,
  escaped) and its own link check (no `javascript:`, `vbscript:`, `file:` or non-image `data:` URL
  becomes a link); the HTML is then sanitised with nh3 (ammonia) as a second line;
* every title is escaped (Markdown punctuation backslashed, HTML entities in the skeleton);
* a lesson cannot reach out of its own place: its headings are re-levelled below the lesson's
  heading (its leading `# Title` is dropped, the book gives each lesson its own numbered heading),
  and a fenced code block it leaves open is closed before the next lesson begins.

Structure, in all three forms: the book title (h1), a table of contents, then per part a part
heading (h2) and per lesson a lesson heading (h3, id `lesson-P-S`, numbered `P.S`) followed by the
lesson's own headings from h4 down; a course with labs has each part's lab after its lessons (id
`lab-P`, headed "Lab P: <part title>"). In the EPUB each lesson and each lab is one chapter (its heading an h1).
A lesson's figure, if it has one, follows its heading as an image of its checked SVG: a data: URL
in the HTML (nh3 keeps no other data: URL), the book's own item in the EPUB, a file beside the
book (figure_file) in the Markdown.
"""

from __future__ import annotations

import base64
import html
import re
import uuid
from functools import lru_cache
from collections.abc import Mapping, Sequence
from io import BytesIO

import nh3
from ebooklib import epub
from markdown_it import MarkdownIt
from markdown_it.token import Token

from coursegen.domain.visuals import LessonFigure, checked_svg
from coursegen.models import StoredLab, StoredLesson

# The words the book itself adds, in the course languages; any other language gets English ones.
LABELS = {
    "en": {"part": "Part", "contents": "Contents", "lab": "Lab"},
    "de": {"part": "Teil", "contents": "Inhalt", "lab": "Übung"},
    "fr": {"part": "Partie", "contents": "Sommaire", "lab": "Atelier"},
    "es": {"part": "Parte", "contents": "Índice", "lab": "Práctica"},
}
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_BOOK_NAMESPACE = uuid.UUID("0d6c3f0a-8a57-5c1e-b1f4-7e2b9b6d5a13")
_STYLE = (
    "body{font-family:system-ui,sans-serif;line-height:1.55;margin:0 auto;max-width:46rem;padding:1rem}"
    "nav ol{padding-left:1.2rem}pre{overflow-x:auto;background:#f5f5f5;padding:.6rem}"
    "code{font-size:.92em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .4rem}"
)


def _parser() -> MarkdownIt:
    # CommonMark with raw HTML off: an HTML tag in a lesson is text, and is escaped as text.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def _inert_html(markdown: str) -> str:
    """The Markdown with every `<` outside code escaped: a viewer that renders the HTML in Markdown
    shows a model's tag as text (one split over lines too), as the HTML and EPUB books do (their
    parser has HTML off). Code blocks and code spans stay as written: there `&lt;` would show."""
    lines = markdown.split("\n")
    code_lines = {i for token in _parser().parse(markdown) if token.type in ("fence", "code_block") and token.map
                  for i in range(*token.map)}
    for i, line in enumerate(lines):
        if i in code_lines or "<" not in line:
            continue
        pieces, last = [], 0
        for span in _CODE_SPAN.finditer(line):
            pieces += [line[last:span.start()].replace("<", "&lt;"), span.group(0)]
            last = span.end()
        lines[i] = "".join(pieces) + line[last:].replace("<", "&lt;")
    return "\n".join(lines)


def _labels(language: str) -> dict[str, str]:
    return LABELS.get(language.split("-")[0].lower(), LABELS["en"])


def _language(language: str) -> str:
    if not _LANGUAGE_TAG.fullmatch(language or ""):
        raise ValueError(f"language: {language!r} is not a language tag such as en or de")
    return language


def md_escape(text: str) -> str:
    """Text that Markdown shows as it is: one line, every ASCII punctuation mark backslashed."""
    line = " ".join(text.split())
    return "".join("\\" + ch if ch in _ASCII_PUNCTUATION else ch for ch in line)


def _ordered(lessons: Sequence[StoredLesson]) -> list[StoredLesson]:
    return sorted(lessons, key=lambda lesson: (lesson.lesson_index, lesson.part_index, lesson.section_index))


def _number(lesson: StoredLesson) -> str:
    return f"{lesson.part_index + 1}.{lesson.section_index + 1}"


def lesson_anchor(lesson: StoredLesson) -> str:
    return f"lesson-{lesson.part_index + 1}-{lesson.section_index + 1}"


def lab_anchor(lab: StoredLab) -> str:
    return f"lab-{lab.part_index + 1}"


def _lab_heading(lab: StoredLab, language: str) -> str:
    return f"{_labels(language)['lab']} {lab.part_index + 1}: {lab.title}"


def _labs_of(labs: Sequence[StoredLab], part_index: int) -> list[StoredLab]:
    """A part's lab (a theory_and_labs course has one per part; a theory course none)."""
    return [lab for lab in labs if lab.part_index == part_index]


def _part_title(part_index: int, part_titles: Mapping[int, str] | None, language: str) -> str:
    named = (part_titles or {}).get(part_index, "").strip()
    prefix = f"{_labels(language)['part']} {part_index + 1}"
    return f"{prefix}: {named}" if named else prefix


def _by_part(lessons: Sequence[StoredLesson]) -> list[tuple[int, list[StoredLesson]]]:
    groups: list[tuple[int, list[StoredLesson]]] = []
    for lesson in _ordered(lessons):
        if not groups or groups[-1][0] != lesson.part_index:
            groups.append((lesson.part_index, []))
        groups[-1][1].append(lesson)
    return groups


# -- one lesson's body -----------------------------------------------------------------------
def _normalised(markdown: str) -> str:
    return markdown.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


def _contained(markdown: str) -> str:
    """The lesson's Markdown, changed only if it would swallow what follows it (a fence left open)."""
    md = _parser()
    text = _normalised(markdown).rstrip("\n")
    for _ in range(2):
        probe = text + "\n\n#### probe\n"
        tokens = md.parse(probe)
        expected_line = probe.count("\n") - 1
        if any(t.type == "heading_open" and t.level == 0 and t.map and t.map[0] == expected_line for t in tokens):
            return text
        fences = [t for t in tokens if t.type == "fence" and t.level == 0]
        if not fences:
            break
        text = text + "\n" + fences[-1].markup  # closes the fence it opened (same character and length)
    longest = max((len(run) for run in re.findall(r"~+", text)), default=0)
    fence = "~" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"  # last resort: the lesson as a literal block


def _body(markdown: str, top: int) -> tuple[str, list[Token]]:
    """The lesson's body as Markdown and as tokens, its headings re-levelled so the highest is
    `top` (none above it, none below h6) and a leading h1 (the lesson's own title) dropped."""
    md = _parser()
    text = _contained(markdown)
    tokens = md.parse(text)
    lines = text.split("\n")
    drop_until = 0
    if tokens and tokens[0].type == "heading_open" and tokens[0].tag == "h1" and tokens[0].level == 0:
        close = next(i for i, t in enumerate(tokens) if t.type == "heading_close")
        start, end = tokens[0].map or (0, 1)
        for i in range(start, end):
            lines[i] = ""
        tokens = tokens[close + 1:]
        drop_until = end
    headings = [(i, t) for i, t in enumerate(tokens) if t.type == "heading_open"]
    if not headings:
        return "\n".join(lines[drop_until:]).strip("\n"), tokens
    highest = min(int(t.tag[1]) for _, t in headings)
    for i, token in headings:
        level = int(token.tag[1])
        new = max(top, min(6, level - highest + top))
        _relevel_line(lines, token, tokens[i + 1], new - level)
        token.tag = f"h{new}"
        tokens[i + 2].tag = f"h{new}"  # heading_close
    return "\n".join(lines[drop_until:]).strip("\n"), tokens


def _relevel_line(lines: list[str], token: Token, inline: Token, shift: int) -> None:
    """Move one heading of the lesson's Markdown text `shift` levels down, where the parser found it."""
    if not token.map or shift == 0:
        return
    start, end = token.map
    new = int(token.tag[1]) + shift
    if token.markup.startswith("#"):
        line = lines[start]
        marker = line.index("#")  # container prefixes (>, list markers, spaces) hold no '#'
        lines[start] = line[:marker] + "#" * new + line[marker:].lstrip("#")
    elif token.level == 0:  # a setext heading at the top level becomes an ATX one
        lines[start] = "#" * new + " " + " ".join(inline.content.split())
        for i in range(start + 1, end):
            lines[i] = ""
    # a setext heading inside a container keeps its text; the HTML re-levels it all the same


def _render(tokens: list[Token]) -> str:
    md = _parser()
    return md.renderer.render(tokens, md.options, {})


def _sanitised(fragment: str) -> str:
    attributes = {tag: set(allowed) for tag, allowed in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag in ("h2", "h3", "section"):
        attributes.setdefault(tag, set()).add("id")
    tags = set(nh3.ALLOWED_TAGS) | {"section"}
    return nh3.clean(fragment, tags=tags, attributes=attributes, link_rel="noopener noreferrer",
                     url_schemes=nh3.ALLOWED_URL_SCHEMES | {"data"}, attribute_filter=_only_figure_data_urls)


def _only_figure_data_urls(element: str, attribute: str, value: str) -> str | None:
    """A data: URL survives only as an <img>'s SVG that checks out as a figure (checked_svg): the
    book's own figures. Any other - one a model wrote into its lesson included - is dropped."""
    if not value.strip().lower().startswith("data:"):
        return value
    prefix = "data:image/svg+xml;base64,"
    if element != "img" or attribute != "src" or not value.startswith(prefix):
        return None
    try:
        checked_svg(base64.b64decode(value[len(prefix):], validate=True).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):  # not base64, not UTF-8, or not a clean SVG (InvalidVisual)
        return None
    return value


def _figure_src(figure: LessonFigure) -> str:
    """The HTML book's figure: its SVG inline, as an image (a browser runs no script in an <img>)."""
    return "data:image/svg+xml;base64," + base64.b64encode(figure.svg.encode("utf-8")).decode("ascii")


def figure_file(lesson: StoredLesson) -> str:
    """A figure's file beside the book (the Markdown's reference, the EPUB's item)."""
    return f"figures/{lesson_anchor(lesson)}.svg"


def _figure_html(lesson: StoredLesson, figure: LessonFigure | None, src: str) -> str:
    if figure is None:
        return ""
    caption = html.escape(figure.caption)
    return (f'<figure><img src="{html.escape(src)}" alt="{caption}">'
            f"<figcaption>Figure {_number(lesson)}: {caption}</figcaption></figure>\n")


def _lesson_fragment(lesson: StoredLesson, heading_level: int, figure: str = "") -> str:
    """figure: the lesson's figure as HTML, shown under its heading."""
    heading = f"{_number(lesson)} {lesson.title}"
    _, tokens = _body(lesson.markdown, heading_level + 1)
    return (
        f'<section id="{lesson_anchor(lesson)}">'
        f"<h{heading_level}>{html.escape(heading)}</h{heading_level}>\n{figure}{_render(tokens)}</section>\n"
    )


def _lab_fragment(lab: StoredLab, heading_level: int, language: str) -> str:
    _, tokens = _body(lab.markdown, heading_level + 1)
    return (
        f'<section id="{lab_anchor(lab)}">'
        f"<h{heading_level}>{html.escape(_lab_heading(lab, language))}</h{heading_level}>\n{_render(tokens)}</section>\n"
    )


# -- the one renderer, for the course site (adapters/site.py) --------------------------------
def labels(language: str) -> dict[str, str]:
    """The words the book adds (part, contents, lab) in the course language; English for any other."""
    return dict(_labels(language))


def checked_language(language: str) -> str:
    """The language tag as given, or ValueError if it is not one (it goes into an attribute)."""
    return _language(language)


def sanitised(fragment: str) -> str:
    """HTML through the book's nh3 policy: no script, no handler, no data: URL but a checked figure's."""
    return _sanitised(fragment)


def lesson_number(lesson: StoredLesson) -> str:
    return _number(lesson)


def lab_heading(lab: StoredLab, language: str) -> str:
    return _lab_heading(lab, language)


def part_title(part_index: int, part_titles: Mapping[int, str] | None, language: str) -> str:
    """"Part 2: <title>" in the course language ("Part 2" when the part has no title)."""
    return _part_title(part_index, part_titles, language)


def figure_html(lesson: StoredLesson, figure: LessonFigure | None) -> str:
    """The lesson's figure as the HTML book shows it (its SVG as a data: URL), "" for none."""
    return _figure_html(lesson, figure, _figure_src(figure) if figure else "")


def lesson_html(lesson: StoredLesson, heading_level: int, figure_html: str = "") -> str:
    """One lesson as the book renders it (heading at heading_level, its own headings below), sanitised."""
    return _sanitised(_lesson_fragment(lesson, heading_level, figure_html))


def lab_html(lab: StoredLab, heading_level: int, language: str) -> str:
    """One lab as the book renders it, sanitised."""
    return _sanitised(_lab_fragment(lab, heading_level, language))


# -- the three forms -------------------------------------------------------------------------
def book_markdown(
    title: str, lessons: Sequence[StoredLesson], *, language: str = "en", part_titles: Mapping[int, str] | None = None,
    labs: Sequence[StoredLab] = (), figures: Mapping[str, LessonFigure] | None = None,
) -> str:
    """All lessons in order as one Markdown document: the title, a table of contents, then each
    part's heading, its lessons and its lab (if the course has labs)."""
    labels = _labels(language)
    out = [f"# {md_escape(title)}", "", f"## {labels['contents']}", ""]
    groups = _by_part(lessons)
    for part_index, part_lessons in groups:
        out.append(f"- {md_escape(_part_title(part_index, part_titles, language))}")
        for lesson in part_lessons:
            out.append(f"  - [{md_escape(_number(lesson) + ' ' + lesson.title)}](#{lesson_anchor(lesson)})")
        for lab in _labs_of(labs, part_index):
            out.append(f"  - [{md_escape(_lab_heading(lab, language))}](#{lab_anchor(lab)})")
    for part_index, part_lessons in groups:
        out += ["", f"## {md_escape(_part_title(part_index, part_titles, language))}"]
        for lesson in part_lessons:
            body = _inert_html(_body(lesson.markdown, 4)[0])
            out += ["", f"### {md_escape(_number(lesson) + ' ' + lesson.title)}", ""]
            if figure := (figures or {}).get(lesson.lesson_id):  # the SVG beside the book (figure_file)
                caption = md_escape(figure.caption)
                out += [f"![{caption}]({figure_file(lesson)})", "", f"*Figure {_number(lesson)}: {caption}*", ""]
            if body:
                out.append(body)
        for lab in _labs_of(labs, part_index):
            body = _inert_html(_body(lab.markdown, 4)[0])
            out += ["", f"### {md_escape(_lab_heading(lab, language))}", ""] + ([body] if body else [])
    return "\n".join(out).rstrip("\n") + "\n"


def book_html(
    title: str, lessons: Sequence[StoredLesson], language: str, *, part_titles: Mapping[int, str] | None = None,
    labs: Sequence[StoredLab] = (), figures: Mapping[str, LessonFigure] | None = None,
) -> str:
    """One HTML5 document: lang, a viewport, a <nav> table of contents and every lesson in <main>.
    The lessons' Markdown is rendered with raw HTML off and the result sanitised with nh3."""
    language = _language(language)
    labels = _labels(language)
    groups = _by_part(lessons)
    nav = [f"<h2>{html.escape(labels['contents'])}</h2>", "<ol>"]
    main = []
    for part_index, part_lessons in groups:
        part_title = html.escape(_part_title(part_index, part_titles, language))
        nav.append(f'<li><a href="#part-{part_index + 1}">{part_title}</a><ol>')
        nav += [
            f'<li><a href="#{lesson_anchor(lesson)}">{html.escape(_number(lesson) + " " + lesson.title)}</a></li>'
            for lesson in part_lessons
        ]
        nav += [f'<li><a href="#{lab_anchor(lab)}">{html.escape(_lab_heading(lab, language))}</a></li>'
                for lab in _labs_of(labs, part_index)]
        nav.append("</ol></li>")
        main.append(f'<h2 id="part-{part_index + 1}">{part_title}</h2>\n')
        main += [_lesson_fragment(lesson, 3, _figure_html(lesson, figure, _figure_src(figure) if figure else ""))
                 for lesson in part_lessons for figure in [(figures or {}).get(lesson.lesson_id)]]
        main += [_lab_fragment(lab, 3, language) for lab in _labs_of(labs, part_index)]
    nav.append("</ol>")
    escaped_title = html.escape(title)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escaped_title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{escaped_title}</h1></header>\n"
        f'<nav aria-label="{html.escape(labels["contents"])}">\n{_sanitised(chr(10).join(nav))}\n</nav>\n'
        f"<main>\n{_sanitised(''.join(main))}</main>\n</body>\n</html>\n"
    )


def book_epub(
    title: str, lessons: Sequence[StoredLesson], language: str, *, part_titles: Mapping[int, str] | None = None,
    labs: Sequence[StoredLab] = (), figures: Mapping[str, LessonFigure] | None = None,
) -> bytes:
    """An EPUB 3 book: one chapter per lesson and per lab (its heading an h1), a nav document and
    an NCX, the table of contents grouped by part, each part's lab after its lessons."""
    language = _language(language)
    ordered = _ordered(lessons)
    book = epub.EpubBook()
    identity = "/".join([title, *(lesson.lesson_id for lesson in ordered)])
    book.set_identifier(f"urn:uuid:{uuid.uuid5(_BOOK_NAMESPACE, identity)}")
    book.set_title(title)
    book.set_language(language)
    chapters: dict[str, epub.EpubHtml] = {}
    for n, lesson in enumerate(ordered, start=1):
        chapter = epub.EpubHtml(
            uid=f"lesson-{n:03d}", file_name=f"lesson-{n:03d}.xhtml",
            title=f"{_number(lesson)} {lesson.title}", lang=language,
        )
        figure = (figures or {}).get(lesson.lesson_id)
        if figure is not None:  # the SVG as the book's own item, the chapter's image refers to it
            book.add_item(epub.EpubItem(uid=f"figure-{n:03d}", file_name=figure_file(lesson), media_type="image/svg+xml",
                                        content=figure.svg.encode("utf-8")))
        chapter.content = _sanitised(_lesson_fragment(lesson, 1, _figure_html(lesson, figure, figure_file(lesson))))
        book.add_item(chapter)
        chapters[lesson.lesson_id] = chapter
    lab_chapters: dict[int, list[epub.EpubHtml]] = {}
    for lab in labs:
        chapter = epub.EpubHtml(uid=f"lab-{lab.part_index + 1:03d}", file_name=f"lab-{lab.part_index + 1:03d}.xhtml",
                                title=_lab_heading(lab, language), lang=language)
        chapter.content = _sanitised(_lab_fragment(lab, 1, language))
        book.add_item(chapter)
        lab_chapters.setdefault(lab.part_index, []).append(chapter)
    book.toc = [
        (epub.Section(_part_title(part_index, part_titles, language), href=chapters[part_lessons[0].lesson_id].file_name),
         [chapters[lesson.lesson_id] for lesson in part_lessons] + lab_chapters.get(part_index, []))
        for part_index, part_lessons in _by_part(ordered)
    ]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *(chapter for _, part_chapters in book.toc for chapter in part_chapters)]  # a lab after its part
    out = BytesIO()
    epub.write_epub(out, book, {})
    return out.getvalue()
