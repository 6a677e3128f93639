"""Four eyes that hold against one person: who counts as a second, independent member.

An admin who creates, re-enables or resets an account receives its one-time password,
so they may have enrolled it themselves: the account may be theirs. The *line* of an
account is the account and every admin up the chain of who set it up (`vouched_by`).
A summary is approved only by a member whose line shares nobody with its author's line:
no single person can then hold both accounts, whether by creating the approver, creating
the author, or creating both. Accounts made from the server's shell (`flask setup`,
`flask staff add`, `flask recover`) start a line of their own; that shell, like the
recovery key, is outside what one web admin can reach.

With a single line (every account set up by one admin), nothing can be approved, and
the pages say plainly why: four eyes cannot be enforced until a second admin is added
from the server.
"""

from __future__ import annotations

from portal.extensions import db
from portal.models import Role, Staff


def line(member: Staff) -> set[int]:
    """The member and everyone up the chain of who set their account up."""
    seen: set[int] = set()
    current: Staff | None = member
    while current is not None and current.id not in seen:
        seen.add(current.id)
        current = db.session.get(Staff, current.vouched_by_id) if current.vouched_by_id else None
    return seen


def independent(first: Staff, second: Staff) -> bool:
    """Whether no single person could hold both accounts (their lines are disjoint)."""
    return first.id != second.id and not line(first) & line(second)


def active_admins() -> list[Staff]:
    """Active admins, by email."""
    return list(
        db.session.scalars(
            db.select(Staff)
            .where(Staff.role == Role.ADMIN, Staff.active.is_(True))
            .order_by(Staff.email)
        )
    )


def enforceable() -> bool:
    """Whether two active admins exist whose lines are disjoint.

    Without them, one admin could have set up every account that could approve.
    """
    admins = active_admins()
    return any(
        independent(first, second)
        for index, first in enumerate(admins)
        for second in admins[index + 1 :]
    )


def can_approve(*, author: Staff, approver: Staff) -> bool:
    """Whether `approver` counts as the second pair of eyes on `author`'s text."""
    return approver.active and independent(author, approver)
