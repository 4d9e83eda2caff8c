"""Outline approval's checks (issue 15, point 4): an edited outline is read by the workflow's own
parser and held to the 5% time budget; every refusal names the field and says what to change."""

import pytest

from coursegen.domain.context import format_course_outline
from coursegen.domain.outline_edit import (
    MAX_FEEDBACK_CHARS, MAX_OUTLINE_CHARS, MAX_REPLANS, check_outline_edit, check_outline_feedback,
)
from coursegen.domain.parsing import parse_text_outline_to_database
from coursegen.errors import DecisionInvalid

REFS = {"FIN-001": "fin-001", "FIN-002": "fin-002"}

EDITED = """Course: DCF valuation, edited

## Part 1: Foundations (30 minutes)
### Section 1.1: What a DCF answers (10 minutes)
Objectives: Explain what a DCF values; Name its inputs
Sources: [fin-001]
### Section 1.2: Free cash flow (20 minutes)
Sources: [fin-001], [fin-002]

## Part 2: Discount rates (90 minutes)
### Section 2.1: WACC (45 minutes)
Sources: [fin-002]
### Section 2.2: Terminal value [fin-002] (45 minutes)

Total: 120 minutes
"""


def refusal(text: str, target: int = 120, refs=REFS) -> str:
    with pytest.raises(DecisionInvalid) as raised:
        check_outline_edit(text, target, refs, "DCF valuation")
    assert raised.value.field == "outline"
    return raised.value.reason


def test_an_edit_within_the_budget_is_taken_with_its_sections_and_books():
    outline = check_outline_edit(EDITED, 120, REFS, "DCF valuation")
    assert outline.title == "DCF valuation, edited"
    assert [p.title for p in outline.parts] == ["Foundations", "Discount rates"]
    assert [(s.title, s.minutes) for p in outline.parts for s in p.sections] == [
        ("What a DCF answers", 10), ("Free cash flow", 20), ("WACC", 45), ("Terminal value", 45)]
    assert [s.book_ids for p in outline.parts for s in p.sections] == [["fin-001"], ["fin-001", "fin-002"], ["fin-002"], ["fin-002"]]
    assert outline.parts[0].sections[0].objectives == ["Explain what a DCF values", "Name its inputs"]
    # what is stored reads back as it is (stored_outline parses the state's text with the same parser)
    again = parse_text_outline_to_database(format_course_outline(outline), REFS).value
    assert again == outline


def test_the_budget_is_the_same_five_percent_either_way():
    low = EDITED.replace("WACC (45 minutes)", "WACC (39 minutes)").replace("Total: 120", "Total: 114")  # the edge is inside
    assert check_outline_edit(low, 120, REFS).total_minutes == 114
    high = EDITED.replace("WACC (45 minutes)", "WACC (51 minutes)").replace("Total: 120 minutes", "")  # 126
    assert check_outline_edit(high, 120, REFS).total_minutes == 126


def test_under_the_budget_says_by_how_much_and_what_it_allows():
    text = EDITED.replace("WACC (45 minutes)", "WACC (20 minutes)").replace("Total: 120 minutes", "")
    assert refusal(text) == "the sections add up to 95 min, 21 % under the requested 120 min; the budget allows 114-126 min"


def test_over_the_budget_too():
    text = EDITED.replace("WACC (45 minutes)", "WACC (53 minutes)").replace("Total: 120 minutes", "")
    assert refusal(text) == "the sections add up to 128 min, 6.7 % over the requested 120 min; the budget allows 114-126 min"


def test_part_headers_are_taken_from_their_sections():
    text = EDITED.replace("Part 2: Discount rates (90 minutes)", "Part 2: Discount rates (60 minutes)")
    assert [p.minutes for p in check_outline_edit(text, 120, REFS).parts] == [30, 90]


def test_a_total_line_that_disagrees_with_the_sections_is_refused():
    reason = refusal(EDITED.replace("Total: 120 minutes", "Total: 180 minutes"))
    assert reason.startswith("the stated total (180 min) disagrees with the sections (120 min): correct the 'Total:' line")


@pytest.mark.parametrize("text", ["", "   \n\t\n"])
def test_an_empty_edit_is_refused(text):
    assert refusal(text).startswith("the edited outline is empty")


def test_an_edit_over_200000_characters_is_refused():
    text = EDITED + "\n" + "x" * (MAX_OUTLINE_CHARS - len(EDITED))
    assert MAX_OUTLINE_CHARS == 200_000
    assert "200,000" in refusal(text) and "200,001 characters" in refusal(text)


def test_a_control_character_is_refused_by_line():
    reason = refusal(EDITED.replace("Free cash flow", "Free cash\x00 flow"))
    assert reason.startswith("line 7 holds a control character (U+0000)")
    assert check_outline_edit(EDITED.replace("\n", "\r\n").replace("WACC", "WACC\t"), 120, REFS)  # tabs and CRLF are text


def test_no_parts_is_refused_with_the_parsers_reason():
    reason = refusal("### Section 1.1: Free cash flow (120 minutes)\n")
    assert reason.startswith("the edited outline cannot be read: No parts found")


def test_a_part_without_timed_sections_is_refused():
    text = EDITED.replace("### Section 2.1: WACC (45 minutes)", "WACC is covered here").replace(
        "### Section 2.2: Terminal value [fin-002] (45 minutes)", "")
    assert "Part(s) [2] have no timed sections" in refusal(text)


def test_an_untimed_section_is_refused():
    assert "have no duration" in refusal(EDITED.replace("WACC (45 minutes)", "WACC"))


def test_a_book_the_course_did_not_find_is_refused_not_dropped():
    reason = refusal(EDITED.replace("Sources: [fin-002]\n", "Sources: [fin-002], [fin-999]\n"))
    assert reason == "it cites [fin-999], not among the course's books (fin-001, fin-002): cite only those, or drop the citation"
    assert "[mkt-042]" in refusal(EDITED.replace("Terminal value [fin-002]", "Terminal value [mkt-042]"))


def test_brackets_that_are_no_citation_are_text():
    outline = check_outline_edit(EDITED.replace("WACC (45", "WACC [optional] (45"), 120, REFS)
    assert outline.parts[1].sections[0].title == "WACC"


def test_feedback_is_stripped_and_bounded():
    assert check_outline_feedback("  More on terminal value.  ") == "More on terminal value."
    for bad, why in [("", "needs feedback"), ("  ", "needs feedback"), ("x" * (MAX_FEEDBACK_CHARS + 1), "at most 4,000"),
                     ("more\x07please", "control character (U+0007)")]:
        with pytest.raises(DecisionInvalid, match="feedback") as raised:
            check_outline_feedback(bad)
        assert raised.value.field == "feedback" and why in raised.value.reason
    with pytest.raises(DecisionInvalid, match=f"re-planned {MAX_REPLANS} times already"):
        check_outline_feedback("again", earlier=MAX_REPLANS)


def test_a_replans_parts_are_keyed_apart_from_the_plan_before_even_when_it_comes_out_the_same():
    from coursegen.models import CourseState
    from coursegen.services.outline import part_key

    plan = [{"index": 0, "title": "A", "minutes": 20}]
    first = CourseState(session_id="c", request_fingerprint="f" * 64, parts_list=plan)
    replanned = first.model_copy(update={"outline_feedback": ["more on A"]})
    again = first.model_copy(update={"outline_feedback": ["more on A", "and on B"]})
    assert len({part_key(first, 0), part_key(replanned, 0), part_key(again, 0)}) == 3
    assert part_key(first, 0) == part_key(CourseState(session_id="c", request_fingerprint="f" * 64, parts_list=plan), 0)


def test_a_courses_edit_is_checked_against_its_own_target_books_and_title():
    from coursegen.domain.context import book_summaries_json
    from coursegen.domain.outline_edit import check_course_outline_edit
    from coursegen.models import CourseState, FoundBook

    books = [FoundBook(book_id=book_id, title=f"Book {book_id}", summary="A book about valuation, in some detail.",
                       similarity=0.5) for book_id in ("fin-001", "fin-002")]
    state = CourseState(session_id="c", pending_course_query="Learn DCF valuation", pending_course_hours=2,
                        book_summaries_json=book_summaries_json(books))
    assert check_course_outline_edit(EDITED.replace("Course: DCF valuation, edited\n", ""), state).title == "Learn DCF valuation"
    with pytest.raises(DecisionInvalid, match=r"not among the course's books \(fin-001\)"):
        check_course_outline_edit(EDITED, state.model_copy(update={"book_summaries_json": book_summaries_json(books[:1])}))
    with pytest.raises(DecisionInvalid, match="requested 180 min"):
        check_course_outline_edit(EDITED.replace("Total: 120 minutes", ""), state.model_copy(update={"pending_course_hours": 3}))
