"""Staff sign-in with password + TOTP, first-login enrolment, password change, sign-out."""

from __future__ import annotations

import segno
from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from portal import crypto
from portal.extensions import limiter
from portal.inspectorate import bp, devices
from portal.inspectorate.access import (
    STAFF_COOKIE,
    STAFF_PATH,
    StaffContext,
    current_staff,
    set_staff_cookie,
    signed_in_staff,
    staff_required,
)
from portal.inspectorate.forms import EnrolForm, LoginForm, PasswordForm
from portal.models import SessionKind
from portal.security import client_address
from portal.services import sessions, staff
from portal.transaction import atomic

ISSUER = "Lapor Pungli"


def _login_limit() -> str:
    return str(current_app.config["RATELIMIT_STAFF_LOGIN"])


@bp.get("/")
@staff_required()
def home() -> ResponseReturnValue:
    """The staff start page: what this member's role may open."""
    return render_template("inspectorate/home.html", staff=signed_in_staff())


@bp.get("/login")
def login_form() -> ResponseReturnValue:
    """The sign-in form (or straight on, if already signed in)."""
    if current_staff() is not None:
        return redirect(url_for("inspectorate.home"), 303)
    return render_template("inspectorate/login.html", form=LoginForm())


@bp.post("/login")
@limiter.limit(_login_limit)
def login() -> ResponseReturnValue:
    """Check email, password and TOTP; open a fresh session carrying the private key."""
    form = LoginForm()
    if not form.validate():
        return render_template("inspectorate/login.html", form=form), 400
    device = devices.current_device()
    try:
        # One block: the attempt's audit entry and the new session land together. A refused
        # attempt is a RecordedRefusal, so its count and audit entry are kept.
        with atomic():
            unlocked = staff.authenticate(
                form.email.data or "",
                form.password.data or "",
                form.code.data or "",
                client=client_address(),
                device=(device.member_id, device.device_id, device.generation) if device else None,
            )
            # A new token at every sign-in: a token planted before login is worth nothing.
            token = sessions.replace(
                request.cookies.get(STAFF_COOKIE),
                kind=SessionKind.STAFF,
                key=unlocked.private_key,
                staff_id=unlocked.member.id,
            )
    except staff.AccountLocked:
        form.code.errors = [_("Too many failed attempts for this account. Try again later.")]
        return render_template("inspectorate/login.html", form=form), 429
    except staff.LoginFailed:
        form.code.errors = [_("Email, password or code is wrong.")]
        return render_template("inspectorate/login.html", form=form), 401
    response = redirect(url_for("inspectorate.home"), 303)
    set_staff_cookie(response, token)
    devices.remember(response, unlocked.member.id, unlocked.member.device_generation, device)
    return response


def _signed_out(everywhere: bool) -> ResponseReturnValue:
    current = signed_in_staff()
    with atomic():
        staff.sign_out(current.member, current.session, everywhere=everywhere)
    response = redirect(url_for("inspectorate.login_form"), 303)
    response.delete_cookie(STAFF_COOKIE, path=STAFF_PATH)
    # Not "cookies": that would also forget this browser as a trusted device (devices.py),
    # which keeps the member able to sign in while a stranger uses up the account's budget.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.post("/logout")
@staff_required()
def logout() -> ResponseReturnValue:
    """End this session."""
    return _signed_out(everywhere=False)


@bp.post("/logout/everywhere")
@staff_required()
def logout_everywhere() -> ResponseReturnValue:
    """End every session of this member, on every device."""
    return _signed_out(everywhere=True)


def _qr_data_uri(secret: bytes, email: str) -> str:
    """The otpauth:// URI as an SVG QR code, drawn on the server (no JavaScript)."""
    label = f"{ISSUER}:{email}"
    uri = (
        f"otpauth://totp/{label}?secret={staff.totp_display(secret)}&issuer={ISSUER}"
        f"&digits={crypto.TOTP_DIGITS}&period={crypto.TOTP_STEP_SECONDS}"
    ).replace(" ", "%20")
    return str(segno.make(uri, error="m").svg_data_uri(scale=4))


@bp.route("/enrol", methods=["GET", "POST"])
@staff_required()
def enrol() -> ResponseReturnValue:
    """First login: choose a password and confirm an authenticator app."""
    current = signed_in_staff()
    if current.enrolled:
        return redirect(url_for("inspectorate.home"), 303)
    if current.member.totp_enrolled:
        return _first_password(current)
    form = EnrolForm()
    secret = staff.enrolment_secret(current.member, request.cookies.get(STAFF_COOKIE, ""))
    form.secret.data = staff.totp_display(secret)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate():
            try:
                with atomic():
                    enrolled = staff.enrol(
                        current.member,
                        private_key=current.private_key,
                        new_password=form.new_password.data or "",
                        totp_secret=secret,
                        code=form.code.data or "",
                    )
                if enrolled:
                    return redirect(url_for("inspectorate.home"), 303)
                form.code.errors = [_("That code is not right. Check the time on your phone.")]
            except staff.WeakPassword:
                form.new_password.errors = [_("Use 12 to 256 characters.")]
    return (
        render_template(
            "inspectorate/enrol.html",
            form=form,
            qr=_qr_data_uri(secret, current.member.email),
            secret=grouped(staff.totp_display(secret)),
        ),
        status,
    )


def _first_password(current: StaffContext) -> ResponseReturnValue:
    """Enrolment of a member whose authenticator is already connected: a new password only.

    The first admin's TOTP secret was printed by setup and proven at sign-in; offering a
    second one would only confuse.
    """
    form = PasswordForm()
    if request.method == "POST":
        if form.validate() and _changed_password(current, form):
            return redirect(url_for("inspectorate.home"), 303)
        return render_template("inspectorate/enrol.html", form=form, qr=None), 400
    return render_template("inspectorate/enrol.html", form=form, qr=None)


def _changed_password(current: StaffContext, form: PasswordForm) -> bool:
    """Change the member's password as the validated form asks; False with the form's errors.

    Enrolment of an already connected authenticator and the Password page both end here.
    """
    try:
        with atomic():
            staff.change_password(
                current.member,
                private_key=current.private_key,
                current=form.current.data or "",
                new=form.new_password.data or "",
                keep_session_id=current.session.id,
            )
    except staff.WrongPassword:
        form.current.errors = [_("The current password is wrong.")]
        return False
    except staff.WeakPassword:
        form.new_password.errors = [_("Choose a new password of 12 characters or more.")]
        return False
    return True


def grouped(secret: str) -> str:
    """A base32 secret in groups of four, for typing it by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@bp.route("/password", methods=["GET", "POST"])
@staff_required()
def password() -> ResponseReturnValue:
    """Change one's own password; the private key is re-wrapped under the new one."""
    current = signed_in_staff()
    form = PasswordForm()
    if request.method == "POST":
        if form.validate() and _changed_password(current, form):
            return render_template("inspectorate/password.html", form=None, done=True)
        return render_template("inspectorate/password.html", form=form, done=False), 400
    return render_template("inspectorate/password.html", form=form, done=False)
