"""Helpers shared by the tests; fixtures stay in tests/conftest.py.

instance: the app factory, one setup copied per test; forms: the citizen's form and the
kept CSRF token; staff: staff members and their sign-in; api: gateway keys.
"""

from tests.helpers.api import gateway_key
from tests.helpers.forms import (
    _CODE,
    _CSRF,
    _RECEIPT,
    _SUBMISSION,
    VALID_FORM,
    VALID_JSON,
    PortalClient,
    csrf_token,
    read_csrf_token,
    review_report,
    submit_report,
)
from tests.helpers.instance import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    NO_LIMITS,
    POSTGRES_ADMIN_URL,
    SETUP_SETTINGS,
    TEST_KDF,
    Instance,
    copy_database,
    copy_instance,
    initialise,
    make_app,
    release,
)
from tests.helpers.staff import StaffAccount, admin_account, make_staff, staff_login, totp_for

__all__ = [
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "NO_LIMITS",
    "POSTGRES_ADMIN_URL",
    "SETUP_SETTINGS",
    "TEST_KDF",
    "VALID_FORM",
    "VALID_JSON",
    "_CODE",
    "_CSRF",
    "_RECEIPT",
    "_SUBMISSION",
    "Instance",
    "PortalClient",
    "StaffAccount",
    "admin_account",
    "copy_database",
    "copy_instance",
    "csrf_token",
    "gateway_key",
    "initialise",
    "make_app",
    "make_staff",
    "read_csrf_token",
    "release",
    "review_report",
    "staff_login",
    "submit_report",
    "totp_for",
]
