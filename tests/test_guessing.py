"""Guessing is bounded, and a stranger who knows a tracking code or an email locks no one out."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.transaction import atomic
from tests.helpers import ADMIN_EMAIL, csrf_token, make_staff, staff_login, totp_for

WRONG_RECEIPT = "0000-1111-2222-3333-4444"


def sign_in(client: FlaskClient, code: str, receipt: str, address: str):
    """The inbox sign-in form, from `address`."""
    token = csrf_token(client, "/kotak-masuk")
    return client.post(
        "/kotak-masuk/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def staff_sign_in(client: FlaskClient, email: str, password: str, code: str, address: str):
    """The staff sign-in form, from `address`."""
    token = csrf_token(client, "/inspectorate/login")
    return client.post(
        "/inspectorate/login",
        data={"email": email, "password": password, "code": code, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_twenty_wrong_receipts_for_a_strangers_code_do_not_lock_the_reporter(app, file_report):
    code, receipt = file_report()
    stranger = app.test_client()
    answers = [
        sign_in(stranger, code, WRONG_RECEIPT, "198.51.100.9").status_code for _ in range(20)
    ]
    assert answers[:5] == [401] * 5  # five real checks, then this address is locked out
    assert set(answers[5:]) == {429}
    # The right receipt from the stranger's address is refused too: no check is made.
    assert sign_in(stranger, code, receipt, "198.51.100.9").status_code == 429
    reporter = app.test_client()
    assert sign_in(reporter, code, receipt, "203.0.113.5").status_code == 303


def test_wrong_receipts_from_many_addresses_still_do_not_lock_the_reporter(app, file_report):
    code, receipt = file_report()
    stranger = app.test_client()
    for index in range(30):
        assert sign_in(stranger, code, WRONG_RECEIPT, f"198.51.100.{index}").status_code == 401
    assert sign_in(app.test_client(), code, receipt, "203.0.113.5").status_code == 303


def _in_one_key_epoch(
    app: Flask, addresses: tuple[str, str], attempts: Callable[[str], list[int]]
) -> list[int]:
    """The answers of `attempts` from the first address, or from the second if the key
    epoch (the hour) turned during the first run: a new epoch starts every count afresh,
    by design, so the second address runs the same check inside one epoch."""
    rotation = int(app.config["RATELIMIT_KEY_ROTATION_SECONDS"])
    for address in addresses:
        epoch = int(time.time()) // rotation
        answers = attempts(address)
        if int(time.time()) // rotation == epoch:
            break
    return answers


def test_the_per_address_budget_bounds_guesses_over_all_codes(app, file_report):
    """20 sign-ins an hour per address, whatever the codes: a guesser cannot spread out."""
    codes = [file_report()[0] for _ in range(5)]
    stranger = app.test_client()
    answers = _in_one_key_epoch(
        app,
        ("198.51.100.77", "198.51.100.78"),
        lambda address: [
            sign_in(stranger, codes[index % 5], WRONG_RECEIPT, address).status_code
            for index in range(21)
        ],
    )
    assert answers[:20] == [401] * 20
    assert answers[20] == 429


def test_ten_wrong_passwords_for_a_known_email_do_not_lock_the_member_out(app):
    stranger = app.test_client()
    members = []

    def ten_wrong_passwords(address: str) -> list[int]:
        members.append(make_staff(app))  # a new member too: its own count starts afresh
        return [
            staff_sign_in(stranger, members[-1].email, "guess", "000000", address).status_code
            for _ in range(10)
        ]

    answers = _in_one_key_epoch(app, ("192.0.2.66", "192.0.2.67"), ten_wrong_passwords)
    member = members[-1]
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}
    own = app.test_client()
    code = totp_for(app, member)
    assert staff_sign_in(own, member.email, member.password, code, "203.0.113.7").status_code == 303


def test_a_trusted_device_signs_in_while_strangers_exhaust_the_account(app):
    member = make_staff(app)
    own = app.test_client()
    assert staff_login(app, own, member).status_code == 303
    own.post("/inspectorate/logout", data={"csrf_token": csrf_token(own, "/inspectorate/")})
    stranger = app.test_client()
    for index in range(12):  # twelve addresses: past the account's budget for strangers
        staff_sign_in(stranger, member.email, "guess", "000000", f"192.0.2.{index}")
    # A browser that never signed in to this account is now refused, the right password too...
    fresh = app.test_client()
    code = totp_for(app, member)
    assert (
        staff_sign_in(fresh, member.email, member.password, code, "203.0.113.8").status_code == 429
    )
    # ...but the member's own browser, which signed in before, gets in.
    code = totp_for(app, member)
    assert staff_sign_in(own, member.email, member.password, code, "192.0.2.1").status_code == 303


def test_a_trusted_device_has_its_own_budget_and_is_bound_to_one_account(app):
    member, other = make_staff(app), make_staff(app)
    own = app.test_client()
    assert staff_login(app, own, member).status_code == 303
    own.post("/inspectorate/logout", data={"csrf_token": csrf_token(own, "/inspectorate/")})
    # Its cookie makes it trusted for `member` only: for `other` it counts as a stranger.
    for _ in range(5):
        assert staff_sign_in(own, other.email, "guess", "1", "192.0.2.50").status_code == 401
    assert staff_sign_in(own, other.email, "guess", "1", "192.0.2.50").status_code == 429
    for _ in range(5):
        assert staff_sign_in(own, member.email, "guess", "1", "192.0.2.50").status_code == 401
    code = totp_for(app, member)
    locked = staff_sign_in(own, member.email, member.password, code, "192.0.2.51")
    assert locked.status_code == 429  # the device's budget is spent, wherever it moves


def test_a_forged_device_cookie_is_not_trusted(app):
    member = make_staff(app)
    stranger = app.test_client()
    stranger.set_cookie("lp_device", "WzEsImFiYyJd.forged.sig", path="/inspectorate/login")
    for index in range(12):
        staff_sign_in(stranger, member.email, "guess", "1", f"192.0.2.{100 + index}")
    code = totp_for(app, member)
    answer = staff_sign_in(stranger, member.email, member.password, code, "192.0.2.200")
    assert answer.status_code == 429


def test_the_device_cookie_is_http_only_strict_and_sign_in_only(app):
    member = make_staff(app)
    own = app.test_client()
    response = staff_login(app, own, member)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("lp_device="))
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/inspectorate/login" in cookie
    logout = own.post(
        "/inspectorate/logout", data={"csrf_token": csrf_token(own, "/inspectorate/")}
    )
    assert "cookies" not in logout.headers["Clear-Site-Data"]


def test_a_password_reset_revokes_the_members_trusted_devices(app):
    """A reset answers a suspected takeover: a browser that signed in before must not keep
    a budget of its own (the thief's browser may be one of them)."""
    from portal.services import setup as setup_service
    from portal.services import staff as staff_service

    member = make_staff(app)
    own = app.test_client()
    assert staff_login(app, own, member).status_code == 303
    own.post("/inspectorate/logout", data={"csrf_token": csrf_token(own, "/inspectorate/")})
    with app.test_request_context(), atomic():
        admin = staff_service.find_by_email(ADMIN_EMAIL)
        key = setup_service.private_key_from_recovery(app.config["TEST_INSTANCE"].recovery_key)
        one_time = staff_service.reset_password(
            staff_service.find_by_email(member.email), actor=admin, private_key=key
        )
    stranger = app.test_client()
    for index in range(12):  # past the account's budget for browsers it does not trust
        staff_sign_in(stranger, member.email, "guess", "", f"192.0.2.{index}")
    # The old device cookie no longer lets its browser try: it is a stranger now.
    answer = staff_sign_in(own, member.email, one_time, "", "192.0.2.1")
    assert answer.status_code == 429


@pytest.mark.app_config({"RATELIMIT_ENABLED": False})
def test_sign_ins_work_and_guesses_stay_bounded_with_request_limits_off(app, file_report):
    code, receipt = file_report()
    stranger = app.test_client()
    answers = [sign_in(stranger, code, WRONG_RECEIPT, "198.51.100.9").status_code for _ in range(8)]
    assert answers[:5] == [401] * 5  # the guessing counters still apply
    assert set(answers[5:]) == {429}
    assert sign_in(app.test_client(), code, receipt, "203.0.113.5").status_code == 303
    member = make_staff(app)
    guesses = [
        staff_sign_in(stranger, member.email, "guess", "000000", "192.0.2.66").status_code
        for _ in range(7)
    ]
    assert guesses[:5] == [401] * 5 and set(guesses[5:]) == {429}
    code = totp_for(app, member)
    own = app.test_client()
    assert staff_sign_in(own, member.email, member.password, code, "203.0.113.7").status_code == 303
