"""Hypothesis over every HTML form and query string: never a 5xx, a traceback or a half record.

Forms are not listed by hand: every page a citizen, a reporter and staff can open is
rendered and each <form> on it is fuzzed as that visitor's browser would send it (with
its valid CSRF token, so the request reaches validation), its fields replaced by hostile
values. Every GET route also gets hostile query strings. After each request the database
must be whole: a refused request changed nothing, and no report lacks its history.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from portal.extensions import db
from tests.helpers import (
    NO_LIMITS,
    VALID_FORM,
    admin_account,
    csrf_token,
    make_staff,
    staff_login,
    submit_report,
)

EXAMPLES = int(os.environ.get("FUZZ_FORM_EXAMPLES", "6"))

# Forms whose success ends the fuzzing browser's own session: fuzzed, but not here.
SKIPPED_ACTIONS = re.compile(r"logout|keluar|/revoke$")
# Tables a refused request may still write: the audit log (failed sign-ins are recorded
# on purpose), sessions (swept at sign-in) and the statistics snapshot (rebuilt on read).
MAY_CHANGE = {"audit_entry", "portal_session", "stats_cell", "stats_snapshot"}
QUERY_NAMES = (
    "period",
    "periode",
    "next",
    "layanan",
    "tempat",
    "unit",
    "halaman",
    "status",
    "category",
    "service",
    "before",
    "after",
    "since",
    "until",
    "actor",
    "action",
    "target",
    "page",
    "q",
    "sort",
    "overdue",
    "priority",
    "assigned",
)
HOSTILE = [
    "",
    " ",
    "\x00",
    "\x00" * 30,
    "\u200b" * 30,
    "\r\n" * 5,
    "\ud7ff\ufffd\uffff",
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "javascript:alert(1)",
    '=HYPERLINK("https://evil.example")',
    "../../etc/passwd",
    "' OR 1=1 --",
    "9" * 400,
    "9" * 306 + "rb",
    "-1",
    "0",
    str(2**63),
    str(2**64 + 1),
    "0000-01-01",
    "9999-12-31",
    "0000",
    "0000-Q1",
    "1e309",
    "NaN",
    "%00",
    "//evil.example",
    "x" * 20_000,
]
# Sent to every field of every form, one at a time: the values that broke something once.
CORPUS = [
    "\x00" * 30,
    "\u200b" * 30,
    '"><svg onload=alert(1)>',
    "9" * 400,
    "9" * 306 + "rb",
    str(2**63),
    "0000-01-01",
    "9999-12-31",
    "0000",
    "//evil.example",
    "x" * 20_000,
]
values = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=400),
    st.integers().map(str),
    st.dates().map(lambda day: day.isoformat()),
)


@dataclass
class Form:
    """A form as a browser would send it: where, how, and its fields with their values."""

    action: str
    method: str
    fields: dict[str, list[str]] = field(default_factory=dict)


_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')
_CONTROL = re.compile(r"<(input|textarea|select)\b([^>]*)>", re.I)


def forms_on(page: str, url: str) -> Iterator[Form]:
    """Every form of an HTML page with the values it would send as rendered."""
    for attributes, body in _FORM.findall(page):
        attrs = dict(_ATTR.findall(attributes))
        form = Form(unescape(attrs.get("action") or url), attrs.get("method", "get").lower())
        for _tag, control in _CONTROL.findall(body):
            control_attrs = dict(_ATTR.findall(control))
            name = control_attrs.get("name")
            if name:
                form.fields.setdefault(name, []).append(unescape(control_attrs.get("value", "")))
        yield form


@dataclass
class Visitor:
    """A browser and the pages it can open."""

    name: str
    client: FlaskClient
    pages: list[str]
    posted: list[tuple[str, tuple[int, str, str]]] = field(default_factory=list)  # POST pages


def _row_counts() -> dict[str, int]:
    """Rows per table (one query: it runs around every fuzzed request)."""
    names = [table.name for table in db.metadata.sorted_tables if table.name not in MAY_CHANGE]
    counts = ", ".join(f'(SELECT count(*) FROM "{name}")' for name in names)
    row = db.session.execute(text(f"SELECT {counts}")).one()
    return dict(zip(names, row, strict=True))


def _whole() -> None:
    """No half-written report: each has its first status step; no row points at nothing."""
    bare = db.session.scalar(
        text("SELECT count(*) FROM report WHERE id NOT IN (SELECT report_id FROM status_change)")
    )
    assert bare == 0, "a report without its history"
    for child in ("attachment", "message", "status_change"):
        orphans = db.session.scalar(
            text(f"SELECT count(*) FROM {child} WHERE report_id NOT IN (SELECT id FROM report)")
        )
        assert orphans == 0, f"{child} rows of no report"


def check_answer(app: Flask, response: Any, before: dict[str, int], where: str) -> None:
    """The invariants of every answer to hostile input."""
    assert response.status_code < 500, f"{where}: {response.status_code}"
    body = response.get_data()
    response.close()
    assert b"Traceback" not in body and b'File "/' not in body, where
    with app.app_context():
        _whole()
        if response.status_code >= 400:
            assert _row_counts() == before, f"{where}: a refused request changed the database"


def _world(app: Flask) -> list[Visitor]:
    """Citizen, reporter and staff browsers, with real ids in the pages they open."""
    citizen = app.test_client()
    code, receipt = submit_report(citizen)
    review = citizen.post(
        "/lapor", data={**VALID_FORM, "csrf_token": csrf_token(citizen), "action": "review"}
    )
    assert review.status_code == 200
    reporter = app.test_client()
    token = csrf_token(reporter, "/kotak-masuk")
    signed = reporter.post(
        "/kotak-masuk/masuk", data={"code": code, "receipt": receipt, "csrf_token": token}
    )
    assert signed.status_code == 303
    admin = app.test_client()
    assert staff_login(app, admin, admin_account(app)).status_code == 303
    investigator = app.test_client()
    assert staff_login(app, investigator, make_staff(app, "investigator")).status_code == 303
    static_pages = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and not rule.arguments and rule.endpoint != "static"
    ]
    citizen_pages = [p for p in static_pages if not p.startswith(("/inspectorate", "/api"))]
    staff_pages = [p for p in static_pages if p.startswith("/inspectorate")]
    case = f"/inspectorate/reports/{code}"
    return [
        Visitor(
            "citizen",
            citizen,
            [*citizen_pages, f"/status/{code}", "/layanan/ktp_el"],
            [("/lapor", _read(review))],
        ),
        Visitor("reporter", reporter, ["/kotak-masuk"]),
        # Before the admin, whose fuzzed staff forms may reset or disable this member.
        Visitor("investigator", investigator, [*staff_pages, case]),
        Visitor("admin", admin, staff_pages),
    ]


def _read(response: Any) -> tuple[int, str, str]:
    """Status, type and text of a response, which is then closed as a WSGI server would.

    A streamed download (the audit CSV) holds its request context until closed.
    """
    try:
        return response.status_code, response.content_type, response.get_data(as_text=True)
    finally:
        response.close()


def _discovered(visitor: Visitor) -> list[Form]:
    forms: dict[tuple[str, str], Form] = {}
    pages = [(url, _read(visitor.client.get(url))) for url in visitor.pages]
    for url, (status, content_type, page) in [*pages, *visitor.posted]:
        assert status < 500, f"{visitor.name} GET {url}: {status}"
        if status != 200 or "html" not in content_type:
            continue
        for form in forms_on(page, url):
            if not SKIPPED_ACTIONS.search(form.action):
                forms.setdefault((form.method, form.action), form)
    return list(forms.values())


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same examples on every run: CI is reproducible
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _fuzz_form(app: Flask, visitor: Visitor, form: Form) -> None:
    names = sorted(set(form.fields) - {"csrf_token"})

    @FUZZ_SETTINGS
    @given(
        changed=st.dictionaries(st.sampled_from(names or ["x"]), st.lists(values, max_size=3)),
        extra=st.dictionaries(st.text(max_size=10), values, max_size=2),
    )
    def run(changed: dict[str, list[str]], extra: dict[str, str]) -> None:
        send(changed | {name: [value] for name, value in extra.items()})

    def send(changed: dict[str, list[str]]) -> None:
        data: dict[str, Any] = {name: list(vals) for name, vals in form.fields.items()}
        data.update(changed)
        if form.method == "post":
            data["csrf_token"] = form.fields.get("csrf_token", [""])[0]
        with app.app_context():
            before = _row_counts()
        if form.method == "post":
            response = visitor.client.post(form.action, data=data)
        else:
            response = visitor.client.get(form.action, query_string=data)
        where = f"{visitor.name} {form.method} {form.action} {changed!r}"[:300]
        check_answer(app, response, before, where)

    # The corpus first, one field at a time (every other field as rendered, so each
    # value meets the validation of its own field), then random combinations.
    for name in names:
        for value in CORPUS:
            send({name: [value]})
    run()


# The forms each visitor's discovery must find (so it cannot silently find none).
FORMS_THAT_MATTER = {
    "citizen": (
        "citizen post /lapor",
        "citizen post /lapor/kirim",
        "citizen post /status",
        "citizen get /transparansi",
    ),
    "reporter": ("reporter post /kotak-masuk/pesan", "reporter post /kotak-masuk/bukti"),
    "investigator": (
        "investigator post /inspectorate/operator",
        "investigator post /inspectorate/reports/",
    ),
    "admin": ("admin get /inspectorate/audit", "admin post /inspectorate/admin/"),
}


# One visitor per test, each in a world of its own: the four run side by side under xdist.
@pytest.mark.app_config(NO_LIMITS)
@pytest.mark.parametrize("who", list(FORMS_THAT_MATTER))
def test_every_form_survives_hostile_values(app, who):
    visitor = next(visitor for visitor in _world(app) if visitor.name == who)
    fuzzed = []
    for form in _discovered(visitor):
        _fuzz_form(app, visitor, form)
        fuzzed.append(f"{visitor.name} {form.method} {form.action}")
    joined = "\n".join(fuzzed)
    for expected in FORMS_THAT_MATTER[who]:
        assert expected in joined, f"no form found for {expected}:\n{joined}"


@pytest.mark.app_config(NO_LIMITS)
@pytest.mark.parametrize("who", list(FORMS_THAT_MATTER))
def test_every_page_survives_hostile_query_strings(app, who):
    visitor = next(visitor for visitor in _world(app) if visitor.name == who)
    for url in visitor.pages:
        _fuzz_query(app, visitor, url)


def _fuzz_query(app: Flask, visitor: Visitor, url: str) -> None:
    @FUZZ_SETTINGS
    @given(query=st.dictionaries(st.sampled_from(QUERY_NAMES), values, max_size=4))
    def run(query: dict[str, str]) -> None:
        with app.app_context():
            before = _row_counts()
        response = visitor.client.get(url, query_string=query)
        check_answer(app, response, before, f"{visitor.name} GET {url} {query!r}")

    run()


@pytest.mark.app_config(NO_LIMITS)
def test_path_segments_survive_hostile_values(app):
    client = app.test_client()
    admin = app.test_client()
    assert staff_login(app, admin, admin_account(app)).status_code == 303
    templates = [
        (client, "/status/{}"),
        (client, "/layanan/{}"),
        (client, "/publikasi/{}"),
        (client, "/bahasa/{}"),
        (client, "/api/v1/reports/{}"),
        (admin, "/inspectorate/reports/{}"),
        (admin, "/inspectorate/admin/catalog/services/{}"),
        (admin, "/inspectorate/admin/catalog/units/{}"),
        (client, "/layanan/poster/{}"),
    ]

    @FUZZ_SETTINGS
    @given(
        target=st.sampled_from(templates),
        segment=st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=60)),
    )
    def run(target: tuple[FlaskClient, str], segment: str) -> None:
        browser, template = target
        quoted = "".join(char if char.isalnum() else f"%{ord(char):02X}" for char in segment)
        if not quoted or any(ord(char) > 0xFF for char in segment):
            quoted = segment.encode("utf-8").hex() or "x"
        with app.app_context():
            before = _row_counts()
        response = browser.get(template.format(quoted))
        check_answer(app, response, before, template.format(quoted))

    run()
