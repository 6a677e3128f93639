"""Small-cell suppression, checked against an outsider who tries every possible value."""

from __future__ import annotations

import itertools
import random

import pytest

from portal.suppression import (
    NO_FLOORS,
    Cell,
    Counts,
    Floors,
    Interval,
    Mark,
    exactly,
    narrows,
    protect_line,
    protect_table,
)

K = 5


def possible_values(values: list[int], marks: list[Mark], total_shown: bool, k: int) -> list[set]:
    """Every value each hidden cell could have, given only what is published.

    Brute force, independent of the interval arithmetic under test: a small cell is
    1..k-1, a hidden one at least k; the cells add up to the total when it is shown.
    """
    total = sum(values)
    hidden = [index for index, mark in enumerate(marks) if mark is not Mark.SHOWN]
    shown_sum = sum(value for value, mark in zip(values, marks, strict=True) if mark is Mark.SHOWN)
    ranges = [
        range(1, k) if marks[index] is Mark.SMALL else range(k, max(total, k) + 1)
        for index in hidden
    ]
    seen: list[set] = [set() for _ in hidden]
    for guess in itertools.product(*ranges):
        if total_shown and shown_sum + sum(guess) != total:
            continue
        for position, value in enumerate(guess):
            seen[position].add(value)
    return seen


def assert_protected(values: list[int], k: int = K) -> None:
    line = protect_line(values, k=k)
    marks = [cell.mark for cell in line.cells]
    for value, mark in zip(values, marks, strict=True):
        if 0 < value < k:
            assert mark is Mark.SMALL, (values, marks)
        if value == 0:
            assert mark is Mark.SHOWN, (values, marks)
        if mark is Mark.HIDDEN:
            assert value >= k
    total_shown = line.total.shown
    shown_sum = sum(v for v, m in zip(values, marks, strict=True) if m is Mark.SHOWN)
    hidden = [m for m in marks if m is not Mark.SHOWN]
    if total_shown and hidden:
        # The rule: what the shown cells leave unexplained is never one cell,
        # and never fewer than k reports.
        assert len(hidden) >= 2, (values, marks)
        assert sum(values) - shown_sum >= k, (values, marks)
    for options in possible_values(values, marks, total_shown, k):
        assert len(options) >= 2, (values, marks, options)


@pytest.mark.parametrize(
    "values",
    [
        [3, 10, 12],
        [4, 5, 5],
        [4, 5, 5, 5],
        [1, 1, 20],
        [1, 1, 1, 1, 1, 30],
        [2, 0, 0],
        [3, 0, 7],
        [6, 7, 8],
        [0, 0, 0],
        [4, 9],
        [2, 2, 2, 9],
    ],
)
def test_no_hidden_cell_can_be_worked_out(values):
    assert_protected(values)


def test_random_breakdowns_are_protected():
    rng = random.Random(5)
    for _ in range(300):
        size = rng.randint(1, 5)
        values = [rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 7, 9, 12]) for _ in range(size)]
        assert_protected(values)


def test_display_is_the_same_mark_everywhere():
    line = protect_line([4, 9, 11], k=K)
    assert [cell.display(K) for cell in line.cells] == ["< 5", "x", "11"]
    assert line.total.display(K) == "24"
    assert protect_line([4], k=K).total.display(K) == "< 5"


def test_a_tie_with_the_hidden_cell_is_hidden_too():
    # Shown 5 beside a hidden 5: whoever knows that the smallest cell is hidden first
    # would know the hidden one is exactly 5, and so the small one exactly 4.
    line = protect_line([4, 5, 5], k=K)
    assert [cell.mark for cell in line.cells] == [Mark.SMALL, Mark.HIDDEN, Mark.HIDDEN]


def test_a_value_published_elsewhere_is_no_help():
    # The 9 is known exactly from another table, so hiding it protects nothing:
    # the 12 is hidden instead.
    line = protect_line([3, 9, 12], k=K, priors=[Interval(0), exactly(9), Interval(0)])
    assert [cell.mark for cell in line.cells] == [Mark.SMALL, Mark.SHOWN, Mark.HIDDEN]


def residual_options(
    values: list[int], floors: list[int], marks: list[Mark], total_shown: bool, k: int
) -> list[set[int]]:
    """Every number of *unpublished* reports each cell could hold, given the display and
    the published cases (at least `floor` reports each); brute force, as an outsider would.

    A hidden "x" is at least k and, unless cases sit in it, at most the smallest shown cell.
    """
    total = sum(values)
    shown = [v for v, m in zip(values, marks, strict=True) if m is Mark.SHOWN and v]
    smallest = min(shown) if shown else max(total, k) + k  # unbounded: enough to see two
    ranges = []
    for value, floor, mark in zip(values, floors, marks, strict=True):
        if mark is Mark.SHOWN:
            ranges.append(range(value, value + 1))
        elif mark is Mark.SMALL:
            ranges.append(range(max(1, floor), k))
        else:
            top = max(smallest, floor + k - 1) if floor else smallest
            ranges.append(range(max(k, floor), max(top, k) + 1))
    seen: list[set[int]] = [set() for _ in values]
    for guess in itertools.product(*ranges):
        if total_shown and sum(guess) != total:
            continue
        for index, value in enumerate(guess):
            seen[index].add(value - floors[index])
    return seen


@pytest.mark.parametrize(
    ("values", "floors"),
    [
        ([6, 9, 12], [2, 0, 0]),  # 6 shown beside 2 cases: 4 others, exactly
        ([8, 4, 12], [7, 0, 0]),  # 8 as x (5..8) and 4 small: cases pin the x at 8
        ([4, 4, 20], [4, 0, 0]),  # all four in the first cell are published: nobody else
        ([9, 5, 3, 10], [1, 2, 0, 3]),
        ([7, 7, 7], [3, 3, 3]),
    ],
)
def test_published_cases_never_narrow_the_other_reports_below_k(values, floors):
    check_with_cases(values, floors)


def check_with_cases(values: list[int], floors: list[int]) -> None:
    line = protect_line(values, k=K, floors=floors)
    marks = [cell.mark for cell in line.cells]
    options = residual_options(values, floors, marks, line.total.shown, K)
    for value, floor, mark, possible in zip(values, floors, marks, options, strict=True):
        others = value - floor
        if mark is Mark.SHOWN:
            assert others == 0 or others >= K, (values, floors, marks)
        elif others:
            assert len(possible) >= 2, (values, floors, marks, possible)
    hidden = [v - f for v, f, m in zip(values, floors, marks, strict=True) if m is not Mark.SHOWN]
    if line.total.shown:
        assert sum(hidden) == 0 or sum(hidden) >= K, (values, floors, marks)


def test_random_breakdowns_with_cases_are_protected():
    rng = random.Random(7)
    for _ in range(300):
        size = rng.randint(1, 4)
        values = [rng.choice([0, 1, 2, 4, 5, 6, 7, 9, 12]) for _ in range(size)]
        floors = [rng.randint(0, value) if rng.random() < 0.5 else 0 for value in values]
        check_with_cases(values, floors)


def test_a_frozen_table_refuses_a_case_that_would_narrow_it():
    counts = Counts({"unit": {"a": 9, "b": 8, "c": 20}}, {})
    groups = {"unit": "reports"}
    # Frozen with no case: everything shown.
    assert protect_table(counts, k=K, groups=groups).tables["unit"]["b"].shown
    # Then cases appear: 3 in b leave 5 others (fine), 4 would leave 4 (refused).
    three = Floors({"unit": {"b": 3}}, {"reports": 3})
    four = Floors({"unit": {"b": 4}}, {"reports": 4})
    assert not narrows(counts, k=K, groups=groups, frozen=NO_FLOORS, seen=three)
    assert narrows(counts, k=K, groups=groups, frozen=NO_FLOORS, seen=four)
    # A table frozen with those 4 cases hides b instead, and stays safe with them.
    frozen = protect_table(counts, k=K, groups=groups, floors=four)
    assert not frozen.tables["unit"]["b"].shown
    assert not narrows(counts, k=K, groups=groups, frozen=four, seen=four)
    # The quarter's total too: 37 reports, 33 of them published, leaves 4 others.
    many = Floors({"unit": {"a": 9, "b": 4, "c": 20}}, {"reports": 33})
    assert narrows(counts, k=K, groups=groups, frozen=NO_FLOORS, seen=many)
    withheld = protect_table(counts, k=K, groups=groups, floors=many)
    assert "reports" in withheld.withheld and withheld.totals["reports"].display(K) == "x"


def test_cells_know_what_they_reveal():
    line = protect_line([3, 10, 12], k=K)
    small, hidden, shown = line.cells
    assert isinstance(small, Cell)
    assert small.known == Interval(1, 4)
    assert hidden.known.lo >= K and not hidden.known.exact
    assert shown.known == exactly(12)
