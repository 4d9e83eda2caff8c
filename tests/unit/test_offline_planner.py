"""The offline planner is not an LLM, says so, and answers each prompt in the format asked."""

from coursegen.adapters.offline import LABEL, OFFLINE_PLANNER_NAME, OfflinePlanner
from coursegen.domain.context import format_book_summaries, format_parts_plan, format_sibling_parts
from coursegen.domain.parsing import parse_outline_total_time, parse_parts_text, parse_text_outline_to_database
from coursegen.domain.prompts import render_prompt
from coursegen.domain.time_budget import plan_guidance
from coursegen.models import FoundBook

BOOKS = [
    FoundBook(book_id="fin-001", title="Cash Flows", summary="A book about forecasting free cash flow in detail.",
              key_topics=["Free cash flow", "Working capital", "Capex"], similarity=0.6),
    FoundBook(book_id="fin-002", title="Discount Rates", summary="A book about WACC and CAPM and the cost of capital.",
              key_topics=["CAPM", "WACC", "Terminal value"], similarity=0.55),
    FoundBook(book_id="cul-001", title="Bread", summary="A book about sourdough bread baking at home, step by step.",
              key_topics=["Starters"], similarity=0.2),
]


def plan(hours=2.0):
    guidance = plan_guidance(hours)
    prompt = render_prompt("courses.generate_parts", {
        "query": "Learn DCF valuation", "hours": hours, "target_minutes": round(hours * 60),
        "summaries_context": format_book_summaries(BOOKS), "parts_guidance": guidance.parts_guidance,
        "parts_count_guidance": guidance.parts_count_guidance})
    return OfflinePlanner().complete(prompt).text


def test_it_says_it_is_not_an_llm_in_its_name_and_in_every_answer():
    assert "not an LLM" in OFFLINE_PLANNER_NAME
    assert LABEL in plan()


def test_its_parts_plan_parses_adds_up_exactly_and_is_grounded_on_close_matches():
    result = parse_parts_text(plan(2.0))
    assert result.ok, result.error
    assert result.value.total_minutes == 120
    cited = " ".join(p.description for p in result.value.parts)
    assert "fin-001" in cited and "fin-002" in cited
    assert "cul-001" not in cited  # far below the best match


def test_its_expansion_cites_books_and_drifts_like_a_real_outline():
    parts = parse_parts_text(plan(2.0)).value.parts
    part = parts[1]
    prompt = render_prompt("courses.expand_part", {
        "query": "Learn DCF valuation", "book_summaries_context": format_book_summaries(BOOKS),
        "existing_outline": format_parts_plan(parts, highlight=part.index),
        "remaining_text": format_sibling_parts(parts, part.index), "part_index": part.index + 1,
        "part_title": part.title, "part_minutes": part.minutes})
    outline = parse_text_outline_to_database(OfflinePlanner().complete(prompt).text,
                                             {"FIN-001": "fin-001", "FIN-002": "fin-002"}).value
    sections = outline.parts[0].sections
    assert sections and all(s.book_ids for s in sections)
    assert all(s.minutes % 5 == 0 for s in sections)


def test_its_review_brings_the_total_to_the_target():
    outline = ("Course: DCF\n## Part 1: A (60 minutes)\n### Section 1.1: X (40 minutes)\n### Section 1.2: Y (40 minutes)\n"
               "## Part 2: B (60 minutes)\n### Section 2.1: Z (70 minutes)\n")
    prompt = render_prompt("courses.review_outline", {
        "query": "Learn DCF", "hours": 2, "target_total": 120, "book_summaries_context": format_book_summaries(BOOKS),
        "outline_text": outline, "current_total": 150, "variance_percent": "+25.0", "min_acceptable": 114,
        "max_acceptable": 126})
    reviewed = OfflinePlanner().complete(prompt).text
    assert parse_outline_total_time(reviewed).value.minutes == 120
    assert [p.title for p in parse_text_outline_to_database(reviewed).value.parts] == ["A", "B"]


def test_minutes_always_add_up_exactly_even_when_there_are_too_few():
    from coursegen.adapters.offline import _split_minutes

    for total, weights in [(12, [1, 1, 1]), (120, [0.7, 1, 1, 1]), (7, [1, 1]), (2400, [1] * 27), (15, [3, 1, 1, 1, 1])]:
        minutes = _split_minutes(total, weights)
        assert sum(minutes) == total and len(minutes) == len(weights) and min(minutes) >= 0


def test_negative_relevance_still_grounds_on_the_best_books():
    negative = [b.model_copy(update={"similarity": s}) for b, s in zip(BOOKS, (-0.05, -0.06, -0.3))]
    guidance = plan_guidance(1)
    prompt = render_prompt("courses.generate_parts", {
        "query": "Learn DCF valuation", "hours": 1, "target_minutes": 60,
        "summaries_context": format_book_summaries(negative), "parts_guidance": guidance.parts_guidance,
        "parts_count_guidance": guidance.parts_count_guidance})
    result = parse_parts_text(OfflinePlanner().complete(prompt).text)
    assert result.ok and result.value.total_minutes == 60
