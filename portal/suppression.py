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
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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
    """Working state of one breakdown while it is being protected."""

    values: list[int]
    priors: list[Interval]
    total_prior: Interval
    k: int
    marks: list[Mark]
    total_mark: Mark
    complementary: set[int] = field(default_factory=set)

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
        # Hidden cells were chosen smallest first among the candidates, so an outsider who
        # knows the rule knows each is at most the smallest candidate still shown.
        remaining = [self.values[index] for index in self.candidates()]
        upper = min(remaining) if remaining else None
        hidden = [index for index, mark in enumerate(self.marks) if mark is not Mark.SHOWN]
        ranges = [
            _display_range(
                self.marks[index], self.k, upper if index in self.complementary else None
            ).meet(self.priors[index])
            for index in hidden
        ]
        if self.total_mark is Mark.SHOWN:
            total = exactly(self.total)
        else:
            total = _display_range(self.total_mark, self.k).meet(self.total_prior)
        shown = sum(
            value for value, mark in zip(self.values, self.marks, strict=True) if mark is Mark.SHOWN
        )
        narrowed, total_known = _feasible(shown, ranges, total)
        known = [exactly(value) for value in self.values]
        for index, interval in zip(hidden, narrowed, strict=True):
            known[index] = interval
        return known, total_known

    def leaks(self) -> bool:
        """Whether a hidden number (not already public elsewhere) can be worked out."""
        known, total_known = self.knowledge()
        for index, mark in enumerate(self.marks):
            if mark is not Mark.SHOWN and known[index].exact and not self.priors[index].exact:
                return True
        if self.total_mark is not Mark.SHOWN:
            return total_known.exact and not self.total_prior.exact
        remainder = self.total - sum(
            value for value, mark in zip(self.values, self.marks, strict=True) if mark is Mark.SHOWN
        )
        return 0 < remainder < self.k


def _protect_state(
    values: Sequence[int],
    *,
    k: int,
    priors: Sequence[Interval] | None = None,
    total_prior: Interval = UNKNOWN,
    forced: Collection[int] = (),
    hide_total: bool = False,
) -> _State:
    """The working state of one breakdown once protected (see protect_line)."""
    count = len(values)
    state = _State(
        values=list(values),
        priors=list(priors) if priors is not None else [UNKNOWN] * count,
        total_prior=total_prior,
        k=k,
        marks=[
            Mark.SMALL
            if 0 < value < k
            else Mark.HIDDEN
            if index in forced and value > 0
            else Mark.SHOWN
            for index, value in enumerate(values)
        ],
        total_mark=Mark.SHOWN,
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
            state.complementary.add(chosen)
        elif state.total_mark is Mark.SHOWN and total > 0 and not state.total_prior.exact:
            state.total_mark = Mark.HIDDEN
        else:
            # Nothing left that would help: hide every non-zero number (never reached when
            # the parts were protected first, but a leak must never be the fallback).
            state.marks = [
                mark if value == 0 or mark is not Mark.SHOWN else Mark.HIDDEN
                for value, mark in zip(state.values, state.marks, strict=True)
            ]
            if state.total_mark is Mark.SHOWN and total > 0:
                state.total_mark = Mark.HIDDEN
            break
    return state


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
    total_prior: Interval = UNKNOWN,
    forced: Collection[int] = (),
    hide_total: bool = False,
) -> Line:
    """Protect one breakdown whose total (the sum of `values`) is published with it.

    `priors` say what other tables already tell about each cell (default: nothing);
    `forced` cells are hidden whatever their size (another table needs it); `hide_total`
    hides the total. Cells of 1..k-1 become small; then the smallest shown cells are
    hidden one by one until nothing hidden can be worked out; the total goes last.
    """
    return _line(
        _protect_state(
            values,
            k=k,
            priors=priors,
            total_prior=total_prior,
            forced=forced,
            hide_total=hide_total,
        )
    )


def audit_parts(parts: Sequence[Interval], value: int, k: int) -> tuple[bool, Interval]:
    """Would publishing `value`, the sum of `parts`, give a hidden part away? And its prior.

    `parts` are what is already known of each part (an exact interval for a published
    one). The prior is what the parts alone tell about `value`.
    """
    if not parts:
        return False, UNKNOWN
    low = sum(part.lo for part in parts)
    high: int | None = 0
    for part in parts:
        high = _add(high, part.hi)
    prior = Interval(low, high)
    if prior.exact:
        return False, prior  # already public through its parts
    hidden = [part for part in parts if not part.exact]
    known_sum = sum(part.lo for part in parts if part.exact)
    remainder = value - known_sum
    if 0 < remainder < k:
        return True, prior
    narrowed, _ = _feasible(known_sum, hidden, exactly(value))
    return any(interval.exact for interval in narrowed), prior


def protect_single(value: int, parts: Sequence[Interval], *, k: int) -> Cell:
    """Protect a number published alone (no total beside it), given its parts' knowledge."""
    leak, prior = audit_parts(parts, value, k)
    if 0 < value < k:
        return Cell(value, Mark.SMALL, Interval(1, k - 1).meet(prior))
    if leak and value > 0:
        return Cell(value, Mark.HIDDEN, Interval(k).meet(prior))
    return Cell(value, Mark.SHOWN, exactly(value))


@dataclass(frozen=True)
class Counts:
    """The raw figures of one period before protection.

    `tables`: breakdown name -> key -> reports; `singles`: figures published alone
    (each the number of reports a median, sum or share is computed over).
    """

    tables: Mapping[str, Mapping[str, int]]
    singles: Mapping[str, int]


@dataclass(frozen=True)
class Protected:
    """The protected figures of one period, as published."""

    tables: dict[str, dict[str, Cell]]
    totals: dict[str, Cell]
    singles: dict[str, Cell]
    # Groups whose breakdowns are not published at all (too few reports to split).
    withheld: frozenset[str] = frozenset()


def _part_knowledge(parts: Sequence[Protected], table: str, key: str) -> list[Interval]:
    """What each part already publishes about one cell (a missing key is an exact zero)."""
    known = []
    for part in parts:
        cell = part.tables.get(table, {}).get(key)
        known.append(cell.known if cell is not None else exactly(0))
    return known


def protect_period(
    counts: Counts,
    *,
    k: int,
    groups: Mapping[str, str],
    parts: Sequence[Protected] = (),
) -> Protected:
    """Protect every breakdown and single figure of a period, consistently with its parts.

    `groups` maps each breakdown to the total it shares with others (every breakdown of
    all reports shares one total; referrals by outside body have their own). `parts` are
    the already protected sub-periods that together make this period (months of a
    quarter, quarters of a year); empty for a month.
    """
    singles = {
        name: protect_single(
            value,
            [part.singles[name].known if name in part.singles else exactly(0) for part in parts],
            k=k,
        )
        for name, value in counts.singles.items()
    }
    tables: dict[str, dict[str, Cell]] = {}
    totals: dict[str, Cell] = {}
    for group in sorted(set(groups.values())):
        names = [name for name in counts.tables if groups[name] == group]
        if not names:
            continue
        group_total = sum(counts.tables[names[0]].values())
        total_leak, total_prior = audit_parts(
            [part.totals[group].known if group in part.totals else exactly(0) for part in parts],
            group_total,
            k,
        )
        hide_total = total_leak
        while True:
            lines: dict[str, tuple[list[str], Line]] = {}
            for name in names:
                keys = list(counts.tables[name])
                values = [counts.tables[name][key] for key in keys]
                priors, forced = [], set()
                for index, key in enumerate(keys):
                    leak, prior = audit_parts(_part_knowledge(parts, name, key), values[index], k)
                    priors.append(prior)
                    if leak:
                        forced.add(index)
                line = protect_line(
                    values,
                    k=k,
                    priors=priors,
                    total_prior=total_prior,
                    forced=forced,
                    hide_total=hide_total,
                )
                lines[name] = (keys, line)
            if hide_total or all(line.total.mark is not Mark.HIDDEN for _, line in lines.values()):
                break
            hide_total = True  # one breakdown needed its total hidden: it is the same total
        known = total_prior
        for name, (keys, line) in lines.items():
            tables[name] = dict(zip(keys, line.cells, strict=True))
            known = known.meet(line.total.known)
        first = lines[names[0]][1].total
        totals[group] = Cell(first.value, first.mark, known)
    return Protected(tables, totals, singles)


def _cells_leak(state: _State) -> bool:
    """Whether a suppressed cell of the breakdown can be worked out exactly."""
    known, _ = state.knowledge()
    return any(
        mark is not Mark.SHOWN and interval.exact
        for mark, interval in zip(state.marks, known, strict=True)
    )


def _own_total(state: _State) -> Interval:
    """What the breakdown alone tells about its (hidden) total."""
    prior, state.total_prior = state.total_prior, UNKNOWN
    try:
        return state.knowledge()[1]
    finally:
        state.total_prior = prior


def _protect_group(lines: Sequence[Sequence[int]], k: int) -> tuple[list[Line], bool]:
    """Protect breakdowns that share one total (each a partition of the same reports).

    With the total shown, the breakdowns are independent: each is protected alone. When one
    of them can only be protected by hiding the total, the total is hidden in all, and what
    every breakdown tells about it is put together (as an outsider would): while a hidden
    cell can still be worked out from that, the breakdown that pins the total hardest hides
    its smallest shown cell. Returns the lines and whether the whole group is withheld
    (nothing left to hide; never seen in practice, but a leak must never be the fallback).
    """
    states = [_protect_state(values, k=k) for values in lines]
    if all(state.total_mark is not Mark.HIDDEN for state in states):
        return [_line(state) for state in states], False
    states = [_protect_state(values, k=k, hide_total=True) for values in lines]
    while True:
        known = Interval(k)
        for state in states:
            known = known.meet(_own_total(state))
        for state in states:
            state.total_prior = known
        if not any(_cells_leak(state) for state in states):
            return [_line(state) for state in states], False
        widenable = [state for state in states if state.candidates()]
        if not widenable:
            return [_line(state) for state in states], True
        narrowest = min(widenable, key=lambda state: _width(_own_total(state)))
        chosen = min(narrowest.candidates(), key=lambda index: (narrowest.values[index], index))
        narrowest.marks[chosen] = Mark.HIDDEN
        narrowest.complementary.add(chosen)


def _width(interval: Interval) -> float:
    """How wide an interval is (unbounded: infinite)."""
    return float("inf") if interval.hi is None else interval.hi - interval.lo


def protect_table(counts: Counts, *, k: int, groups: Mapping[str, str]) -> Protected:
    """Protect one period published on its own: no other published period shares a report.

    Every breakdown of a group shares its total. A total of 1..k-1 withholds the group's
    breakdowns altogether (their cells all read "< k", zeros too: which cells are empty
    would otherwise tell how the few reports split). Single figures are protected by the
    caller (stats), which publishes them only over k reports or more.
    """
    tables: dict[str, dict[str, Cell]] = {}
    totals: dict[str, Cell] = {}
    withheld: set[str] = set()
    for group in sorted(set(groups.values())):
        names = [name for name in counts.tables if groups[name] == group]
        if not names:
            continue
        keyed = {name: sorted(counts.tables[name]) for name in names}
        total = sum(counts.tables[names[0]].values())
        if 0 < total < k:
            small = Interval(0, k - 1)
            for name in names:
                tables[name] = {
                    key: Cell(counts.tables[name][key], Mark.SMALL, small) for key in keyed[name]
                }
            totals[group] = Cell(total, Mark.SMALL, Interval(1, k - 1))
            withheld.add(group)
            continue
        lines, withhold = _protect_group(
            [[counts.tables[name][key] for key in keyed[name]] for name in names], k
        )
        if withhold:
            withheld.add(group)
        known = UNKNOWN
        for name, line in zip(names, lines, strict=True):
            tables[name] = dict(zip(keyed[name], line.cells, strict=True))
            known = known.meet(line.total.known)
        first = lines[0].total
        # A withheld group publishes no cell, so its total gives nothing away.
        totals[group] = (
            Cell(first.value, Mark.SHOWN, exactly(first.value))
            if withhold
            else Cell(first.value, first.mark, known)
        )
    return Protected(tables, totals, {}, frozenset(withheld))
