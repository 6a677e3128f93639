"""Helpers shared by the tests; fixtures stay in tests/conftest.py.

Test modules import helpers from here, never from conftest or from each other.
This package exports what conftest used to (instance, forms, staff, api); the other
modules are imported by name: `from tests.helpers.evidence import phone_jpeg`.

- instance: the app factory, one setup per session copied per test, cheap KDFs
- forms: the citizen's form, PortalClient (keeps its CSRF token per session)
- staff: staff members and their sign-in; api: gateway keys; openapi: schema checks
- evidence, inbox, cases, publication, admin, audit, backup, stats: per-area steps
- servers, serving, ports: real gunicorn / flask run servers on free ports
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
