"""Typed SQLAlchemy models, one module per area; import them from here."""

from portal.models.api_keys import ApiKey
from portal.models.audit import AuditAnchor, AuditEntry, AuditHead
from portal.models.catalog import Category, Service, Unit
from portal.models.counts import StatusCount
from portal.models.inbox import Attachment, Message, Side
from portal.models.keys import InspectorateKey
from portal.models.publication import PublicationState, PublishedCase, WithdrawalReason
from portal.models.reports import Channel, Outcome, Priority, Report, Status, StatusChange
from portal.models.sessions import PortalSession, SessionKind, UsedSubmission
from portal.models.settings import Setting
from portal.models.staff import Role, Staff
from portal.models.stats import StatsCell, StatsPublication, StatsRefresh, StatsSnapshot

__all__ = [
    "ApiKey",
    "Attachment",
    "AuditAnchor",
    "AuditEntry",
    "AuditHead",
    "Category",
    "Channel",
    "InspectorateKey",
    "Message",
    "Outcome",
    "PortalSession",
    "Priority",
    "PublicationState",
    "PublishedCase",
    "Report",
    "Role",
    "Service",
    "SessionKind",
    "Setting",
    "Side",
    "Staff",
    "StatsCell",
    "StatsPublication",
    "StatsRefresh",
    "StatsSnapshot",
    "Status",
    "StatusChange",
    "StatusCount",
    "Unit",
    "UsedSubmission",
    "WithdrawalReason",
]
