"""The offline writer (the offline planner's lesson half): every lesson of the demo course parses,
cites only the books it was given, is built from their summaries' sentences, and says it is not an
LLM's."""

import re

import pytest

from coursegen.adapters.offline import WRITER_LABEL, OfflinePlanner
from coursegen.domain.context import format_course_outline
from coursegen.domain.lessons import lesson_prompt, parse_lesson, plan_lessons, target_words
from coursegen.models import CoursePreferences, Pace
from tests.unit.test_offline_planner import DCF_BOOKS, course

KNOWN = [book.book_id for book in DCF_BOOKS]
_SUMMARY_TEXT = " ".join(book.summary for book in DCF_BOOKS)


def write_course(pace: Pace, language: str = "en"):
    """Plan the DCF outline from the sample library with the offline planner, then write every
    lesson in order, each seeing the earlier lessons of its part."""
    outline = course(2.0, pace=pace)
    plans = plan_lessons("demo", outline)
    preferences = CoursePreferences(pace=pace)
    written, results = [], []
    for i, plan in enumerate(plans):
        prompt = lesson_prompt(
            plan, course_outline_context=format_course_outline(outline),
            previous_lessons=[lesson for lesson in written if lesson.plan.part_index == plan.part_index],
            covered_objectives=[o for p in plans[:i] for o in p.objectives], books=DCF_BOOKS,
            preferences=preferences, language=language)
        markdown = OfflinePlanner().complete(prompt).text
        result = parse_lesson(markdown, plan, KNOWN, pace)
        results.append((plan, markdown, result))
        if result.ok:
            written.append(result.value)
    return results


@pytest.mark.parametrize("pace", list(Pace))
def test_every_lesson_of_the_demo_course_parses_at_its_length(pace):
    results = write_course(pace)
    assert len(results) >= 4
    for plan, _, result in results:
        assert result.ok, (plan.number, result.error)
        target = target_words(plan.minutes, pace)
        assert abs(result.value.words - target) <= 0.1 * target, (plan.number, result.value.words, target)


def test_it_cites_only_the_books_of_its_section_and_lists_them():
    for plan, markdown, result in write_course(Pace.moderate):
        cited = set(re.findall(r"\[((?:fin|acc|dsc)-\d+)\]", markdown))
        assert cited and cited <= set(plan.book_ids), plan.number
        assert set(result.value.book_ids) == cited


def test_it_says_it_is_not_an_llm_in_every_lesson():
    assert "not an LLM" in WRITER_LABEL
    assert all(WRITER_LABEL in markdown for _, markdown, _ in write_course(Pace.moderate))


def test_its_statements_are_the_summaries_sentences_not_filler():
    """What precedes every citation is a whole sentence of that book's summary (after a framing
    such as 'What does this add to ...?'), or the book's title: nothing else is attributed to a
    book. And the lesson on computing WACC opens with the summary's sentences that bear on it."""
    by_id = {book.book_id: book for book in DCF_BOOKS}
    results = write_course(Pace.moderate)
    checked = 0
    for plan, markdown, _ in results:
        for line in markdown.replace("\\", "").splitlines():
            for segment, book_id in re.findall(r"([^\[\]]*?)\s*\[(fin-\d+)\]", line):
                segment = segment.strip()
                if not segment or segment.endswith(by_id[book_id].title) or segment in ("-", ",", ";"):
                    continue
                sentences = re.split(r"(?<=[.!?])\s+", by_id[book_id].summary)
                assert any(segment.endswith(sentence) for sentence in sentences), (plan.number, segment)
                checked += 1
    assert checked > 100
    wacc = next(markdown for plan, markdown, _ in results if plan.title.startswith("Computing WACC"))
    first_objective = wacc.split("## Explanation")[1].split("###")[1]
    assert "WACC = E/V" in " ".join(first_objective.split("[fin-005]")[:2])


def test_each_lesson_explains_its_own_objectives():
    results = write_course(Pace.moderate)
    for plan, markdown, _ in results:
        for objective in plan.objectives:
            assert f"- [{objective.objective_id}] {objective.text}" in markdown.replace("\\", "")
    bodies = [markdown.split("## Explanation")[1].split("### Reading")[0] for _, markdown, _ in results]
    assert len(set(bodies)) == len(bodies)  # no two lessons open the same way


def test_another_language_is_said_not_written_silently():
    _, markdown, result = write_course(Pace.moderate, language="de")[0]
    assert result.ok and "writes English only" in markdown and "'de'" in markdown
