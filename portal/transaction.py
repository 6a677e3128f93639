"""The one owner of transactions: service operations flush, `atomic()` commits.

The rule (ARCHITECTURE.md): a state change is a service function that adds, changes and
flushes rows — the audit entry included — and never commits. The outermost `atomic()` block
commits everything it wrapped, or rolls all of it back when anything inside raises. Views,
commands and jobs open the block; services called inside it join it. So "audited in the same
transaction" holds by construction: the audit entry and the change it records are in one block.

    with atomic():
        cases.assign(report=report, actor=member, assignee_id=None)  # flushes, audits

Blocks nest: an inner `atomic()` (a service calling another service that opens one) joins
the outer block and commits nothing itself; a failure anywhere rolls back the whole outer block.

One kind of failure is kept: a `RecordedRefusal` (a failed sign-in counted and audited, an
admin reset that waits for a second admin) is raised after its trace was flushed, and the
outermost block commits that trace before letting the refusal through.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from portal.extensions import db

P = ParamSpec("P")
T = TypeVar("T")


class RecordedRefusal(Exception):
    """A refused action whose trace (audit entry, counter) must outlast the refusal.

    The outermost `atomic()` block commits what was flushed, then re-raises. Raise it only
    when everything flushed in the block is meant to stay.
    """


# Kept on the session (one per thread/request), so nesting is counted per unit of work.
_DEPTH = "portal.atomic_depth"


def in_atomic() -> bool:
    """Whether an `atomic()` block is open on this session."""
    return int(db.session.info.get(_DEPTH, 0)) > 0


@contextmanager
def atomic() -> Iterator[None]:
    """Commit what the block did when the outermost block ends; roll all of it back on error."""
    info = db.session.info
    depth = int(info.get(_DEPTH, 0))
    info[_DEPTH] = depth + 1
    try:
        yield
        if depth == 0:
            db.session.commit()
    except RecordedRefusal:
        if depth == 0:
            try:
                db.session.commit()
            except BaseException:
                db.session.rollback()  # the trace could not be kept: nothing is
                raise
        raise
    except BaseException:
        if depth == 0:
            db.session.rollback()
        raise
    finally:
        info[_DEPTH] = depth


def atomically(function: Callable[P, T]) -> Callable[P, T]:
    """Decorator form of `atomic()`: the whole call is one transaction (or joins the open one)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with atomic():
            return function(*args, **kwargs)

    return wrapper
