"""Small-cell suppression for the public statistics: pure functions, no database, no Flask.

A published count of 1 to k-1 reports could point at a person, so it is shown as "< k"
(a *small* cell). Hiding it is not enough when a total is shown beside it: the total minus
the cells shown would give it back. So more cells are *hidden* ("x"; each holds k or more
reports) until no hidden number can be worked out. "Worked out" is checked the way an
outsider would do it, with interval arithmetic: every hidden number lies in a known range
(a small cell in 1..k-1, a hidden one at least k, and whatever other published tables
imply), the numbers of a breakdown add up to its total, and a number is given away when
its range narrows to a single value. The same test guards the remainder: when a total is
shown, what the shown cells leave unexplained must be 0 or at least k reports.

Periods overlap (a quarter is three months, a year four quarters), so one period's figures
are also checked against the figures already published for its parts: a quarter's count
that would give away a month's hidden count by subtraction is hidden too.

Zero is always shown: "no report" points at nobody.

One module on purpose: the interval arithmetic, the cell marks and the leak checks are one
rule, and reading them together is how a reviewer convinces themselves nothing narrows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Mark(StrEnum):
    """How one published number appears."""

    SHOWN = "shown"
    SMALL = "small"  # 1..k-1 reports: shown as "< k"
    HIDDEN = "hidden"  # k or more, hidden so that a small number cannot be worked out: "x"


@dataclass(frozen=True)
class Interval:
    """What an outsider can know about a number: lo <= value <= hi (hi None: no upper bound)."""

    lo: int
    hi: int | None = None

    @property
    def exact(self) -> bool:
        """Whether the number is known exactly."""
        return self.hi is not None and self.lo == self.hi

    def meet(self, other: Interval) -> Interval:
        """What is known from both intervals at once."""
        if self.hi is None:
            hi = other.hi
        elif other.hi is None:
            hi = self.hi
        else:
            hi = min(self.hi, other.hi)
        return Interval(max(self.lo, other.lo), hi)


UNKNOWN = Interval(0, None)


def exactly(value: int) -> Interval:
    """A number that is published (or implied) exactly."""
    return Interval(value, value)


@dataclass(frozen=True)
class Cell:
    """One protected number: its true value, how it is shown, and what can be deduced of it."""

    value: int
    mark: Mark
    known: Interval

    @property
    def shown(self) -> bool:
        """Whether the number itself is published."""
        return self.mark is Mark.SHOWN

    def display(self, k: int) -> str:
        """The text every format (HTML, CSV, JSON) shows: the number, "< k" or "x"."""
        if self.mark is Mark.SMALL:
            return f"< {k}"
        if self.mark is Mark.HIDDEN:
            return "x"
        return str(self.value)


@dataclass(frozen=True)
class Line:
    """A protected one-way breakdown: its cells and its total."""

    cells: tuple[Cell, ...]
    total: Cell


def _add(a: int | None, b: int | None) -> int | None:
    """Sum of upper bounds, None meaning unbounded."""
    return None if a is None or b is None else a + b


def _feasible(
    shown: int, hidden: Sequence[Interval], total: Interval
) -> tuple[list[Interval], Interval]:
    """Narrow each hidden number and the total by the equation shown + sum(hidden) = total.

    With one linear equation and a range per unknown, each unknown's feasible values are
    exactly the interval computed here (the others can absorb any value inside it).
    """
    low_sum = sum(part.lo for part in hidden)
    unbounded = sum(1 for part in hidden if part.hi is None)
    high_finite = sum(part.hi for part in hidden if part.hi is not None)
    narrowed = []
    for part in hidden:
        others_low = low_sum - part.lo
        others_unbounded = unbounded - (1 if part.hi is None else 0)
        others_high = None if others_unbounded else high_finite - (part.hi or 0)
        lo = part.lo
        if others_high is not None:
            lo = max(lo, total.lo - shown - others_high)
        hi = part.hi
        if total.hi is not None:
            limit = total.hi - shown - others_low
            hi = limit if hi is None else min(hi, limit)
        narrowed.append(Interval(lo, hi))
    high_sum = None if unbounded else high_finite
    total_hi = total.hi if high_sum is None else _min(total.hi, shown + high_sum)
    return narrowed, Interval(max(total.lo, shown + low_sum), total_hi)


def _min(a: int | None, b: int) -> int:
    """The smaller of a bound and a number (None: unbounded)."""
    return b if a is None else min(a, b)


def _display_range(mark: Mark, k: int, upper: int | None = None) -> Interval:
    """What the way a number is shown tells about it."""
    if mark is Mark.SMALL:
        return Interval(1, k - 1)
    return Interval(k, upper)


@dataclass
class _State:
    """Working state of one breakdown while it is being protected.

    `floors` are what published cases already show of each cell (at least that many
    reports), `total_floor` of the total: the numbers to protect are what lies above them
    (the reports nobody published), which must never be known as 1..k-1.
    """

    values: list[int]
    priors: list[Interval]
    total_prior: Interval
    k: int
    marks: list[Mark]
    total_mark: Mark
    floors: list[int] = field(default_factory=list)
    total_floor: int = 0

    def __post_init__(self) -> None:
        """No floors given: nothing is published of any cell elsewhere."""
        if not self.floors:
            self.floors = [0] * len(self.values)

    @property
    def total(self) -> int:
        """The breakdown's total."""
        return sum(self.values)

    def candidates(self) -> list[int]:
        """Shown, non-zero cells that nothing else publishes exactly: hiding them helps."""
        return [
            index
            for index, value in enumerate(self.values)
            if value > 0 and self.marks[index] is Mark.SHOWN and not self.priors[index].exact
        ]

    def knowledge(self) -> tuple[list[Interval], Interval]:
        """What an outsider can deduce of every cell and of the total, as things stand."""
        # Hidden cells are chosen smallest first among the candidates, so an outsider who
        # knows the rule knows each is at most the smallest candidate still shown; a cell
        # with published cases in it may instead be hidden for its few other reports
        # (floor + 1 .. floor + k - 1), so its bound is the larger of the two.
        remaining = [self.values[index] for index in self.candidates()]
        upper = min(remaining) if remaining else None
        hidden = [index for index, mark in enumerate(self.marks) if mark is not Mark.SHOWN]
        ranges = []
        for index in hidden:
            bound = upper
            if bound is not None and self.floors[index]:
                bound = max(bound, self.floors[index] + self.k - 1)
            ranges.append(_display_range(self.marks[index], self.k, bound).meet(self.priors[index]))
        if self.total_mark is Mark.SHOWN:
            total = exactly(self.total)
        else:
            total = _display_range(self.total_mark, self.k).meet(self.total_prior)
        narrowed, total_known = _feasible(self._shown_sum(), ranges, total)
        known = [exactly(value) for value in self.values]
        for index, interval in zip(hidden, narrowed, strict=True):
            known[index] = interval
        return known, total_known

    def _shown_sum(self) -> int:
        """The sum of the cells published as numbers."""
        return sum(
            value for value, mark in zip(self.values, self.marks, strict=True) if mark is Mark.SHOWN
        )

    def _given_away(self, interval: Interval, value: int, prior: Interval, floor: int) -> bool:
        """Whether a suppressed number is worked out: exact, and not public or all cases."""
        return interval.exact and not prior.exact and value != floor

    def cells_leak(self) -> bool:
        """Whether a suppressed cell can be worked out, or a shown one has few others."""
        known, _ = self.knowledge()
        for index, mark in enumerate(self.marks):
            if mark is Mark.SHOWN:
                if 0 < self.values[index] - self.floors[index] < self.k:
                    return True
            elif self._given_away(
                known[index], self.values[index], self.priors[index], self.floors[index]
            ):
                return True
        return False

    def leaks(self) -> bool:
        """Whether anything suppressed (a cell, the total, the remainder) can be worked out."""
        if self.cells_leak():
            return True
        if self.total_mark is not Mark.SHOWN:
            _, total_known = self.knowledge()
            return self._given_away(total_known, self.total, self.total_prior, self.total_floor)
        # What the shown cells leave unexplained, less what cases show of the hidden ones.
        remainder = self.total - self._shown_sum()
        remainder -= sum(
            floor
            for floor, mark in zip(self.floors, self.marks, strict=True)
            if mark is not Mark.SHOWN
        )
        return 0 < remainder < self.k

    def own_total(self) -> Interval:
        """What the breakdown alone (and the cases) tells about its hidden total."""
        prior, self.total_prior = self.total_prior, Interval(self.total_floor)
        try:
            return self.knowledge()[1]
        finally:
            self.total_prior = prior


def _protect_state(
    values: Sequence[int],
    *,
    k: int,
    priors: Sequence[Interval] | None = None,
    total_prior: Interval = UNKNOWN,
    floors: Sequence[int] = (),
    total_floor: int = 0,
    hide_total: bool = False,
) -> _State:
    """The working state of one breakdown once protected (see protect_line)."""
    count = len(values)
    floors = list(floors) or [0] * count
    state = _State(
        values=list(values),
        priors=(
            list(priors)
            if priors is not None
            else [Interval(floor) if floor else UNKNOWN for floor in floors]
        ),
        total_prior=total_prior.meet(Interval(total_floor)),
        k=k,
        marks=[
            # Few reports, or few beside the published cases: never a number.
            Mark.SMALL if 0 < value < k else Mark.HIDDEN if 0 < value - floor < k else Mark.SHOWN
            for value, floor in zip(values, floors, strict=True)
        ],
        total_mark=Mark.SHOWN,
        floors=floors,
        total_floor=total_floor,
    )
    total = state.total
    if 0 < total < k:
        state.total_mark = Mark.SMALL
    elif hide_total and total > 0:
        state.total_mark = Mark.HIDDEN
    while state.leaks():
        candidates = state.candidates()
        if candidates:
            chosen = min(candidates, key=lambda index: (state.values[index], index))
            state.marks[chosen] = Mark.HIDDEN
        elif state.total_mark is Mark.SHOWN and total > 0 and not state.total_prior.exact:
            state.total_mark = Mark.HIDDEN
        else:
            _hide_all(state)
            break
    return state


def _hide_all(state: _State) -> None:
    """Hide every non-zero number: the fallback when nothing else helps (never a leak)."""
    state.marks = [
        mark if value == 0 or mark is not Mark.SHOWN else Mark.HIDDEN
        for value, mark in zip(state.values, state.marks, strict=True)
    ]
    if state.total_mark is Mark.SHOWN and state.total > 0:
        state.total_mark = Mark.HIDDEN


def _line(state: _State) -> Line:
    """The published cells of a protected breakdown, with what can be deduced of each."""
    known, total_known = state.knowledge()
    cells = tuple(
        Cell(value, mark, interval)
        for value, mark, interval in zip(state.values, state.marks, known, strict=True)
    )
    return Line(cells, Cell(state.total, state.total_mark, total_known))


def protect_line(
    values: Sequence[int],
    *,
    k: int,
    priors: Sequence[Interval] | None = None,
    floors: Sequence[int] = (),
    hide_total: bool = False,
) -> Line:
    """Protect one breakdown whose total (the sum of `values`) is published with it.

    `priors` say what other tables already tell about each cell (default: nothing);
    `floors` how many reports of each cell published cases show; `hide_total` hides the
    total. Cells of 1..k-1 become small, cells with 1..k-1 reports beside their cases
    hidden; then the smallest shown cells are hidden one by one until nothing hidden can
    be worked out; the total goes last.
    """
    return _line(_protect_state(values, k=k, priors=priors, floors=floors, hide_total=hide_total))


@dataclass(frozen=True)
class Counts:
    """The raw figures of one period before protection.

    `tables`: breakdown name -> key -> reports; `singles`: figures published alone
    (each the number of reports a median, sum or share is computed over).
    """

    tables: Mapping[str, Mapping[str, int]]
    singles: Mapping[str, int]


@dataclass(frozen=True)
class Floors:
    """What published cases show of one period: at least this many reports per cell.

    `tables`: breakdown name -> key -> cases; `totals`: group -> cases in the period.
    """

    tables: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    totals: Mapping[str, int] = field(default_factory=dict)

    def cell(self, table: str, key: str) -> int:
        """The cases counted in one cell."""
        return self.tables.get(table, {}).get(key, 0)


NO_FLOORS = Floors()


@dataclass(frozen=True)
class Protected:
    """The protected figures of one period, as published."""

    tables: dict[str, dict[str, Cell]]
    totals: dict[str, Cell]
    singles: dict[str, Cell]
    # Groups whose breakdowns are not published at all (too few reports to split).
    withheld: frozenset[str] = frozenset()


def _protect_group(states: list[_State]) -> bool:
    """Protect breakdowns that share one total (each a partition of the same reports).

    With the total shown, the breakdowns are independent: each is protected alone. When one
    of them can only be protected by hiding the total, the total is hidden in all, and what
    every breakdown tells about it is put together (as an outsider would): while a hidden
    cell can still be worked out from that, the breakdown that pins the total hardest hides
    its smallest shown cell. Changes `states` in place; returns whether the whole group is
    withheld (nothing left to hide; never seen in practice, but a leak is never the fallback).
    """
    if all(state.total_mark is not Mark.HIDDEN for state in states):
        return False
    for index, state in enumerate(states):
        states[index] = _protect_state(
            state.values,
            k=state.k,
            floors=state.floors,
            total_floor=state.total_floor,
            hide_total=True,
        )
    while True:
        _share_total(states)
        if not any(state.cells_leak() for state in states):
            return False
        widenable = [state for state in states if state.candidates()]
        if not widenable:
            return True
        narrowest = min(widenable, key=lambda state: _width(state.own_total()))
        chosen = min(narrowest.candidates(), key=lambda index: (narrowest.values[index], index))
        narrowest.marks[chosen] = Mark.HIDDEN


def _share_total(states: Sequence[_State]) -> None:
    """Give every breakdown of a group what all of them together tell about the total."""
    known = Interval(states[0].k)
    for state in states:
        known = known.meet(state.own_total())
    for state in states:
        state.total_prior = known


def _width(interval: Interval) -> float:
    """How wide an interval is (unbounded: infinite)."""
    return float("inf") if interval.hi is None else interval.hi - interval.lo


@dataclass
class _Group:
    """One group's protected breakdowns (working state), before it is published."""

    names: list[str]
    keys: dict[str, list[str]]
    states: list[_State]
    withheld: bool


def _protect_groups(
    counts: Counts, *, k: int, groups: Mapping[str, str], floors: Floors
) -> dict[str, _Group]:
    """Every group of a period protected: its breakdowns' states, keyed by group."""
    result: dict[str, _Group] = {}
    for group in sorted(set(groups.values())):
        names = [name for name in counts.tables if groups[name] == group]
        if not names:
            continue
        keys = {name: sorted(counts.tables[name]) for name in names}
        total = sum(counts.tables[names[0]].values())
        total_floor = floors.totals.get(group, 0)
        states = [
            _protect_state(
                [counts.tables[name][key] for key in keys[name]],
                k=k,
                floors=[floors.cell(name, key) for key in keys[name]],
                total_floor=total_floor,
            )
            for name in names
        ]
        # A total of 1..k-1, or with 1..k-1 reports beside the published cases: no
        # breakdown at all (which cells are empty would tell how the few reports split).
        withheld = 0 < total < k or 0 < total - total_floor < k or _protect_group(states)
        result[group] = _Group(names, keys, states, withheld)
    return result


def protect_table(
    counts: Counts, *, k: int, groups: Mapping[str, str], floors: Floors = NO_FLOORS
) -> Protected:
    """Protect one period published on its own: no other published period shares a report.

    Every breakdown of a group shares its total. A total of 1..k-1 withholds the group's
    breakdowns altogether (their cells all read "< k", zeros too: which cells are empty
    would otherwise tell how the few reports split). `floors` are what published cases
    show of the period: the reports beside them are protected the same way. Single figures
    are protected by the caller (stats), which publishes them only over k reports or more.
    """
    tables: dict[str, dict[str, Cell]] = {}
    totals: dict[str, Cell] = {}
    withheld: set[str] = set()
    for group, protected in _protect_groups(counts, k=k, groups=groups, floors=floors).items():
        total = protected.states[0].total
        total_floor = floors.totals.get(group, 0)
        if 0 < total < k or 0 < total - total_floor < k:
            small = 0 < total < k
            mark = Mark.SMALL if small else Mark.HIDDEN
            cell_known = Interval(0, k - 1) if small else UNKNOWN
            for name in protected.names:
                tables[name] = {
                    key: Cell(counts.tables[name][key], mark, cell_known)
                    for key in protected.keys[name]
                }
            totals[group] = Cell(total, mark, Interval(1, k - 1) if small else Interval(k))
            withheld.add(group)
            continue
        lines = [_line(state) for state in protected.states]
        if protected.withheld:
            withheld.add(group)
        known = Interval(total_floor)
        for name, line in zip(protected.names, lines, strict=True):
            tables[name] = dict(zip(protected.keys[name], line.cells, strict=True))
            known = known.meet(line.total.known)
        first = lines[0].total
        # A withheld group publishes no cell, so its total gives nothing away.
        totals[group] = (
            Cell(first.value, Mark.SHOWN, exactly(first.value))
            if protected.withheld
            else Cell(first.value, first.mark, known)
        )
    return Protected(tables, totals, {}, frozenset(withheld))


def narrows(
    counts: Counts, *, k: int, groups: Mapping[str, str], frozen: Floors, seen: Floors
) -> bool:
    """Would a period protected with `frozen` floors give a number away, once `seen` is known?

    A published period never changes; published cases keep coming. A case's facts may only
    be shown when, added to everything cases ever showed of the period (`seen`), they leave
    every suppressed number of the period's frozen tables as uncertain as the rule asks.
    """
    for group, protected in _protect_groups(counts, k=k, groups=groups, floors=frozen).items():
        total = protected.states[0].total
        total_floor = seen.totals.get(group, 0)
        if total_floor > total:
            return True  # the cases claim more than there is: an outsider is misled, refuse
        if 0 < total < k or 0 < total - frozen.totals.get(group, 0) < k:
            continue  # withheld: no cell published, its total is "< k" or "x" whatever it is
        if 0 < total - total_floor < k:
            return True
        if protected.withheld:
            continue
        for name, state in zip(protected.names, protected.states, strict=True):
            state.floors = [seen.cell(name, key) for key in protected.keys[name]]
            if any(floor > value for floor, value in zip(state.floors, state.values, strict=True)):
                return True
            state.priors = [Interval(floor) if floor else UNKNOWN for floor in state.floors]
            state.total_floor = total_floor
            state.total_prior = Interval(total_floor)
        if protected.states[0].total_mark is not Mark.SHOWN:
            _share_total(protected.states)
        if any(state.leaks() for state in protected.states):
            return True
    return False
