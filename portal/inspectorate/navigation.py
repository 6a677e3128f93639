"""The staff navigation: which pages each role sees, in one list."""

from __future__ import annotations

import secrets

from flask import current_app, get_template_attribute, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from portal import memo, pages
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


def _language() -> str:
    locale = get_locale()
    return str(locale) if locale is not None else "-"


@bp.app_template_global()
def staff_links(staff: StaffContext) -> list[tuple[str, str]]:
    """(URL, label) of the navigation entries this member's role may open."""
    role = staff.member.role
    key = (role, _language(), request.script_root)

    def build() -> list[tuple[str, str]]:
        return [
            (url_for(endpoint), str(label))
            for endpoint, label, roles in STAFF_LINKS
            if role in roles and endpoint in current_app.view_functions
        ]

    return memo.app_cache(_LINKS, _LINKS_SIZE).get(key, build)


# The header of every staff page, rendered per (role, enrolled, language, script root):
# only the member's e-mail and the CSRF token differ within one key, and they are put into
# the stored copy per request (a string replace, not ~10 url_for and gettext calls).
_NAV = "portal.staff_nav"
_NAV_SIZE = 64
# Not in any page: made here, at random, for this process.
_EMAIL_PLACEHOLDER = f"email-{secrets.token_hex(16)}"


@bp.app_template_global()
def staff_nav(staff: StaffContext | None) -> Markup:
    """The staff navigation (enrolled members) and sign-out form; nothing when signed out."""
    if staff is None:
        return Markup("")
    enrolled = staff.enrolled
    key = (staff.member.role, enrolled, _language(), request.script_root)

    def build() -> str:
        header = get_template_attribute("inspectorate/_nav.html", "staff_header")
        links = staff_links(staff) if enrolled else []
        return pages.tokenless(lambda: str(header(enrolled, links, _EMAIL_PLACEHOLDER)))

    fragment = memo.app_cache(_NAV, _NAV_SIZE).get(key, build)
    return Markup(  # noqa: S704 - our own rendered template; the e-mail is escaped
        pages.with_token(fragment).replace(_EMAIL_PLACEHOLDER, str(escape(staff.member.email)))
    )


bp.add_app_template_global(current_staff, "current_staff")
