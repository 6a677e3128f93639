"""Rendered statistics cached per app server under the publications they were made from.

Published figures change only when a quarter is published (a new row, a new id), so a
page, document or file rendered from a period's publications is valid for as long as
those rows are the ones the database holds. Requests look their output up under the
current ids (read at most once a second per server), so a publication made through any
server or by the timer is served by every server within that second. Keys also hold
everything else an output depends on (language, host, the newest closed quarter).
Bounded, least recently used first out: keys a visitor can vary (the period typed, the
host) cannot grow memory without limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func, select

from portal import memo
from portal.extensions import db
from portal.models import StatsPublication
from portal.services.stats.periods import Period, quarter

T = TypeVar("T")

CACHE = "portal.stats_outputs"
CACHE_SIZE = 512


# Built once per process; run on the session's connection, without the ORM's per-query
# work (every statistics request reads it, and it is most of what a cached request does).
_PUBLICATIONS = select(StatsPublication.period, StatsPublication.id)
# One row however many quarters are published: publications are written once and never
# changed or deleted (a new one is a new row), so the count and the newest id name the set.
_PUBLISHED_SET = select(func.count(StatsPublication.id), func.max(StatsPublication.id))


def publications() -> dict[str, int]:
    """Every published quarter's key and row id (the statistics' version).

    A single-row query at most once a second (memo.shared_version: a quarter published by
    the timer shows within that second); the rows themselves are read once per set.
    """
    count, newest = memo.shared_version(
        "publications", lambda: tuple(db.session.connection().execute(_PUBLISHED_SET).one())
    )

    def read() -> dict[str, int]:
        rows = db.session.connection().execute(_PUBLICATIONS)
        return {period: row_id for period, row_id in rows}

    return memo.app_cache(CACHE, CACHE_SIZE).get(("publications", count, newest), read)


def version(period: Period, published: dict[str, int]) -> tuple[int | None, ...]:
    """The ids of the publications a period is made from (None: a quarter never published)."""
    firsts = period.quarters if period.kind == "year" else [period.first]
    return tuple(published.get(quarter(first).key) for first in firsts)


def cached(key: tuple[Any, ...], build: Callable[[], T]) -> T:
    """`build()` once per key on this app server; the key must name all the output depends on."""
    return memo.app_cache(CACHE, CACHE_SIZE).get(key, build)
