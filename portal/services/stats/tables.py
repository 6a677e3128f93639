"""A published quarter's raw figures and their protection, read from its frozen row."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from portal import memo
from portal.extensions import db
from portal.models import StatsPublication
from portal.services.stats.figures import (
    BREAKDOWNS,
    DEADLINE_FIGURES,
    GROUPS,
    MEDIAN_FIGURES,
    MET,
    MISSED,
    SUM_FIGURES,
)
from portal.services.stats.periods import quarter_key
from portal.suppression import NO_FLOORS, Counts, Floors, Protected, protect_table


@dataclass
class MonthData:
    """The raw monthly figures of one or more months, added together."""

    counts: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    histograms: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    sums: Counter[str] = field(default_factory=Counter)
    reports: Counter[str] = field(default_factory=Counter)

    def add(self, other: MonthData) -> None:
        """Add another month's figures to these."""
        for name, counter in other.counts.items():
            self.counts[name].update(counter)
        for name, histogram in other.histograms.items():
            self.histograms[name].update(histogram)
        self.sums.update(other.sums)
        self.reports.update(other.reports)

    def singles(self) -> dict[str, int]:
        """The number of reports each single figure is computed over."""
        result = {name: sum(self.histograms[name].values()) for name in MEDIAN_FIGURES}
        result.update({name: self.reports[name] for name in SUM_FIGURES})
        for name in DEADLINE_FIGURES:
            result[name] = self.counts[name][MET] + self.counts[name][MISSED]
        return result

    def as_counts(self) -> Counts:
        """The breakdowns and singles to protect."""
        return Counts({name: dict(self.counts[name]) for name in BREAKDOWNS}, self.singles())


def cells_json(rows: Sequence[tuple[date, str, str, int, int]]) -> str:
    """A quarter's raw monthly cells as the JSON a publication keeps, in a fixed order."""
    return json.dumps(
        sorted(
            [month.isoformat(), figure, key, reports, amount]
            for month, figure, key, reports, amount in rows
        )
    )


def month_data(cells: str) -> MonthData:
    """A publication's cells added together into one quarter's figures."""
    data = MonthData()
    for month_text, figure, key, reports, amount in json.loads(cells):
        if figure == "month":
            data.counts["month"][month_text[:7]] += reports
        elif figure.startswith("days_"):
            data.histograms[figure.removeprefix("days_")][int(key)] += reports
        elif figure in SUM_FIGURES:
            data.sums[figure] += amount
            data.reports[figure] += reports
        else:
            data.counts[figure][key] += reports
    return data


def floors_json(floors: Floors, singles: dict[str, int]) -> str:
    """What published cases showed of a quarter, as its publication keeps it."""
    return json.dumps(
        {
            "tables": {name: dict(sorted(keys.items())) for name, keys in floors.tables.items()},
            "totals": dict(floors.totals),
            "singles": singles,
        },
        sort_keys=True,
    )


def read_floors(text: str) -> tuple[Floors, dict[str, int]]:
    """A publication's floors: per cell and total, and per single figure (refunds)."""
    data: dict[str, Any] = json.loads(text or "{}")
    floors = Floors(
        {
            name: {str(k): int(v) for k, v in keys.items()}
            for name, keys in data.get("tables", {}).items()
        },
        {str(k): int(v) for k, v in data.get("totals", {}).items()},
    )
    return floors, {str(k): int(v) for k, v in data.get("singles", {}).items()}


@dataclass(frozen=True)
class Quarter:
    """One published quarter: its raw figures, their protection and its frozen rules."""

    data: MonthData
    protected: Protected
    published_on: date | None
    deadlines: dict[str, int]
    k: int
    labels: str | None  # the breakdowns' keys and labels as published (JSON), if kept
    floors: Floors
    single_floors: dict[str, int]
    version: int | None  # the publication's id: what caches key on


# Protected quarters per publication id (each app its own store): a publication never changes, so
# neither does its protection. Only a cache; every server computes the same from the row.
CACHE = "portal.stats_quarters"
CACHE_SIZE = 256


def publication(first: date) -> StatsPublication | None:
    """The frozen row of the quarter starting on `first`, if it was published."""
    return db.session.scalars(
        select(StatsPublication).where(StatsPublication.period == quarter_key(first))
    ).first()


def load(row: StatsPublication | None, *, k: int, deadlines: dict[str, int]) -> Quarter:
    """A quarter from its frozen row; `k` and `deadlines` serve only a quarter never published.

    Everything a published quarter shows comes from its row: its own k, floors and labels,
    so a later change of a setting or of the catalogue leaves it byte for byte the same.
    """
    if row is None:
        return Quarter(
            MonthData(),
            protect_table(MonthData().as_counts(), k=k, groups=GROUPS),
            None,
            deadlines,
            k,
            None,
            NO_FLOORS,
            {},
            None,
        )
    published = row

    def protected() -> Quarter:
        data = month_data(published.cells)
        floors, single_floors = read_floors(published.floors)
        return Quarter(
            data=data,
            protected=protect_table(data.as_counts(), k=published.k, groups=GROUPS, floors=floors),
            published_on=published.published_on,
            deadlines={
                str(name): int(value) for name, value in json.loads(published.deadlines).items()
            },
            k=published.k,
            labels=published.labels,
            floors=floors,
            single_floors=single_floors,
            version=published.id,
        )

    return memo.app_cache(CACHE, CACHE_SIZE).get(row.id, protected)
