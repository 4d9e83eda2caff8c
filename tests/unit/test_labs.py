"""Labs (issue 13, item 11): one per part, practising exactly its lessons' objectives; checked as a
Markdown tree, repaired by a bounded re-prompt, prompted with WRITE_LAB's variables, placed in the
book after its part's lessons."""

import io
import warnings
import zipfile

import html5lib
import pytest
from pydantic import ValidationError

from coursegen.domain.book import book_epub, book_html, book_markdown
from coursegen.domain.labs import MIN_STEPS, lab_books, lab_prompt, parse_lab, placeholder_lab, plan_labs
from coursegen.domain.lessons import Lesson, plan_lessons
from coursegen.domain.prompts import PROMPTS, WRITE_LAB
from coursegen.errors import LlmOutputInvalid
from coursegen.models import ContentMode, CoursePreferences, CourseRequest, CourseState, StoredLab, StoredLesson
from coursegen.services.outline import ask
from tests.fakes import ScriptedLlm
from tests.unit.test_lessons import BOOKS, OUTLINE

PLANS = plan_lessons("course-1", OUTLINE)
LABS = plan_labs(PLANS)
KNOWN = ["fin-001", "fin-002"]


def good_lab(part: int = 0) -> str:
    lab = LABS[part]
    objectives = "\n".join(f"- [{o.objective_id}] {o.text}" for o in lab.objectives)
    book = lab.book_ids[0]
    return f"""# Lab {lab.number}: {lab.part_title}

## Objectives
{objectives}

## Goal
Forecast free cash flow for a small company [{book}].

## Setup
A spreadsheet with three years of EBIT, D&A, capex and working capital.

## Steps
1. Take EBIT after tax [{book}].
2. Add D&A and subtract capex.
3. Subtract the change in working capital.

## Expected result
Three years of free cash flow to the firm.

## Solution
FCFF = EBIT(1 - t) + D&A - capex - change in working capital [{book}].

## Self-check
1. Why is D&A added back?
2. What happens to FCFF when working capital grows?

## Sources
- [{book}] The book
"""


# --- planning ------------------------------------------------------------------------------------


def test_one_lab_per_part_practising_exactly_its_lessons_objectives():
    assert [lab.part_index for lab in LABS] == [0, 1]
    part_one = [o for plan in PLANS if plan.part_index == 0 for o in plan.objectives]
    assert LABS[0].objectives == tuple(part_one) and LABS[0].part_title == "Foundations"
    assert {o.objective_id[:3] for o in LABS[1].objectives} == {"O2."}  # never another part's
    assert LABS[1].book_ids == ("fin-002",) and LABS[1].lesson_indexes == (2, 3)


def test_a_lab_id_is_stable_per_course_part_and_revision():
    assert LABS[1].lab_id == StoredLab.id_for("course-1", 1) == plan_labs(plan_lessons("course-1", OUTLINE))[1].lab_id
    assert StoredLab.id_for("course-1", 1) not in {StoredLab.id_for("course-2", 1), StoredLab.id_for("course-1", 0),
                                                    StoredLab.id_for("course-1", 1, revision=2)}
    with pytest.raises(ValidationError, match="must be a UUID"):
        StoredLab(lab_id="lab-1", course_id="c", part_index=0, title="t", markdown="m", objective_ids=[], book_ids=[])


def test_a_lab_draws_on_its_parts_books_or_all_when_the_part_cites_none():
    assert [b.book_id for b in lab_books(LABS[1], BOOKS)] == ["fin-002"]
    uncited = plan_labs([p for p in plan_lessons("c", OUTLINE.model_copy(update={"parts": [
        OUTLINE.parts[0].model_copy(update={"sections": [s.model_copy(update={"book_ids": []}) for s in OUTLINE.parts[0].sections]})
    ]}))])[0]
    assert [b.book_id for b in lab_books(uncited, BOOKS)] == ["fin-001", "fin-002"]


def test_content_mode_defaults_to_theory_and_a_bad_value_names_the_field():
    assert CourseRequest(query="Learn DCF", hours=1).content_mode == ContentMode.theory
    with pytest.raises(ValidationError) as caught:
        CourseRequest(query="Learn DCF", hours=1, content_mode="labs_only")
    assert caught.value.errors()[0]["loc"] == ("content_mode",)
    state = CourseState(session_id="c")
    state.take_request(CourseRequest(query="Learn DCF", hours=1, content_mode="theory_and_labs"), "local")
    assert state.content_mode == ContentMode.theory_and_labs
    assert CourseState.model_validate_json(state.model_dump_json()).content_mode == ContentMode.theory_and_labs


# --- checking a written lab ----------------------------------------------------------------------


def test_a_lab_in_the_asked_shape_parses_with_its_citations():
    result = parse_lab(good_lab(), LABS[0], KNOWN)
    assert result.ok, result.error
    assert result.value.book_ids == ("fin-001",) and result.value.plan == LABS[0]


@pytest.mark.parametrize("heading", ["## Goal", "## Setup", "## Steps", "## Expected result", "## Solution", "## Self-check",
                                     "## Sources"])
def test_a_missing_section_is_named(heading):
    markdown = good_lab().replace(heading + "\n", "## Notes\n")
    result = parse_lab(markdown, LABS[0], KNOWN)
    assert not result.ok and f"'{heading}'" in result.error.split("The lab needs all of")[0]


def test_steps_must_be_a_numbered_list_of_at_least_three():
    bulleted = good_lab().replace("1. Take", "- Take").replace("2. Add", "- Add").replace("3. Subtract", "- Subtract")
    assert "numbered list" in parse_lab(bulleted, LABS[0], KNOWN).error
    two = good_lab().replace("3. Subtract the change in working capital.\n", "")
    assert f"at least {MIN_STEPS} steps" in parse_lab(two, LABS[0], KNOWN).error and "it has 2 item(s)" in parse_lab(two, LABS[0], KNOWN).error


def test_the_self_check_needs_two_questions():
    one = good_lab().replace("2. What happens to FCFF when working capital grows?\n", "")
    assert "'## Self-check' has 1 question(s)" in parse_lab(one, LABS[0], KNOWN).error


def test_each_objective_of_the_part_is_listed_with_its_id_and_no_other_parts():
    missing = good_lab().replace(f"- [{LABS[0].objectives[0].objective_id}]", "-")
    assert f"'- [{LABS[0].objectives[0].objective_id}]" in parse_lab(missing, LABS[0], KNOWN).error
    foreign = good_lab().replace("Take EBIT after tax", "Estimate WACC [O2.1.1] after taking EBIT")
    assert "[O2.1.1] are not this part's" in parse_lab(foreign, LABS[0], KNOWN).error


def test_citations_are_the_given_books_and_all_listed_under_sources():
    unknown = good_lab().replace("Add D&A and subtract capex.", "Add D&A [fin-999].")
    assert "Unknown citation(s) [fin-999]" in parse_lab(unknown, LABS[0], KNOWN).error
    unlisted = good_lab().replace("Add D&A and subtract capex.", "Add D&A [fin-002].")
    assert "add: [fin-002]" in parse_lab(unlisted, LABS[0], KNOWN).error
    uncited = good_lab().replace(" [fin-001].", ".").replace(" [fin-001]", "")
    assert "cites no book" in parse_lab(uncited, LABS[0], KNOWN).error


def test_an_empty_or_untitled_lab_is_refused():
    assert "empty" in parse_lab("  ", LABS[0], KNOWN).error
    assert "level-1 heading: '# Lab 1: Foundations'" in parse_lab(good_lab().split("\n", 1)[1], LABS[0], KNOWN).error


# --- the bounded repair ---------------------------------------------------------------------------


def prompt_for(plan):
    return lab_prompt(plan, course_outline_context="Course: DCF", part_lessons=[], books=BOOKS,
                      preferences=CoursePreferences(), language="en")


def test_an_unusable_lab_is_asked_again_with_what_to_fix():
    no_steps = good_lab().replace("## Steps", "## Method")
    llm = ScriptedLlm({"labs.write_lab": [no_steps, good_lab()]})
    lab = ask(llm, prompt_for(LABS[0]), lambda text: parse_lab(text, LABS[0], KNOWN), max_repairs=2)
    assert lab.markdown == good_lab()
    first, second = llm.calls["labs.write_lab"]
    assert second.text.startswith(first.text) and "'## Steps'" in second.repairs[0] and "## Method" in second.text


def test_the_repairs_are_bounded():
    llm = ScriptedLlm({"labs.write_lab": ["Labs are fun!"] * 5})
    with pytest.raises(LlmOutputInvalid, match="labs.write_lab: no usable answer after 2 repair"):
        ask(llm, prompt_for(LABS[0]), lambda text: parse_lab(text, LABS[0], KNOWN), max_repairs=2)
    assert len(llm.calls["labs.write_lab"]) == 3


# --- the prompt ----------------------------------------------------------------------------------


def test_the_lab_prompt_fills_exactly_write_labs_variables_with_the_part_and_its_lessons():
    assert PROMPTS["labs.write_lab"] is WRITE_LAB
    assert WRITE_LAB.variables == {"course_outline_context", "part_number", "part_title", "part_lessons", "lab_objectives",
                                   "book_summaries", "learner_profile", "language"}
    lesson = Lesson(plan=PLANS[2], markdown="# L\n\n## Key takeaways\n\n- WACC blends the costs of capital\n", words=300,
                    minutes=2.3, book_ids=("fin-002",))
    prompt = lab_prompt(LABS[1], course_outline_context="Course: DCF", part_lessons=[lesson], books=BOOKS,
                        preferences=CoursePreferences(audience="analysts"), language="fr")
    assert set(prompt.variables) == WRITE_LAB.variables
    assert prompt.variables["part_number"] == "2" and "# Lab 2: Discounting" in prompt.text
    assert "- [O2.1.1] Estimate WACC" in prompt.variables["lab_objectives"] and "O1." not in prompt.variables["lab_objectives"]
    assert "WACC blends the costs of capital" in prompt.variables["part_lessons"]
    assert "[fin-002]" in prompt.variables["book_summaries"] and "[fin-001]" not in prompt.variables["book_summaries"]
    assert "Audience: analysts" in prompt.text and "code is 'fr'" in prompt.text


def test_a_placeholder_lab_shows_its_objectives_and_sources_and_asks_no_model():
    lab = placeholder_lab(LABS[0])
    assert lab.markdown.startswith("# Lab 1: Foundations") and "Placeholder" in lab.markdown
    assert all(f"[{o.objective_id}]" in lab.markdown for o in LABS[0].objectives) and "[fin-001]" in lab.markdown


# --- the book ------------------------------------------------------------------------------------


def stored_lesson(part, section, index) -> StoredLesson:
    return StoredLesson(lesson_id=StoredLesson.id_for("c-1", part, section), course_id="c-1", part_index=part,
                        section_index=section, lesson_index=index, title=f"Lesson {part}.{section}",
                        markdown=f"# Lesson\n\nText {index} [fin-001].\n", words=400, minutes=10,
                        objective_ids=[f"O{part + 1}.{section + 1}.1"], book_ids=["fin-001"])


def stored_lab(part) -> StoredLab:
    return StoredLab(lab_id=StoredLab.id_for("c-1", part), course_id="c-1", part_index=part, title=f"Part {part} title",
                     markdown=f"# Lab {part + 1}\n\n## Steps\n\n1. Step of lab {part + 1} [fin-001].\n",
                     objective_ids=[f"O{part + 1}.1.1"], book_ids=["fin-001"])


BOOK_LESSONS = [stored_lesson(0, 0, 0), stored_lesson(0, 1, 1), stored_lesson(1, 0, 2)]
BOOK_LABS = [stored_lab(1), stored_lab(0)]  # given out of order


def test_the_markdown_book_has_each_parts_lab_after_its_lessons():
    md = book_markdown("DCF", BOOK_LESSONS, labs=BOOK_LABS)
    contents, body = md.split("\n## Part 1\n")
    order = [body.index(text) for text in ("Text 0", "Text 1", "Step of lab 1", "## Part 2", "Text 2", "Step of lab 2")]
    assert order == sorted(order)
    assert contents.index("[Lab 1\\: Part 0 title](#lab-1)") < contents.index("- Part 2")  # listed under its part
    assert "Lab" not in book_markdown("DCF", BOOK_LESSONS)  # a theory course: none


def test_the_html_and_epub_books_have_the_labs_in_their_parts():
    document = book_html("DCF", BOOK_LESSONS, "de", labs=BOOK_LABS)
    tree = html5lib.parse(document, treebuilder="etree", namespaceHTMLElements=False)
    ids = [section.get("id") for section in tree.iter("section")]
    assert ids == ["lesson-1-1", "lesson-1-2", "lab-1", "lesson-2-1", "lab-2"]
    assert "Übung 1: Part 0 title" in document  # the book's own words in the course's language
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = book_epub("DCF", BOOK_LESSONS, "en", labs=BOOK_LABS)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"EPUB/lab-001.xhtml", "EPUB/lab-002.xhtml"} <= set(names)
    opf = zipfile.ZipFile(io.BytesIO(data)).read("EPUB/content.opf").decode()
    spine = opf.split("<spine")[1]
    assert spine.index('idref="lesson-002"') < spine.index('idref="lab-001"') < spine.index('idref="lesson-003"')
