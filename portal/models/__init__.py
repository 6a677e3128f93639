"""Typed SQLAlchemy models, one module per area; import them from here."""

from portal.models.audit import AuditEntry
from portal.models.catalog import Category, Service, Unit
from portal.models.keys import InspectorateKey
from portal.models.reports import Channel, Report, Status, StatusChange
from portal.models.staff import Role, Staff

__all__ = [
    "AuditEntry",
    "Category",
    "Channel",
    "InspectorateKey",
    "Report",
    "Role",
    "Service",
    "Staff",
    "Status",
    "StatusChange",
    "Unit",
]
