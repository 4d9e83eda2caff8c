"""The offline writer's lab half: every lab of the demo course parses, cites only its part's books,
is built from their summaries' sentences (extractive), and says it is not an LLM's."""

import re

from coursegen.adapters.offline import LAB_WRITER_LABEL, OfflinePlanner
from coursegen.domain.context import format_course_outline
from coursegen.domain.labs import lab_books, lab_prompt, parse_lab, plan_labs
from coursegen.domain.lessons import plan_lessons
from coursegen.models import CoursePreferences
from tests.unit.test_offline_planner import DCF_BOOKS, course


def write_labs(language: str = "en"):
    """Plan the DCF outline from the sample library with the offline planner, then write every lab."""
    outline = course(2.0)
    results = []
    for plan in plan_labs(plan_lessons("demo", outline)):
        prompt = lab_prompt(plan, course_outline_context=format_course_outline(outline), part_lessons=[],
                            books=DCF_BOOKS, preferences=CoursePreferences(), language=language)
        markdown = OfflinePlanner().complete(prompt).text
        results.append((plan, markdown, parse_lab(markdown, plan, [b.book_id for b in lab_books(plan, DCF_BOOKS)])))
    return results


def test_every_lab_of_the_demo_course_parses():
    results = write_labs()
    assert len(results) >= 3
    for plan, _, result in results:
        assert result.ok, (plan.number, result.error)


def test_it_says_it_is_not_an_llm_in_every_lab():
    assert "not an LLM" in LAB_WRITER_LABEL
    assert all(LAB_WRITER_LABEL in markdown for _, markdown, _ in write_labs())


def test_it_cites_only_its_parts_books():
    for plan, markdown, result in write_labs():
        cited = set(re.findall(r"\[((?:fin|acc|dsc)-\d+)\]", markdown))
        assert cited and cited <= set(plan.book_ids), plan.number
        assert set(result.value.book_ids) == cited


def test_every_step_and_solution_quotes_a_sentence_of_the_cited_summary():
    by_id = {book.book_id: book for book in DCF_BOOKS}
    checked = 0
    for plan, markdown, _ in write_labs():
        section = markdown.replace("\\", "").split("## Steps")[1].split("## Self-check")[0]
        for point, book_id in re.findall(r"(?:The point|own words): (.+?) \[(fin-\d+)\]$", section, flags=re.M):
            assert point in re.split(r"(?<=[.!?])\s+", by_id[book_id].summary), (plan.number, point)
            checked += 1
    assert checked >= 2 * 6  # a step and its solution per objective, over the parts


def test_each_step_practises_one_of_the_parts_objectives():
    for plan, markdown, _ in write_labs():
        steps = markdown.split("## Steps")[1].split("## Expected result")[0]
        for objective in plan.objectives:
            assert f"For [{objective.objective_id}]" in steps, (plan.number, objective.objective_id)


def test_another_language_is_said_not_written_silently():
    _, markdown, result = write_labs("de")[0]
    assert result.ok and "writes English only" in markdown and "'de'" in markdown
