"""Handling a report besides its status: assignment, priority, messages, filing for a reporter.

Each change flushes and audits in the caller's `atomic()` block.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal import crypto
from portal.extensions import db
from portal.models import HANDLER_ROLES, Priority, Report, Side, Staff
from portal.services import audit, inbox
from portal.services.cases.base import CaseError, data_key


class NotAssignable(CaseError):
    """The chosen member does not exist, is disabled, or does not handle reports."""

    text = _l("Reports can only be assigned to active admins and investigators.")


def assignable_staff() -> list[Staff]:
    """Active members who may be assigned reports, by email."""
    query = (
        db.select(Staff)
        .where(Staff.active.is_(True), Staff.role.in_([role.value for role in HANDLER_ROLES]))
        .order_by(Staff.email)
    )
    return list(db.session.scalars(query))


def assign(*, report: Report, actor: Staff, assignee_id: int | None) -> None:
    """Give the report to an active admin or investigator, or to nobody."""

    assignee = None
    if assignee_id is not None:
        assignee = db.session.get(Staff, assignee_id)
        if assignee is None or not assignee.active or assignee.role not in HANDLER_ROLES:
            raise NotAssignable()
    report.assignee_id = assignee.id if assignee else None
    audit.record(
        actor=actor.email,
        action="report.assigned",
        target=report.tracking_code,
        detail=f"assignee={assignee.email if assignee else '-'}",
    )


def set_priority(*, report: Report, actor: Staff, priority: Priority) -> None:
    """Set how urgently the report is handled."""

    old = report.priority
    report.priority = priority
    audit.record(
        actor=actor.email,
        action="report.priority_set",
        target=report.tracking_code,
        detail=f"from={old} to={priority}",
    )


def reply(*, report: Report, actor: Staff, private_key: crypto.PrivateKey, body: str) -> None:
    """Send a message to the reporter's inbox, encrypted with the report's data key; audited."""
    key = data_key(report, private_key)
    audit.record(actor=actor.email, action="message.sent", target=report.tracking_code)
    inbox.post_message(
        report=report, data_key=key, author=Side.INSPECTORATE, body=body, staff_id=actor.id
    )
