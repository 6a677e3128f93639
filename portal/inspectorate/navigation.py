"""The staff navigation: which pages each role sees, in one list."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.inspectorate import bp
from portal.inspectorate.access import StaffContext, current_staff
from portal.models import HANDLER_ROLES, OVERSIGHT_ROLES, Role

# (endpoint, label, roles that see it). Entries whose view does not exist are skipped.
STAFF_LINKS = [
    ("inspectorate.queue", _l("Report queue"), HANDLER_ROLES),
    ("inspectorate.operator_form", _l("File a report for a reporter"), HANDLER_ROLES),
    ("inspectorate.publication_index", _l("Publications"), HANDLER_ROLES),
    ("inspectorate.audit_log", _l("Audit log"), OVERSIGHT_ROLES),
    ("inspectorate.admin_staff", _l("Staff and sessions"), frozenset({Role.ADMIN})),
    ("inspectorate.admin_settings", _l("Deadlines and retention"), frozenset({Role.ADMIN})),
    ("inspectorate.admin_catalog", _l("Services, fees and places"), frozenset({Role.ADMIN})),
    ("inspectorate.admin_api_keys", _l("Gateways and API keys"), frozenset({Role.ADMIN})),
]


@bp.app_template_global()
def staff_links(staff: StaffContext) -> list[tuple[str, str]]:
    """The navigation entries this member's role may open."""
    return [
        (endpoint, str(label))
        for endpoint, label, roles in STAFF_LINKS
        if staff.member.role in roles and endpoint in current_app.view_functions
    ]


bp.add_app_template_global(current_staff, "current_staff")
