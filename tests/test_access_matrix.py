"""Every route x every kind of visitor: who gets in, who is sent away.

Generated from the app's URL map: a new route without a policy below fails the test,
so nobody can add a page without deciding who may open it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import ApiKey, Attachment, PortalSession, Staff
from portal.services import staff as staff_service
from portal.transaction import atomic
from tests.helpers import (
    admin_account,
    csrf_token,
    gateway_key,
    make_staff,
    staff_login,
    submit_report,
)
from tests.helpers.evidence import phone_jpeg
from tests.helpers.inbox import sign_in, upload

IDENTITIES = ("anonymous", "reporter", "auditor", "investigator", "admin", "disabled")
STAFF_ROLES = {"auditor", "investigator", "admin"}


@dataclass(frozen=True)
class Policy:
    """Who may use a route. `login` is where everyone else is sent (None: nowhere)."""

    allowed: frozenset[str]
    login: str | None

    def admits(self, identity: str) -> bool:
        """Whether this identity is let in."""
        return identity in self.allowed


EVERYONE = Policy(frozenset(IDENTITIES), None)
REPORTER = Policy(frozenset({"reporter"}), "/kotak-masuk")
STAFF = Policy(frozenset(STAFF_ROLES), "/inspectorate/login")
HANDLERS = Policy(frozenset({"investigator", "admin"}), "/inspectorate/login")
OVERSIGHT = Policy(frozenset({"auditor", "admin"}), "/inspectorate/login")
ADMIN = Policy(frozenset({"admin"}), "/inspectorate/login")

# Every endpoint, by name. Prefixes cover a whole area that shares one policy.
POLICIES: dict[str, Policy] = {
    "static": EVERYONE,
    "ops.healthz": EVERYONE,  # for load balancers: says only which check failed
    "public.home": EVERYONE,
    "public.status_form": EVERYONE,
    "public.status_lookup": EVERYONE,
    "public.status_page": EVERYONE,
    "public.switch_language": EVERYONE,
    "citizens.report_form": EVERYONE,
    "citizens.review": EVERYONE,
    "citizens.send": EVERYONE,
    "citizens.inbox_page": EVERYONE,  # the sign-in form for anyone, the inbox for a reporter
    "citizens.inbox_login": EVERYONE,
    "citizens.inbox_logout": EVERYONE,
    "citizens.inbox_reply": REPORTER,
    "citizens.inbox_add_evidence": REPORTER,
    "citizens.inbox_download": REPORTER,
    "citizens.inbox_new_receipt": REPORTER,
    "api.create_report": EVERYONE,
    "api.report_status": EVERYONE,
    "api.catalog_list": EVERYONE,
    "api.openapi": EVERYONE,
    "inspectorate.login_form": EVERYONE,
    "inspectorate.login": EVERYONE,
    "inspectorate.home": STAFF,
    "inspectorate.logout": STAFF,
    "inspectorate.logout_everywhere": STAFF,
    "inspectorate.enrol": STAFF,
    "inspectorate.password": STAFF,
    "inspectorate.audit_log": OVERSIGHT,
    "inspectorate.audit_export": OVERSIGHT,
    "inspectorate.admin_staff": ADMIN,
    "inspectorate.admin_staff_new": ADMIN,
    "inspectorate.admin_staff_disable": ADMIN,
    "inspectorate.admin_staff_role": ADMIN,
    "inspectorate.admin_staff_reset": ADMIN,
    "inspectorate.admin_session_revoke": ADMIN,
    "inspectorate.admin_keys_rotate": ADMIN,
    "inspectorate.admin_settings": ADMIN,
    "inspectorate.admin_api_keys": ADMIN,
    "inspectorate.admin_api_key_new": ADMIN,
    "inspectorate.admin_api_key_revoke": ADMIN,
    "public.publications_index": EVERYONE,
    "public.publication_page": EVERYONE,
    "public.publications_feed": EVERYONE,
    "api.publications_list": EVERYONE,
    "inspectorate.publication_index": HANDLERS,
    "inspectorate.publication_page": HANDLERS,
    "inspectorate.publication_save": HANDLERS,
    "inspectorate.publication_approve": HANDLERS,
    "inspectorate.publication_withdraw": HANDLERS,
    "public.transparency": EVERYONE,
    "public.data_dictionary": EVERYONE,
    "api.stats_json": EVERYONE,
    "api.stats_csv": EVERYONE,
    "public.catalog_page": EVERYONE,
    "public.catalog_service": EVERYONE,
    "public.poster_index": EVERYONE,
    "public.poster": EVERYONE,
    "inspectorate.admin_catalog": ADMIN,
    "inspectorate.admin_service_new": ADMIN,
    "inspectorate.admin_service_edit": ADMIN,
    "inspectorate.admin_category_new": ADMIN,
    "inspectorate.admin_category_edit": ADMIN,
    "inspectorate.admin_unit_new": ADMIN,
    "inspectorate.admin_unit_edit": ADMIN,
    "inspectorate.case": HANDLERS,
    "inspectorate.case_contact": HANDLERS,
    "inspectorate.case_evidence": HANDLERS,
    "inspectorate.case_reply": HANDLERS,
    "inspectorate.case_assign": HANDLERS,
    "inspectorate.case_priority": HANDLERS,
    "inspectorate.case_status": HANDLERS,
    "inspectorate.case_refer": HANDLERS,
    "inspectorate.case_outcome": HANDLERS,
    "inspectorate.case_duplicate": HANDLERS,
    "inspectorate.operator_form": HANDLERS,
    "inspectorate.queue": HANDLERS,
    # Old public addresses (portal/moved.py): a 308 to the new one, for everyone.
    "moved.kasus": EVERYONE,
    "moved.kasus_feed": EVERYONE,
    "moved.kasus_page": EVERYONE,
    "moved.inbox": EVERYONE,
    "moved.inbox_download": EVERYONE,
    "moved.api_cases": EVERYONE,
}


@dataclass
class World:
    """Signed-in browsers of every kind, and real ids to put in URLs."""

    clients: dict[str, FlaskClient]
    args: dict[str, str]


def _fresh_clients(app: Flask, report: tuple[str, str]) -> dict[str, FlaskClient]:
    clients = {"anonymous": app.test_client()}
    reporter = app.test_client()
    assert sign_in(reporter, *report).status_code == 303
    clients["reporter"] = reporter
    for role in ("auditor", "investigator"):
        browser = app.test_client()
        assert staff_login(app, browser, make_staff(app, role)).status_code == 303
        clients[role] = browser
    admin = app.test_client()
    assert staff_login(app, admin, admin_account(app)).status_code == 303
    clients["admin"] = admin
    disabled_account = make_staff(app, "investigator")
    disabled = app.test_client()
    assert staff_login(app, disabled, disabled_account).status_code == 303
    with app.app_context(), atomic():
        member = staff_service.find_by_email(disabled_account.email)
        admin_member = staff_service.find_by_email(admin_account(app).email)
        staff_service.disable_member(member, actor=admin_member)
    clients["disabled"] = disabled
    return clients


@pytest.fixture
def world(app, client) -> World:
    report = submit_report(client)
    clients = _fresh_clients(app, report)
    upload(clients["reporter"], (phone_jpeg(), "a.jpg"))
    # Harmless targets for admin actions: a spare member with a spare session.
    spare = make_staff(app, "investigator")
    assert staff_login(app, app.test_client(), spare).status_code == 303
    gateway_key(app)
    with app.app_context():
        spare_key = db.session.scalars(db.select(ApiKey.id)).first()
        attachment = db.session.scalars(db.select(Attachment)).first()
        spare_member = db.session.scalars(db.select(Staff).where(Staff.email == spare.email)).one()
        session = db.session.scalars(
            db.select(PortalSession).where(PortalSession.staff_id == spare_member.id)
        ).one()
        args = {
            "code": report[0],
            "tracking_code": report[0],
            "lang": "en",
            "attachment_id": str(attachment.id),
            "staff_id": str(spare_member.id),
            "key_id": str(spare_key),
            "session_id": str(session.id),
            "filename": "css/portal.css",
            "service_code": "ktp_el",
            "category_code": "pungli",
            "unit_code": "mpp",
            "public_id": "0b5f7f0e-4d3c-4a8e-9a59-2f1c7c6a9e11",  # an unknown case: 404
        }
    return World(clients, args)


def _url(rule, args: dict[str, str]) -> str:
    url = rule.rule
    for name in rule.arguments:
        assert name in args, f"{rule.rule}: add a sample value for <{name}> in world()"
        url = re.sub(rf"<(?:[^<>:]+:)?{name}>", args[name], url)
    return url


def _policy(endpoint: str) -> Policy:
    assert endpoint in POLICIES, (
        f"{endpoint} has no access policy: add it to POLICIES in tests/test_access_matrix.py"
    )
    return POLICIES[endpoint]


def test_every_route_has_a_policy(app):
    for rule in app.url_map.iter_rules():
        _policy(rule.endpoint)


@pytest.mark.parametrize("identity", IDENTITIES)
def test_access_matrix(app, world, identity):
    checked = 0
    browser = world.clients[identity]
    # Sign-outs last, so every other route is tried with the session still live.
    rules = sorted(app.url_map.iter_rules(), key=lambda r: ("logout" in r.endpoint, r.rule))
    for rule in rules:
        policy = _policy(rule.endpoint)
        url = _url(rule, world.args)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = browser.get(url)
            else:
                # A valid CSRF token and an empty form: access is decided before validation.
                token = csrf_token(browser, "/lapor")
                response = browser.open(url, method=method, data={"csrf_token": token})
            response.close()
            checked += 1
            status = response.status_code
            where = f"{identity} {method} {url} -> {status}"
            if policy.admits(identity):
                assert status not in (401, 403), where
                if policy.login and "logout" not in rule.endpoint:  # sign-out ends at sign-in
                    assert not (
                        status in (302, 303) and response.headers["Location"].endswith(policy.login)
                    ), where
            else:
                assert status in (302, 303, 403), where
                if status in (302, 303):
                    assert response.headers["Location"].endswith(policy.login), where
                if identity in STAFF_ROLES and policy.login == "/inspectorate/login":
                    assert status == 403, where  # a signed-in member of another role
    assert checked >= 25
