"""Small-cell suppression, checked against an outsider who tries every possible value."""

from __future__ import annotations

import itertools
import random

import pytest

from portal.suppression import (
    Cell,
    Counts,
    Interval,
    Mark,
    exactly,
    protect_line,
    protect_period,
    protect_single,
)

K = 5
GROUPS = {"category": "reports", "month": "reports"}


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


def test_a_single_figure_needs_k_reports_and_its_parts():
    assert protect_single(4, [], k=K).mark is Mark.SMALL
    assert protect_single(0, [], k=K).mark is Mark.SHOWN
    assert protect_single(12, [], k=K).mark is Mark.SHOWN
    # 12 = 9 shown + one hidden month of 1..4: publishing 12 gives the month away.
    assert protect_single(12, [exactly(9), Interval(1, 4)], k=K).mark is Mark.HIDDEN
    # Two hidden months: their sum (7) is known but neither is (3 + 4 or 4 + 3).
    assert protect_single(16, [exactly(9), Interval(1, 4), Interval(1, 4)], k=K).mark is Mark.SHOWN
    # ... unless the sum pins both down: 8 can only be 4 + 4.
    assert protect_single(17, [exactly(9), Interval(1, 4), Interval(1, 4)], k=K).mark is Mark.HIDDEN


def _months(*tables: dict[str, int]) -> list:
    return [
        protect_period(
            Counts({"category": table, "month": {f"m{i}": sum(table.values())}}, {}),
            k=K,
            groups=GROUPS,
        )
        for i, table in enumerate(tables)
    ]


def test_a_quarter_does_not_give_a_month_away():
    months = _months({"calo": 4, "pungli": 9}, {"calo": 5, "pungli": 7}, {"pungli": 8})
    # Hidden in the first month: calo < 5 and pungli x.
    assert months[0].tables["category"]["calo"].mark is Mark.SMALL
    assert months[0].tables["category"]["pungli"].mark is Mark.HIDDEN
    merged = {"calo": 9, "pungli": 24}
    quarter = protect_period(
        Counts(
            {
                "category": merged,
                "month": {
                    f"m{i}": sum(t.values())
                    for i, t in enumerate(
                        [{"calo": 4, "pungli": 9}, {"calo": 5, "pungli": 7}, {"pungli": 8}]
                    )
                },
            },
            {},
        ),
        k=K,
        groups=GROUPS,
        parts=months,
    )
    # Showing calo = 9 would give away the first month's calo (9 - 5 = 4).
    calo = quarter.tables["category"]["calo"]
    assert not calo.shown
    pungli = quarter.tables["category"]["pungli"]
    assert not pungli.shown  # else calo = total - pungli
    assert quarter.totals["reports"].shown


def test_a_shown_quarter_keeps_months_uncertain():
    rng = random.Random(11)
    for _ in range(60):
        tables = [
            {key: rng.choice([0, 1, 3, 5, 6, 8]) for key in ("a", "b", "c")} for _ in range(3)
        ]
        months = _months(*tables)
        merged = {key: sum(t[key] for t in tables) for key in ("a", "b", "c")}
        month_totals = {f"m{i}": sum(t.values()) for i, t in enumerate(tables)}
        quarter = protect_period(
            Counts({"category": merged, "month": month_totals}, {}),
            k=K,
            groups=GROUPS,
            parts=months,
        )
        for key, cell in quarter.tables["category"].items():
            if not cell.shown:
                continue
            # The quarter's count minus the months' shown counts: never one small month.
            hidden = [
                m.tables["category"][key]
                for m in months
                if key in m.tables["category"] and not m.tables["category"][key].shown
            ]
            remainder = cell.value - sum(
                m.tables["category"][key].value
                for m in months
                if key in m.tables["category"] and m.tables["category"][key].shown
            )
            assert remainder == 0 or remainder >= K, (tables, key)
            assert remainder == 0 or len(hidden) >= 2 or hidden[0].value >= K, (tables, key)


def test_cells_know_what_they_reveal():
    line = protect_line([3, 10, 12], k=K)
    small, hidden, shown = line.cells
    assert isinstance(small, Cell)
    assert small.known == Interval(1, 4)
    assert hidden.known.lo >= K and not hidden.known.exact
    assert shown.known == exactly(12)
