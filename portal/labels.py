"""Every enum's display name, one table per enum, for every page, form, feed and export.

The msgids are English and the catalogue gives Bahasa Indonesia, so one table serves both
languages. A value missing from its table shows as itself rather than failing a page.
Tables are keyed by the enums; a StrEnum member hashes like its value, so a plain string
from a column looks up the same entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l

from portal.models import (
    Channel,
    Outcome,
    OutsideBody,
    Priority,
    PublicationState,
    Role,
    Sanction,
    Status,
    WithdrawalReason,
)

E = TypeVar("E", bound=StrEnum)

STATUS_LABELS: dict[Status, Any] = {
    Status.RECEIVED: _l("Received"),
    Status.NEEDS_INFO: _l("Waiting for the reporter"),
    Status.VERIFIED: _l("Verified"),
    Status.IN_PROGRESS: _l("Being handled"),
    Status.REFERRED: _l("Referred"),
    Status.RESOLVED: _l("Resolved"),
    Status.REJECTED: _l("Cannot be followed up"),
}
CHANNEL_LABELS: dict[Channel, Any] = {
    Channel.WEB: _l("Website"),
    Channel.API: _l("App or gateway (API)"),
    Channel.WALK_IN: _l("Walk-in"),
    Channel.PHONE: _l("Phone"),
    Channel.SMS: _l("SMS"),
    Channel.WHATSAPP: _l("WhatsApp"),
}
PRIORITY_LABELS: dict[Priority, Any] = {
    Priority.LOW: _l("Low"),
    Priority.NORMAL: _l("Normal"),
    Priority.HIGH: _l("High"),
    Priority.URGENT: _l("Urgent"),
}
OUTCOME_LABELS: dict[Outcome, Any] = {
    Outcome.PROVEN: _l("Proven"),
    Outcome.NOT_PROVEN: _l("Not proven"),
}
SANCTION_LABELS: dict[Sanction, Any] = {
    Sanction.NONE: _l("None"),
    Sanction.VERBAL_WARNING: _l("Verbal warning"),
    Sanction.WRITTEN_WARNING: _l("Written warning"),
    Sanction.DISCIPLINARY: _l("Disciplinary sanction"),
    Sanction.DISMISSAL: _l("Dismissal"),
    Sanction.CRIMINAL_REFERRAL: _l("Referred for criminal prosecution"),
    Sanction.OTHER: _l("Other"),
}
OUTSIDE_BODY_LABELS: dict[OutsideBody, Any] = {
    OutsideBody.OMBUDSMAN_BANTEN: _l("Ombudsman RI Perwakilan Banten"),
    OutsideBody.POLICE: _l("Police (Polri)"),
    OutsideBody.PROSECUTOR: _l("Prosecutor (Kejaksaan)"),
    OutsideBody.KPK: _l("Corruption Eradication Commission (KPK)"),
    OutsideBody.SP4N_LAPOR: _l("SP4N-LAPOR!"),
    OutsideBody.OWN_AGENCY: _l("The service's own agency (instansi terkait)"),
}
ROLE_LABELS: dict[Role, Any] = {
    Role.INVESTIGATOR: _l("investigator"),
    Role.AUDITOR: _l("auditor"),
    Role.ADMIN: _l("admin"),
}
PUBLICATION_STATE_LABELS: dict[PublicationState, Any] = {
    PublicationState.AWAITING_APPROVAL: _l("Awaiting approval"),
    PublicationState.PUBLISHED: _l("Published"),
    PublicationState.WITHDRAWN: _l("Withdrawn"),
}
WITHDRAWAL_LABELS: dict[WithdrawalReason, Any] = {
    WithdrawalReason.IDENTIFIES_SOMEONE: _l("It could identify a reporter or an officer"),
    WithdrawalReason.INACCURATE: _l("It is inaccurate"),
    WithdrawalReason.CASE_REOPENED: _l("The report was reopened"),
    WithdrawalReason.LEGAL_REQUEST: _l("A legal request or court order"),
    WithdrawalReason.OTHER: _l("Other reason"),
}


def label(table: Mapping[E, Any], value: str | None) -> str:
    """The translated name of `value` in `table`; "" for None, the value itself if unknown."""
    if value is None:
        return ""
    found = table.get(value)  # type: ignore[call-overload]
    return str(found) if found is not None else value


def status_label(status: str) -> str:
    """The translated name of a status id."""
    return label(STATUS_LABELS, status)


def channel_label(channel: str) -> str:
    """The translated name of a channel id (web, walk_in, ...)."""
    return label(CHANNEL_LABELS, channel)


def priority_label(priority: str) -> str:
    """The translated name of a priority id."""
    return label(PRIORITY_LABELS, priority)


def outcome_label(outcome: str | None) -> str:
    """The translated finding of an examination."""
    return label(OUTCOME_LABELS, outcome)


def sanction_label(sanction: str | None) -> str:
    """The translated sanction category ("None" for none; public pages leave that out)."""
    return label(SANCTION_LABELS, sanction)


def outside_body_label(body: str | None) -> str:
    """The translated name of an outside body a report was referred to."""
    return label(OUTSIDE_BODY_LABELS, body)


def role_label(role: str) -> str:
    """The translated name of a staff role."""
    return label(ROLE_LABELS, role)


def publication_state_label(state: str) -> str:
    """The translated state of a publication."""
    return label(PUBLICATION_STATE_LABELS, state)


def withdrawal_label(reason: str | None) -> str:
    """The translated reason a publication was withdrawn."""
    return label(WITHDRAWAL_LABELS, reason)
