"""What keeps the hot public endpoints fast: work a user notices as speed, checked as counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from portal.extensions import db
from portal.models import Report, StatusChange
from portal.transaction import atomic
from tests.helpers import submit_report


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app runs inside the block."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _with_history(app: Flask, code: str) -> None:
    """Give the report a longer public timeline, as a handled report has."""
    with app.app_context():
        report = db.session.scalars(db.select(Report).where(Report.tracking_code == code)).one()
        for status in ("verified", "in_progress"):
            db.session.add(StatusChange(report_id=report.id, status=status, public_note="Catatan"))
        db.session.commit()


def test_a_status_page_is_one_query_with_its_whole_timeline(app: Flask, client: FlaskClient):
    """Category, service, unit and every step come in the same SELECT as the report."""
    code, _receipt = submit_report(client)
    _with_history(app, code)
    browser = app.test_client()  # a visitor without the reporter's cookies
    with statements(app) as seen:
        page = browser.get(f"/status/{code}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Catatan" in text and "KTP" in text
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1
    with statements(app) as seen:
        answer = browser.get(f"/api/v1/reports/{code}")
    assert [step["status"] for step in answer.get_json()["timeline"]] == [
        "received",
        "verified",
        "in_progress",
    ]
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1
    # The ciphertexts and keys are never read to show a status.
    assert not any("content_ct" in s or "key_wrapped" in s for s in seen)


def test_an_edit_shows_at_once_here_and_within_a_second_on_another_server(app: Flask):
    """The fee page, the form and the catalogue API are cached per server, never longer
    than VERSION_CHECK_SECONDS past an admin's edit made on another server."""
    import time

    from portal import create_app
    from portal.models import Service
    from portal.services import catalog

    other = create_app(dict(app.config))  # a second app server on the same database
    here, there = app.test_client(), other.test_client()
    for client in (here, there):  # both servers have built and cached both answers
        assert "KTP-el (KTP elektronik)" in client.get("/layanan").get_data(as_text=True)
        assert "KTP-el (KTP elektronik)" in client.get("/lapor").get_data(as_text=True)
        assert client.get("/api/v1/catalog").status_code == 200
    with other.app_context(), atomic():
        service = db.session.get(Service, "ktp_el")
        assert service is not None
        catalog.update(service, actor="admin@example.test", values={"name_id": "KTP-el Baru"})
    # The server that made the edit shows it at once.
    assert "KTP-el Baru" in there.get("/layanan").get_data(as_text=True)
    time.sleep(app.config["VERSION_CHECK_SECONDS"] + 0.05)
    for client in (here, there):
        assert "KTP-el Baru" in client.get("/layanan").get_data(as_text=True)
        # The report form, rendered once per catalogue version, shows the edit too.
        assert "KTP-el Baru" in client.get("/lapor").get_data(as_text=True)
        names = {
            row["code"]: row["name_id"]
            for row in client.get("/api/v1/catalog").get_json()["services"]
        }
        assert names["ktp_el"] == "KTP-el Baru"
    here.get("/layanan")  # reads the version now...
    with app.app_context(), statements(app) as seen:
        here.get("/api/v1/catalog")
    # ...so the catalogue, cached under it, needs no read at all.
    assert not [s for s in seen if s.lstrip().upper().startswith("SELECT")]


def _token(page: str) -> str:
    import re

    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def test_pages_rendered_once_still_give_each_visitor_their_own_csrf_token(app: Flask):
    """Home and the report form are stored rendered; the token is still per browser, and
    checked: one visitor's token is refused in another's session."""
    from portal import pages

    first, second = app.test_client(), app.test_client()
    for path in ("/", "/lapor", "/lapor?layanan=kk", "/?x=1"):
        one, two = (c.get(path).get_data(as_text=True) for c in (first, second))
        assert _token(one) != _token(two), path
        assert pages._PLACEHOLDER not in one + two
        assert one.replace(_token(one), "") == two.replace(_token(two), ""), path
    # The pre-selection still applies to the stored form.
    form = first.get("/lapor?layanan=kk").get_data(as_text=True)
    assert '<option selected value="kk">' in form or 'selected value="kk"' in form
    token = _token(first.get("/").get_data(as_text=True))
    code = "SRG-0000-0000-00"
    assert first.post("/status", data={"code": code, "csrf_token": token}).status_code != 400
    assert second.post("/status", data={"code": code, "csrf_token": token}).status_code == 400


def test_the_stored_pages_follow_the_language(app: Flask):
    client = app.test_client()
    indonesian = client.get("/").get_data(as_text=True)
    client.set_cookie("lang", "en")
    english = client.get("/").get_data(as_text=True)
    assert 'lang="id"' in indonesian and 'lang="en"' in english


def test_a_head_request_does_not_change_the_stored_page(app: Flask):
    client = app.test_client()
    assert client.head("/lapor").status_code == 200
    page = client.get("/lapor").get_data(as_text=True)
    assert "next=/lapor" in page or "next=%2Flapor" in page


def test_a_stored_status_page_follows_each_change_and_keeps_tokens_per_visitor(
    app: Flask, client: FlaskClient
):
    """Status pages are stored per what they show: a new step shows at the next request."""
    code, _receipt = submit_report(client)
    first, second = app.test_client(), app.test_client()
    one, two = (c.get(f"/status/{code}").get_data(as_text=True) for c in (first, second))
    assert _token(one) != _token(two)
    assert one.replace(_token(one), "") == two.replace(_token(two), "")
    assert "Catatan" not in one
    _with_history(app, code)
    again = first.get(f"/status/{code}").get_data(as_text=True)
    assert "Catatan" in again
    # Another spelling goes to the one canonical page; the stored page shows its own
    # code in the form and the language links (made from one page per language).
    moved = first.get(f"/status/{code.lower()}")
    assert moved.status_code == 308 and moved.headers["Location"].endswith(f"/status/{code}")
    assert f'value="{code}"' in again and f"next=/status/{code}" in again
    other_code, _receipt = submit_report(client)
    other = first.get(f"/status/{other_code}").get_data(as_text=True)
    assert f'value="{other_code}"' in other and f"next=/status/{other_code}" in other
    assert code not in other and "Catatan" not in other
    english = app.test_client()
    english.set_cookie("lang", "en")
    assert 'lang="en"' in english.get(f"/status/{code}").get_data(as_text=True)


def test_in_process_limit_storage_starts_no_thread_and_still_forgets():
    """limits' memory storage started a timer thread after each hit; ours sweeps inline."""
    import threading
    import time

    from limits import parse
    from limits.storage import storage_from_string
    from limits.strategies import FixedWindowRateLimiter

    from portal import limitstore

    storage = storage_from_string("memory://")
    assert isinstance(storage, limitstore.SweptMemoryStorage)
    limiter = FixedWindowRateLimiter(storage)
    budget = parse("2 per second")
    before = threading.active_count()
    assert limiter.hit(budget, "a") and limiter.hit(budget, "a")
    assert not limiter.hit(budget, "a")  # the budget still holds
    for n in range(300):
        limiter.hit(budget, f"key-{n}")
    assert threading.active_count() <= before
    time.sleep(limitstore.SWEEP_SECONDS + 1.1)
    assert limiter.hit(budget, "a")  # a new window
    assert len(storage.storage) == 1  # the expired counters were swept with that hit
