"""The staff navigation: which pages each role sees, in one list."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from portal import memo
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


# Built links per (role, language, script root): every staff page shows them, and their
# URLs and labels depend on nothing else (the routes are fixed once the app is made).
_LINKS = "portal.staff_links"
_LINKS_SIZE = 64


@bp.app_template_global()
def staff_links(staff: StaffContext) -> list[tuple[str, str]]:
    """(URL, label) of the navigation entries this member's role may open."""
    role = staff.member.role
    locale = get_locale()
    key = (role, str(locale) if locale is not None else "-", request.script_root)

    def build() -> list[tuple[str, str]]:
        return [
            (url_for(endpoint), str(label))
            for endpoint, label, roles in STAFF_LINKS
            if role in roles and endpoint in current_app.view_functions
        ]

    return memo.app_cache(_LINKS, _LINKS_SIZE).get(key, build)


bp.add_app_template_global(current_staff, "current_staff")
