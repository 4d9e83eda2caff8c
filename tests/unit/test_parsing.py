"""The parsers read arbitrary model text: every accepted form, and a clear message for the rest."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursegen.domain.parsing import (
    parse_duration,
    parse_outline_total_time,
    parse_parts_text,
    parse_text_outline_to_database,
)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("45 min", 45),
        ("45 minutes", 45),
        ("1h 30m", 90),
        ("1.5 hours", 90),
        ("90-minute", 90),
        ("2 hrs", 120),
        ("1 hour 15 minutes", 75),
        ("1,5 hours", 90),
        ("(25 mins)", 25),
    ],
)
def test_durations_in_every_form_a_model_writes(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["", "soon", "forty-five minutes", "99999 hours"])
def test_unreadable_or_absurd_durations_are_none(text):
    assert parse_duration(text) is None


PLAN = """Course title: **DCF Valuation in Practice**
**Part 1: Foundations of value** (30 minutes)
Covers: time value of money [fin-001]
## Part 2 — Forecasting free cash flow - 45 min
Part III: Discount rates and terminal value (1h)
Total: 135 minutes
"""


def test_parts_plan_with_markdown_dashes_and_roman_numerals():
    result = parse_parts_text(PLAN)
    assert result.ok, result.error
    plan = result.value
    assert plan.title == "DCF Valuation in Practice"
    assert [(p.index, p.title, p.minutes) for p in plan.parts] == [
        (0, "Foundations of value", 30),
        (1, "Forecasting free cash flow", 45),
        (2, "Discount rates and terminal value", 60),
    ]
    assert plan.parts[0].description == "time value of money [fin-001]"
    assert plan.total_minutes == 135


def test_parts_plan_falls_back_to_a_numbered_list():
    result = parse_parts_text("1. Basics (20 min)\n2. Practice (40 min)\n")
    assert [p.minutes for p in result.value.parts] == [20, 40]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("Here is a lovely course about valuation!", "No parts found"),
        ("Part 1: Basics\nPart 2: More (30 minutes)", "no duration"),
        ("Part 1: A (30 min)\nPart 1: B (30 min)", "repeat"),
    ],
)
def test_unusable_plans_say_what_is_wrong(text, message):
    result = parse_parts_text(text)
    assert not result.ok and result.value is None
    assert message in result.error


OUTLINE = """Course: DCF
## Part 1: Foundations (30 minutes)
### Section 1.1: Time value of money (15 minutes)
Objectives: Discount a cash flow; Compound a rate
Sources: [fin-001], [fin-002], [nope-999]
### Section 1.2: Cash flow statements (15 minutes)
## Part 2: WACC (45 minutes)
- 2.1 Cost of equity with CAPM (20 min)
- Cost of debt (25 minutes) [fin-002]
Total: 75 minutes
"""
REFS = {"FIN-001": "fin-001", "FIN-002": "fin-002"}


def test_outline_to_database_keeps_hierarchy_objectives_and_known_sources():
    result = parse_text_outline_to_database(OUTLINE, REFS)
    assert result.ok, result.error
    outline = result.value
    assert outline.title == "DCF"
    assert [[(s.title, s.minutes) for s in p.sections] for p in outline.parts] == [
        [("Time value of money", 15), ("Cash flow statements", 15)],
        [("Cost of equity with CAPM", 20), ("Cost of debt", 25)],
    ]
    first = outline.parts[0].sections[0]
    assert first.objectives == ["Discount a cash flow", "Compound a rate"]
    assert first.book_ids == ["fin-001", "fin-002"]  # the unknown citation is dropped, not invented
    assert outline.parts[1].sections[1].book_ids == ["fin-002"]
    assert outline.total_minutes == 75


def test_outline_part_without_sections_is_an_error():
    result = parse_text_outline_to_database("## Part 1: Lonely (30 minutes)\nJust prose.\n")
    assert not result.ok and "no timed sections" in result.error


def test_outline_warns_when_sections_disagree_with_the_part_header():
    text = "## Part 1: A (30 minutes)\n### Section 1.1: B (20 minutes)\n"
    assert "add up to 20" in parse_text_outline_to_database(text).warnings[0]


def test_total_time_strategy_one_the_explicit_total_line():
    total = parse_outline_total_time(OUTLINE).value
    assert (total.minutes, total.strategy) == (75, "total_line")


def test_total_time_strategy_two_the_sum_of_sections():
    text = OUTLINE.replace("Total: 75 minutes\n", "")
    assert parse_outline_total_time(text).value.strategy == "section_sum"
    assert parse_outline_total_time(text).value.minutes == 75


def test_total_time_strategy_three_the_sum_of_parts():
    text = "Part 1: A (30 minutes)\nPart 2: B (1.5 hours)\n"
    total = parse_outline_total_time(text).value
    assert (total.minutes, total.strategy) == (120, "part_sum")


def test_a_stated_total_that_contradicts_the_sections_loses_with_a_warning():
    result = parse_outline_total_time(OUTLINE.replace("Total: 75 minutes", "**Total time:** 2 hours"))
    assert result.value.minutes == 75 and result.value.strategy == "section_sum"
    assert "disagrees" in result.warnings[0]


def test_no_total_at_all_is_a_clear_error():
    result = parse_outline_total_time("Some thoughts about valuation.")
    assert not result.ok and "Could not read" in result.error


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_parsers_never_raise_on_arbitrary_text(text):
    for parse in (parse_parts_text, parse_text_outline_to_database, parse_outline_total_time):
        result = parse(text)
        assert result.ok or result.error
    parse_duration(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=30),
                          st.integers(min_value=5, max_value=300)), min_size=1, max_size=12))
def test_any_well_formed_plan_parses_back_exactly(parts):
    text = "\n".join(f"Part {i + 1}: {title} ({minutes} minutes)" for i, (title, minutes) in enumerate(parts))
    result = parse_parts_text(text)
    assert result.ok, result.error
    assert [p.minutes for p in result.value.parts] == [minutes for _, minutes in parts]


# --- what real models write (each case once parsed wrongly) --------------------------------------

@pytest.mark.parametrize(
    ("text", "minutes"),
    [("1h30m", 90), ("1,000 minutes", 1000), ("240 minutes (4 hours)", 240), ("45 min (3/4 hour)", 45)],
)
def test_one_duration_is_read_not_the_sum_of_its_restatements(text, minutes):
    assert parse_duration(text) == minutes


def sections(text: str, refs=None):
    result = parse_text_outline_to_database(text, refs or {})
    assert result.ok, result.error
    return [[(s.title, s.minutes) for s in p.sections] for p in result.value.parts]


def test_timed_activities_under_a_section_are_not_sections():
    text = ("## Part 1: Valuation (40 minutes)\n### Section 1.1: DCF basics (20 minutes)\n- Lecture: what a DCF is (10 min)\n"
            "- Worked example (10 min)\n#### 1.1.1 Detail (5 minutes)\n### Section 1.2: Multiples (20 minutes)\n"
            "- **Part total:** 40 minutes\n### Total time for Part 1: 40 minutes\n- Part 1 recap and quiz (20 minutes)\n")
    assert sections(text) == [[("DCF basics", 20), ("Multiples", 20)]]


def test_the_time_is_the_first_in_the_last_parentheses():
    text = "## Part 1: V (40 minutes)\n### Section 1.1: Case study (25 minutes, incl. 5 min discussion)\n### Section 1.2: Intro (1h30m)\n"
    assert sections(text) == [[("Case study", 25), ("Intro", 90)]]


def test_bold_labels_comma_citations_and_citations_before_the_time():
    text = ("## Part 1: V (40 minutes)\n### Section 1.1: DCF basics [fin-001] (20 minutes)\n**Objectives:** Explain DCF; Build one\n"
            "**Sources:** [fin-001, fin-003]\n")
    outline = parse_text_outline_to_database(text, {"FIN-001": "fin-001", "FIN-003": "fin-003"}).value
    section = outline.parts[0].sections[0]
    assert (section.title, section.objectives, section.book_ids) == ("DCF basics", ["Explain DCF", "Build one"], ["fin-001", "fin-003"])


def test_a_section_header_without_a_time_asks_for_a_repair():
    text = "## Part 1: V (40 minutes)\n### Section 1.1: A (20 minutes)\n### Section 1.2: Multiples\nSources: [fin-001]\n"
    result = parse_text_outline_to_database(text, {"FIN-001": "fin-001"})
    assert not result.ok and "['Multiples'] have no duration" in result.error


def test_plain_numbered_items_are_sections():
    assert sections("## Part 1: V (40 minutes)\n1. DCF basics (20 minutes)\n2. Multiples (20 minutes)\n") == [
        [("DCF basics", 20), ("Multiples", 20)]]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Part 1: Foundations (30 minutes)\nPart 1 sets up the vocabulary; Part 2 builds on it.\nPart 2: Methods (30 minutes)",
         [("Foundations", 30), ("Methods", 30)]),
        ("Part 2 of 4: Valuation (30 minutes)\nPart 1 of 4: Basics (20 minutes)", [("Basics", 20), ("Valuation", 30)]),
        ("**Part 1 (30 minutes): Foundations**\n**Part 2 (45 minutes): Methods**", [("Foundations", 30), ("Methods", 45)]),
        ("Part 1: A (30 minutes)\nPart 2: B (30 minutes)\n### Part 2: B\ndetails", [("A", 30), ("B", 30)]),
    ],
)
def test_part_headers_versus_prose_that_mentions_parts(text, parts):
    result = parse_parts_text(text)
    assert result.ok, result.error
    assert [(p.title, p.minutes) for p in result.value.parts] == parts
