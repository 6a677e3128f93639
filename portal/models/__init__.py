"""Typed SQLAlchemy models, one module per area; import them from here."""

from portal.models.api_keys import ApiKey
from portal.models.audit import AuditAnchor, AuditEntry, AuditHead
from portal.models.catalog import Category, Service, Unit
from portal.models.counts import StatusCount
from portal.models.inbox import Attachment, Message, Side
from portal.models.keys import InspectorateKey
from portal.models.operator_filings import OperatorFiling
from portal.models.publication import Publication, PublicationState, WithdrawalReason
from portal.models.reports import (
    Channel,
    Outcome,
    OutsideBody,
    Priority,
    Report,
    Sanction,
    Status,
    StatusChange,
)
from portal.models.sessions import PortalSession, SessionKind, UsedSubmission
from portal.models.settings import Setting
from portal.models.staff import HANDLER_ROLES, OVERSIGHT_ROLES, Role, Staff
from portal.models.stats import (
    StatsCaseFact,
    StatsCell,
    StatsFact,
    StatsFold,
    StatsPending,
    StatsPublication,
    StatsSnapshot,
)

__all__ = [
    "HANDLER_ROLES",
    "OVERSIGHT_ROLES",
    "ApiKey",
    "Attachment",
    "AuditAnchor",
    "AuditEntry",
    "AuditHead",
    "Category",
    "Channel",
    "InspectorateKey",
    "Message",
    "OperatorFiling",
    "Outcome",
    "OutsideBody",
    "PortalSession",
    "Priority",
    "Publication",
    "PublicationState",
    "Report",
    "Role",
    "Sanction",
    "Service",
    "SessionKind",
    "Setting",
    "Side",
    "Staff",
    "StatsCaseFact",
    "StatsCell",
    "StatsFact",
    "StatsFold",
    "StatsPending",
    "StatsPublication",
    "StatsSnapshot",
    "Status",
    "StatusChange",
    "StatusCount",
    "Unit",
    "UsedSubmission",
    "WithdrawalReason",
]
