"""The time budget an IngestBooks invocation imports under: it stops before a batch that might
not end before Lambda's timeout, judged by the slowest batch so far plus the time kept for the
report."""

from coursegen.services import library
from coursegen.services.library import TimeBudget


def test_a_batch_starts_only_while_the_slowest_batch_so_far_and_the_reserve_still_fit(monkeypatch):
    clock = iter([0.0, 40.0, 50.0, 60.0])  # batches of 40 s, then 10 s, then 10 s
    monkeypatch.setattr(library.time, "monotonic", lambda: next(clock))
    left = iter([500.0, 100.0, 80.0, 69.0])
    budget = TimeBudget(lambda: next(left), reserve=30)
    assert budget() is False  # first batch: 500 s left, nothing measured yet
    assert budget() is False and budget.slowest == 40  # 100 s >= 40 + 30
    assert budget() is False and budget.slowest == 40  # 80 s >= 70: a faster batch does not lower it
    assert budget() is True  # 69 s < 70


def test_without_time_for_the_report_not_even_the_first_batch_starts():
    assert TimeBudget(lambda: 29.0, reserve=30)() is True
