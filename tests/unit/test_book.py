"""The book: every lesson in order as Markdown, as one HTML5 document re-read by a browser's parser
(html5lib), and as an EPUB re-read by ebooklib and as a zip."""

import io
import warnings
import zipfile

import html5lib
import pytest
from ebooklib import epub
from markdown_it import MarkdownIt

from coursegen.domain.book import book_epub, book_html, book_markdown
from coursegen.models import StoredLesson

NS = {"h": "http://www.w3.org/1999/xhtml"}
HOSTILE = (
    "# Hostile\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
    "Inline <b onclick=alert(3)>bold</b> and [x](javascript:alert(4)) and ![i](javascript:alert(5))\n\n"
    "[ref]\n\n[ref]: javascript:alert(6)\n\n<a href=\"javascript:alert(7)\">a</a>\n"
)


def lesson(part, section, index, markdown=None, title=None) -> StoredLesson:
    return StoredLesson(
        lesson_id=StoredLesson.id_for("c-1", part, section), course_id="c-1", part_index=part, section_index=section,
        lesson_index=index, title=title or f"Lesson {part}.{section}",
        markdown=markdown if markdown is not None else (
            f"# Lesson {part}.{section}\n\n## Objectives\n\n- O{part}.{section}.1\n\n## Explanation\n\nText {index} [fin-001].\n"
        ),
        words=400, minutes=10, objective_ids=[f"O{part}.{section}.1"], book_ids=["fin-001"],
    )


# given out of order: the book puts them in lesson_index order
LESSONS = [lesson(1, 0, 2), lesson(0, 0, 0), lesson(0, 1, 1)]


def parsed(document: str):
    return html5lib.parse(document, treebuilder="etree", namespaceHTMLElements=True)


def md_headings(md: str) -> list[tuple[str, str]]:
    """(tag, shown text) of every heading, as a CommonMark renderer sees the document."""
    tokens = MarkdownIt("commonmark").parse(md)
    return [
        (t.tag, "".join(c.content for c in tokens[i + 1].children if c.type in ("text", "code_inline")))
        for i, t in enumerate(tokens) if t.type == "heading_open"
    ]


def text(element) -> str:
    return "".join(element.itertext()).strip()


def test_the_markdown_has_the_title_a_contents_and_each_lesson_under_its_part_in_order():
    md = book_markdown("DCF valuation", LESSONS, part_titles={0: "Foundations", 1: "Terminal value"})
    headings = md_headings(md)
    assert headings[:2] == [("h1", "DCF valuation"), ("h2", "Contents")]
    outline = [(tag, name) for tag, name in headings if tag in ("h2", "h3")][1:]
    assert outline == [
        ("h2", "Part 1: Foundations"), ("h3", "1.1 Lesson 0.0"), ("h3", "1.2 Lesson 0.1"),
        ("h2", "Part 2: Terminal value"), ("h3", "2.1 Lesson 1.0"),
    ]
    # the lessons' own headings sit below their lesson's, and their leading title is not repeated
    assert {tag for tag, name in headings if name in ("Objectives", "Explanation")} == {"h4"}
    assert [name for _, name in headings].count("Lesson 0.0") == 0
    assert md.index("Text 0") < md.index("Text 1") < md.index("Text 2")


def test_an_open_fence_in_one_lesson_does_not_swallow_the_next():
    md = book_markdown("B", [lesson(0, 0, 0, "Code:\n\n```python\nx = 1\n"), lesson(0, 1, 1)])
    assert ("h3", "1.2 Lesson 0.1") in md_headings(md)


def test_a_title_is_shown_as_typed_not_as_markdown():
    md = book_markdown("Learn *DCF* [now](http://x)", [lesson(0, 0, 0, title="## <i>Odd</i> title")])
    rendered = MarkdownIt("commonmark").render(md)
    assert "<em>" not in rendered and 'href="http://x"' not in rendered and "<i>" not in rendered
    assert "Learn *DCF* [now](http://x)" in rendered and "## &lt;i&gt;Odd&lt;/i&gt; title" in rendered


def test_the_html_has_lang_a_viewport_a_nav_and_one_heading_per_lesson_in_order():
    doc = parsed(book_html("DCF valuation", LESSONS, "de", part_titles={0: "Grundlagen"}))
    assert doc.get("lang") == "de"
    viewport = doc.find(".//h:head/h:meta[@name='viewport']", NS)
    assert viewport is not None and "width=device-width" in viewport.get("content")
    [nav] = doc.findall(".//h:body/h:nav", NS)
    assert [a.get("href") for a in nav.iterfind(".//h:a", NS)] == [
        "#part-1", "#lesson-1-1", "#lesson-1-2", "#part-2", "#lesson-2-1",
    ]
    [main] = doc.findall(".//h:body/h:main", NS)
    assert [text(h) for h in main.iterfind(".//h:h3", NS)] == ["1.1 Lesson 0.0", "1.2 Lesson 0.1", "2.1 Lesson 1.0"]
    assert [text(h) for h in main.iterfind(".//h:h2", NS)] == ["Teil 1: Grundlagen", "Teil 2"]
    assert [h for h in main.iterfind(".//h:h1", NS)] == []
    # every link of the nav lands on an element of the document
    ids = {e.get("id") for e in doc.iter() if e.get("id")}
    assert {a.get("href")[1:] for a in nav.iterfind(".//h:a", NS)} <= ids
    assert [text(h) for h in doc.iterfind(".//h:body/h:header/h:h1", NS)] == ["DCF valuation"]


def test_a_hostile_lesson_leaves_no_script_no_handler_and_no_javascript_url():
    document = book_html("<script>alert(0)</script>", [lesson(0, 0, 0, HOSTILE, title="<img src=x onerror=alert(8)>")], "en")
    doc = parsed(document)
    elements = list(doc.iter())
    assert [e for e in elements if e.tag.endswith("}script")] == []
    assert [e for e in elements if e.tag.endswith("}img")] == []
    assert [(e.tag, name) for e in elements for name in e.attrib if name.lower().startswith("on")] == []
    assert [v for e in elements for v in e.attrib.values() if "javascript:" in v.lower()] == []
    # the text is still there, as text
    assert "<script>alert(1)</script>" in text(doc.find(".//h:main", NS))
    assert text(doc.find(".//h:title", NS)) == "<script>alert(0)</script>"


def test_an_unusable_language_tag_is_refused():
    with pytest.raises(ValueError, match="language"):
        book_html("B", LESSONS, 'en" onload="alert(1)')


def read_epub(data: bytes, tmp_path):
    path = tmp_path / "book.epub"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ebooklib's own deprecation notices about its read options
        return epub.read_epub(str(path), {"ignore_ncx": False})


def test_the_epub_has_one_chapter_per_lesson_in_order_a_nav_an_ncx_and_mimetype_first(tmp_path):
    data = book_epub("DCF valuation", LESSONS, "en", part_titles={0: "Foundations"})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        first = archive.infolist()[0]
        assert (first.filename, first.compress_type) == ("mimetype", zipfile.ZIP_STORED)
        assert archive.read("mimetype") == b"application/epub+zip"
    book = read_epub(data, tmp_path)
    chapters = [item for item in book.get_items() if item.get_type() == 9 and item.get_name().startswith("lesson-")]  # ITEM_DOCUMENT
    assert len(chapters) == 3
    spine = [item_id for item_id, _ in book.spine]
    assert spine[0] == "nav" and len(spine) == 4
    in_order = [book.get_item_with_id(item_id) for item_id in spine[1:]]
    assert [text(parsed(c.get_content().decode()).find(".//h:h1", NS)) for c in in_order] == [
        "1.1 Lesson 0.0", "1.2 Lesson 0.1", "2.1 Lesson 1.0",
    ]
    assert book.get_item_with_id("nav") is not None and book.get_item_with_id("ncx") is not None
    assert [section.title for section, _ in book.toc] == ["Part 1: Foundations", "Part 2"]
    assert [[link.title for link in links] for _, links in book.toc] == [["1.1 Lesson 0.0", "1.2 Lesson 0.1"], ["2.1 Lesson 1.0"]]
    assert book.get_metadata("DC", "language")[0][0] == "en"


def test_an_epub_chapter_of_a_hostile_lesson_holds_no_script(tmp_path):
    book = read_epub(book_epub("B", [lesson(0, 0, 0, HOSTILE)], "en"), tmp_path)
    [chapter] = [item for item in book.get_items() if item.get_name().startswith("lesson-")]
    doc = parsed(chapter.get_content().decode())
    elements = list(doc.iter())
    assert [e for e in elements if e.tag.endswith("}script")] == []
    assert [name for e in elements for name in e.attrib if name.lower().startswith("on")] == []
    assert [v for e in elements for v in e.attrib.values() if "javascript:" in v.lower()] == []


def test_the_markdown_book_carries_a_lessons_raw_html_as_text_not_as_html():
    md = book_markdown("Course", [lesson(0, 0, 0, HOSTILE)])
    # rendered by a viewer that renders the HTML in Markdown (CommonMark's default), nothing is a tag
    rendered = MarkdownIt("commonmark").render(md)
    assert "<script" not in rendered and "<img" not in rendered and "onerror=" not in rendered.replace("onerror=alert", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered  # the text is still there, as text


def test_the_markdown_book_escapes_a_tag_split_over_lines_and_leaves_code_as_written():
    markdown = "# T\n\nText <img\nsrc=x onerror=alert(1)> more, and `<b>x</b>` in code.\n\n```\n<div>kept</div>\n```\n"
    md = book_markdown("Course", [lesson(0, 0, 0, markdown)])
    rendered = MarkdownIt("commonmark").render(md)
    assert "<img" not in rendered and "&lt;img" in rendered
    assert "<code>&lt;b&gt;x&lt;/b&gt;</code>" in rendered  # the code span shows <b>x</b>, not entities
    assert "&lt;div&gt;kept&lt;/div&gt;" in rendered and "&amp;lt;" not in rendered
