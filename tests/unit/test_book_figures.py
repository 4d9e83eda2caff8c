"""A lesson's figure in the book: the HTML re-read by a browser's parser (html5lib) shows it as an
image of its SVG and keeps no other data: URL; the EPUB carries the SVG as its own item, re-read as
a zip and by an XML parser; the Markdown refers to the file beside the book."""

from __future__ import annotations

import base64
import io
import warnings
import xml.etree.ElementTree as ElementTree
import zipfile

from ebooklib import epub
from markdown_it import MarkdownIt

from coursegen.adapters.figures import SvgFigureRenderer
from coursegen.domain.book import book_epub, book_html, book_markdown, figure_file
from coursegen.domain.visuals import DiagramSpec, LessonFigure
from tests.unit.test_book import lesson, parsed

SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"
CAPTION = 'Value = cash flows "discounted" <at> the WACC & more'
SPEC = DiagramSpec(lesson_id="x", kind="flow", caption=CAPTION,
                   steps=["Forecast free cash flow", "Discount at the WACC <script>", "Add the terminal value"])
FIGURE_LESSON = lesson(0, 1, 1, markdown="# L\n\n## Explanation\n\n![png](data:image/png;base64,iVBORw0KGgo=) Text [fin-001].\n")
LESSONS = [lesson(0, 0, 0), FIGURE_LESSON]
FIGURES = {FIGURE_LESSON.lesson_id: LessonFigure(FIGURE_LESSON.lesson_id, CAPTION, SvgFigureRenderer().render(SPEC))}


def step_texts(svg: bytes | str) -> str:
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg" and not list(root.iter(f"{SVG}script"))
    return " ".join(line.text for line in root.iter(f"{SVG}tspan"))


def test_the_html_shows_the_figure_as_an_image_of_its_svg_under_its_lessons_heading():
    page = parsed(book_html("DCF", LESSONS, "en", figures=FIGURES))
    section = next(s for s in page.iter(f"{XHTML}section") if s.get("id") == "lesson-1-2")
    figure = section.find(f"{XHTML}figure")
    image, caption = figure.find(f"{XHTML}img"), figure.find(f"{XHTML}figcaption")
    assert image.get("alt") == CAPTION and "".join(caption.itertext()) == f"Figure 1.2: {CAPTION}"
    source = image.get("src")
    assert source.startswith("data:image/svg+xml;base64,")
    assert "Discount at the WACC <script>" in step_texts(base64.b64decode(source.split(",", 1)[1]))
    # the only data: URL is the figure's: the lesson's own data: image is gone, and no figure elsewhere
    sources = [img.get("src") for img in page.iter(f"{XHTML}img")]
    assert [s for s in sources if s and s.startswith("data:")] == [source]
    other = next(s for s in page.iter(f"{XHTML}section") if s.get("id") == "lesson-1-1")
    assert other.find(f"{XHTML}figure") is None


def test_the_epub_carries_the_svg_as_its_own_item_and_the_chapter_shows_it():
    data = book_epub("DCF", LESSONS, "en", figures=FIGURES)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        [svg_name] = [name for name in archive.namelist() if name.endswith(".svg")]
        assert svg_name.endswith(figure_file(FIGURE_LESSON))
        assert "Discount at the WACC <script>" in step_texts(archive.read(svg_name))
        opf = ElementTree.fromstring(archive.read(next(n for n in archive.namelist() if n.endswith(".opf"))))
        items = {item.get("href"): item.get("media-type") for item in opf.iter("{http://www.idpf.org/2007/opf}item")}
        assert items[figure_file(FIGURE_LESSON)] == "image/svg+xml"
        chapter = ElementTree.fromstring(archive.read(svg_name.replace(figure_file(FIGURE_LESSON), "lesson-002.xhtml")))
        [image] = [img for img in chapter.iter(f"{XHTML}img") if img.get("src")]  # the lesson's data: image lost its src
        assert image.get("src") == figure_file(FIGURE_LESSON) and image.get("alt") == CAPTION
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = epub.read_epub(io.BytesIO(data))
    assert [item.media_type for item in book.get_items() if item.file_name == figure_file(FIGURE_LESSON)] == ["image/svg+xml"]


def test_the_markdown_refers_to_the_figure_beside_the_book_with_its_caption_escaped():
    md = book_markdown("DCF", LESSONS, figures=FIGURES)
    images = [child for token in MarkdownIt("commonmark").parse(md) if token.type == "inline"
              for child in token.children if child.type == "image"]
    [figure] = [image for image in images if image.attrGet("src").startswith("figures/")]
    alt = "".join(child.content for child in figure.children)
    assert figure.attrGet("src") == figure_file(FIGURE_LESSON) and alt == CAPTION  # escaped, read back whole
    assert f"Figure 1.2: {CAPTION}" in MarkdownIt("commonmark").render(md).replace("&quot;", '"').replace(
        "&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_a_book_without_figures_is_the_book_it_was():
    assert book_html("DCF", LESSONS, "en") == book_html("DCF", LESSONS, "en", figures={})
    assert "<figure>" not in book_html("DCF", LESSONS, "en")


def test_a_lessons_own_svg_data_image_is_dropped_unless_it_checks_out_as_a_figure():
    import base64

    hostile = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>').decode()
    markdown = f"# L\n\n## Explanation\n\n![x](data:image/svg+xml;base64,{hostile}) Text [fin-001].\n"
    document = book_html("Course", [lesson(0, 0, 0, markdown=markdown)], "en")
    sources = [img.get("src") or "" for img in parsed(document).iter() if img.tag.endswith("}img")]
    assert not any(hostile in source for source in sources)  # at most text: never an image's source
    # and the filter itself, on such an <img> (markdown-it refuses an svg data: link before nh3 sees it)
    from coursegen.domain.book import _only_figure_data_urls
    assert _only_figure_data_urls("img", "src", f"data:image/svg+xml;base64,{hostile}") is None
