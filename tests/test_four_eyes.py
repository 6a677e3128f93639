"""Four eyes against one person: a rogue admin's every way to publish alone fails."""

from __future__ import annotations

import re

import pytest

from portal.extensions import db
from portal.models import Publication
from portal.services import four_eyes, staff
from tests.helpers import admin_account, make_staff, staff_login, submit_report
from tests.helpers.admin import (
    _ONE_TIME,
    STAFF_PAGE,
    add_member,
    enrol,
    in_english,
    member_row,
    post,
)
from tests.helpers.publication import approve, case_row, english, page_url, resolve, save

ROGUE_TEXT = "Oknum X terbukti"


@pytest.fixture
def rogue(app, client):
    """The setup admin, signed in, about to try publishing alone; and a resolved report."""
    browser = app.test_client()
    assert staff_login(app, browser, admin_account(app)).status_code == 303
    in_english(browser)
    code, _ = submit_report(client)
    resolve(app, code)
    return browser, code


def signed_in(app, account):
    browser = app.test_client()
    assert staff_login(app, browser, account).status_code == 303
    english(browser)
    return browser


def published(app, code: str) -> bool:
    row = case_row(app, code)
    return row is not None and row.state == "published"


def test_an_account_the_admin_created_cannot_approve_the_admins_summary(app, rogue):
    browser, code = rogue
    password = add_member(browser, "sock@inspektorat.example")
    sock = enrol(app, "sock@inspektorat.example", password)  # the admin enrols it himself
    assert save(browser, code, summary=ROGUE_TEXT).status_code == 303
    puppet = signed_in(app, sock)
    page = puppet.get(page_url(code)).get_data(as_text=True)
    assert 'id="not-independent"' in page and "/approve" not in page
    refused = approve(puppet, code)
    assert refused.status_code == 403
    assert "one person could hold both" in refused.get_data(as_text=True)
    assert not published(app, code)


def test_the_admin_cannot_approve_what_an_account_they_created_wrote(app, rogue):
    browser, code = rogue
    sock = enrol(
        app, "writer@inspektorat.example", add_member(browser, "writer@inspektorat.example")
    )
    assert save(signed_in(app, sock), code, summary=ROGUE_TEXT).status_code == 303
    assert approve(browser, code).status_code == 403
    assert not published(app, code)


def test_two_accounts_set_up_by_one_admin_cannot_publish_together(app, rogue):
    browser, code = rogue
    first = enrol(app, "one@inspektorat.example", add_member(browser, "one@inspektorat.example"))
    second = enrol(app, "two@inspektorat.example", add_member(browser, "two@inspektorat.example"))
    assert save(signed_in(app, first), code, summary=ROGUE_TEXT).status_code == 303
    assert approve(signed_in(app, second), code).status_code == 403
    assert not published(app, code)


def test_a_chain_of_puppet_admins_does_not_help(app, rogue):
    browser, code = rogue
    puppet_admin = enrol(
        app,
        "padmin@inspektorat.example",
        add_member(browser, "padmin@inspektorat.example", "admin"),
    )
    puppet_browser = signed_in(app, puppet_admin)
    in_english(puppet_browser)
    second = enrol(
        app, "deep@inspektorat.example", add_member(puppet_browser, "deep@inspektorat.example")
    )
    assert save(browser, code, summary=ROGUE_TEXT).status_code == 303
    assert approve(signed_in(app, second), code).status_code == 403
    assert not published(app, code)


@pytest.mark.parametrize("how", ["reset", "disable_then_enable"])
def test_resetting_or_re_enabling_an_honest_account_makes_it_the_admins(app, rogue, how):
    browser, code = rogue
    honest = make_staff(app, "investigator")  # set up from the shell: independent
    member = member_row(app, honest.email)
    with app.app_context():
        assert four_eyes.can_approve(
            author=staff.find_by_email(admin_account(app).email),
            approver=staff.find_by_email(honest.email),
        )
    if how == "disable_then_enable":
        assert post(browser, f"{STAFF_PAGE}/{member.id}/disable").status_code == 303
    response = post(browser, f"{STAFF_PAGE}/{member.id}/reset")
    one_time = _ONE_TIME.search(response.get_data(as_text=True)).group(1)
    taken = enrol(app, honest.email, one_time)
    assert save(browser, code, summary=ROGUE_TEXT).status_code == 303
    assert approve(signed_in(app, taken), code).status_code == 403
    assert not published(app, code)


def test_independent_members_still_publish(app, rogue):
    browser, code = rogue
    honest = make_staff(app, "investigator")
    assert save(browser, code, summary="Petugas terbukti menerima uang.").status_code == 303
    assert approve(signed_in(app, honest), code).status_code == 303
    assert published(app, code)


def test_resetting_another_admins_password_needs_a_second_admin(app, rogue):
    browser, _ = rogue
    victim = make_staff(app, "admin")
    victim_browser = signed_in(app, victim)
    victim_id = member_row(app, victim.email).id
    asked = post(browser, f"{STAFF_PAGE}/{victim_id}/reset")
    assert asked.status_code == 303 and "reset_requested" in asked.headers["Location"]
    again = post(browser, f"{STAFF_PAGE}/{victim_id}/reset")  # asking twice is still one admin
    assert again.status_code == 303 and not _ONE_TIME.search(again.get_data(as_text=True))
    # The victim is untouched: same password, still signed in.
    assert victim_browser.get("/inspectorate/").status_code == 200
    assert staff_login(app, app.test_client(), victim).status_code == 303
    # Demoting first does not get around it: the account was an admin's.
    assert (
        post(browser, f"{STAFF_PAGE}/{victim_id}/role", {"role": "investigator"}).status_code == 303
    )
    assert not _ONE_TIME.search(
        post(browser, f"{STAFF_PAGE}/{victim_id}/reset").get_data(as_text=True)
    )
    # A second admin confirms, and only they receive the one-time password.
    second = signed_in(app, make_staff(app, "admin"))
    confirmed = post(second, f"{STAFF_PAGE}/{victim_id}/reset")
    assert confirmed.status_code == 200 and _ONE_TIME.search(confirmed.get_data(as_text=True))
    assert staff_login(app, app.test_client(), victim).status_code == 401


def test_with_one_admin_the_pages_say_four_eyes_cannot_be_enforced(app, rogue):
    browser, _ = rogue
    for url in (STAFF_PAGE, "/inspectorate/publications"):
        assert 'id="four-eyes-warning"' in browser.get(url).get_data(as_text=True)
    # An admin the admin made through the web is no second pair of eyes either.
    add_member(browser, "helper@inspektorat.example", "admin")
    assert 'id="four-eyes-warning"' in browser.get(STAFF_PAGE).get_data(as_text=True)
    make_staff(app, "admin")  # a second admin added from the server's shell
    assert 'id="four-eyes-warning"' not in browser.get(STAFF_PAGE).get_data(as_text=True)


def test_staff_add_from_the_shell_needs_the_recovery_key(app, runner):
    recovery = app.config["TEST_INSTANCE"].recovery_key
    wrong = runner.invoke(args=["staff", "add", "--email", "x@e.test"], input="WRONG\n")
    assert wrong.exit_code != 0 and "recovery key is wrong" in wrong.output
    done = runner.invoke(args=["staff", "add", "--email", "x@e.test"], input=recovery + "\n")
    assert done.exit_code == 0, done.output
    assert re.search(r"One-time password, shown once: \S+", done.output)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Publication)) == 0
        assert four_eyes.enforceable()
