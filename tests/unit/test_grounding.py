"""Grounding's pure part: the subject a query is searched by, and the refusal's one line."""

import pytest

from coursegen.domain.grounding import MAX_MESSAGE, course_subject, no_books_message

LIBRARY = ["finance", "accounting", "data-science", "software-engineering", "psychology", "marketing", "history", "culinary"]


@pytest.mark.parametrize(("query", "subject"), [
    ("Learn DCF valuation", "DCF valuation"),
    ("Learn to play the violin", "play the violin"),
    ("How to study effectively", "study effectively"),
    ("I want to learn how to cook", "cook"),
    ("Introduction to accounting", "accounting"),
    ("Gardening for beginners", "Gardening"),
    ("Teach me about pricing?", "pricing"),
    ("Bookkeeping basics: debits and credits", "Bookkeeping basics: debits and credits"),
    ("asdf qwer zxcv", "asdf qwer zxcv"),
    ("Learn the basics", "Learn the basics"),  # nothing but framing: searched as asked
])
def test_a_query_is_searched_by_its_subject_not_its_framing(query, subject):
    assert course_subject(query) == subject


def test_the_refusal_says_what_the_library_covers_and_how_to_add_books():
    message = no_books_message(LIBRARY)
    assert "The library covers: finance, accounting, data-science, software-engineering, psychology, marketing, history, culinary." in message
    assert "coursegen books import FILE.jsonl" in message and "books/ in the payload bucket" in message
    assert len(message) <= MAX_MESSAGE and "\n" not in message


def test_a_long_subject_list_is_cut_to_one_line_and_says_how_many_are_left_out():
    subjects = [f"subject number {n} with a rather long name" for n in range(30)]
    message = no_books_message(subjects)
    assert len(message) <= MAX_MESSAGE
    assert "subject number 0 with" in message and "more." in message


def test_an_empty_library_is_named_as_such():
    assert "The library is empty." in no_books_message([])
