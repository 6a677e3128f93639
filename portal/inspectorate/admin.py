"""Admin pages: staff members and their sessions, deadlines and retention settings."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from portal.extensions import db
from portal.inspectorate import bp
from portal.inspectorate.access import signed_in_staff, staff_required
from portal.inspectorate.audit import wib
from portal.inspectorate.forms import (
    ROLE_CHOICES,
    ConfirmForm,
    NewMemberForm,
    RoleForm,
    RotateKeysForm,
    SettingsForm,
)
from portal.models import Role, Staff
from portal.services import four_eyes, keys, retention, settings, staff
from portal.transaction import atomic

# Outcomes named in the redirect after a change (POST, then GET: a reload sends nothing).
DONE_MESSAGES = {
    "disabled": lambda: _(
        "The member is disabled: their sessions ended and their copy of the key was deleted."
        " A copy they kept (or one in a backup) still opens the current key: rotate it now"
        " (Key rotation, below) so it opens nothing new."
    ),
    "role": lambda: _("The role was changed."),
    "revoked": lambda: _("The session was ended."),
    "unchanged": lambda: _("Nothing was changed."),
    "reset_requested": lambda: _(
        "This account is or was an admin's, so a second admin must confirm the reset: ask"
        " another admin to press Reset password for it too. They receive the one-time password."
    ),
}


def _member_or_404(staff_id: int) -> Staff:
    """The staff member with this id, or 404."""
    member: Staff = db.get_or_404(Staff, staff_id)
    return member


def _staff_page(
    *, new_form: NewMemberForm | None = None, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    """The members and sessions page, with an optional error from a refused change."""
    done = DONE_MESSAGES.get(request.args.get("done", ""))
    return (
        render_template(
            "inspectorate/admin_staff.html",
            current=signed_in_staff(),
            members=staff.members(),
            live_sessions=staff.live_sessions(),
            new_form=new_form or NewMemberForm(formdata=None),
            confirm_form=ConfirmForm(),
            rotate_form=RotateKeysForm(formdata=None),
            role_choices=ROLE_CHOICES,
            message=done() if done and error is None else None,
            error=error,
            four_eyes_enforceable=four_eyes.enforceable(),
        ),
        status,
    )


def _done(outcome: str) -> ResponseReturnValue:
    """Back to the staff page, naming what happened."""
    return redirect(url_for("inspectorate.admin_staff", done=outcome), 303)


@bp.get("/admin/staff")
@staff_required(Role.ADMIN)
def admin_staff() -> ResponseReturnValue:
    """Staff members (role, active, enrolled) and every live staff session."""
    return _staff_page()


@bp.post("/admin/staff/new")
@staff_required(Role.ADMIN)
def admin_staff_new() -> ResponseReturnValue:
    """Create a member and show their one-time password once, to hand over."""
    current = signed_in_staff()
    form = NewMemberForm()
    if not form.validate():
        return _staff_page(new_form=form, status=400)
    email = (form.email.data or "").strip().lower()
    try:
        with atomic():
            one_time_password = staff.add_member(
                actor=current.member,
                email=email,
                role=Role(form.role.data),
                private_key=current.private_key,
            )
    except staff.DuplicateEmail:
        form.email.errors = [_("A staff member with this email already exists.")]
        return _staff_page(new_form=form, status=400)
    return (
        render_template(
            "inspectorate/admin_handover.html",
            email=email,
            one_time_password=one_time_password,
            created=True,
        ),
        201,
    )


@bp.post("/admin/staff/<id:staff_id>/disable")
@staff_required(Role.ADMIN)
def admin_staff_disable(staff_id: int) -> ResponseReturnValue:
    """Disable a member: sessions end, their wrapped key is deleted."""
    member = _member_or_404(staff_id)
    current = signed_in_staff()
    try:
        with atomic():
            changed = staff.disable_member(member, actor=current.member)
    except staff.OwnAccount:
        return _staff_page(error=_("You cannot disable your own account."), status=400)
    except staff.LastAdmin:
        return _staff_page(error=_("The last active admin cannot be disabled."), status=400)
    return _done("disabled" if changed else "unchanged")


@bp.post("/admin/staff/<id:staff_id>/role")
@staff_required(Role.ADMIN)
def admin_staff_role(staff_id: int) -> ResponseReturnValue:
    """Give a member another role."""
    member = _member_or_404(staff_id)
    current = signed_in_staff()
    form = RoleForm()
    if not form.validate():
        return _staff_page(error=_("Choose one of the roles."), status=400)
    try:
        with atomic():
            changed = staff.change_role(member, actor=current.member, role=Role(form.role.data))
    except staff.OwnAccount:
        return _staff_page(
            error=_("You cannot change your own role. Ask another admin."), status=400
        )
    except staff.LastAdmin:
        return _staff_page(
            error=_("The last active admin must stay an admin. Make someone else admin first."),
            status=400,
        )
    return _done("role" if changed else "unchanged")


@bp.post("/admin/staff/<id:staff_id>/reset")
@staff_required(Role.ADMIN)
def admin_staff_reset(staff_id: int) -> ResponseReturnValue:
    """Give a member a one-time password and a fresh copy of the key; shown once."""
    member = _member_or_404(staff_id)
    current = signed_in_staff()
    try:
        with atomic():
            one_time_password = staff.reset_password(
                member, actor=current.member, private_key=current.private_key
            )
    except staff.OwnAccount:
        return _staff_page(
            error=_("To change your own password, use the Password page."), status=400
        )
    except staff.ResetRequested:
        return _done("reset_requested")
    return render_template(
        "inspectorate/admin_handover.html",
        email=member.email,
        one_time_password=one_time_password,
        created=False,
    )


@bp.post("/admin/sessions/<id:session_id>/revoke")
@staff_required(Role.ADMIN)
def admin_session_revoke(session_id: int) -> ResponseReturnValue:
    """End one staff session, on whichever device it is."""
    current = signed_in_staff()
    try:
        with atomic():
            staff.revoke_session(session_id, actor=current.member)
    except staff.SessionNotFound:
        raise NotFound() from None
    return _done("revoked")


@bp.post("/admin/keys/rotate")
@staff_required(Role.ADMIN)
def admin_keys_rotate() -> ResponseReturnValue:
    """Rotate the inspectorate key pair; every staff session (this one too) ends."""
    current = signed_in_staff()
    if not RotateKeysForm().validate():
        return _staff_page(error=_("Tick the box to confirm the rotation."), status=400)
    try:
        keys.rotate(private_key=current.private_key, actor=current.member.email)
    except keys.NeedsRecoveryKey:
        return _staff_page(
            error=_(
                "This instance was set up before key rotation existed: rotate it once from the"
                " server with the recovery key (flask --app wsgi keys rotate)."
            ),
            status=409,
        )
    except keys.WrongPrivateKey:
        return _staff_page(
            error=_("Your key is not the current inspectorate key. Nothing was changed."),
            status=409,
        )
    return redirect(url_for("inspectorate.login_form"), 303)


def _settings_data() -> dict[str, Any]:
    """The current settings as the form's initial data."""
    return {**settings.get_deadlines(), "retention_months": settings.get_retention_months()}


@bp.route("/admin/settings", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def admin_settings() -> ResponseReturnValue:
    """Working-day deadlines per status and the retention period."""
    current = signed_in_staff()
    if request.method == "GET":
        form = SettingsForm(formdata=None, data=_settings_data())
        return _settings_page(form, saved=request.args.get("saved") == "1")
    form = SettingsForm()
    if not form.validate():
        return _settings_page(form), 400
    try:
        with atomic():
            settings.update(
                actor=current.member.email,
                deadlines={
                    status: int(getattr(form, status).data) for status in settings.DEADLINE_STATUSES
                },
                retention_months=int(form.retention_months.data or 0),
            )
    except settings.InvalidSetting:
        return _settings_page(form), 400
    return redirect(url_for("inspectorate.admin_settings", saved="1"), 303)


def _settings_page(form: SettingsForm, *, saved: bool = False) -> str:
    """Render the settings form with the config defaults beside each value."""
    return render_template(
        "inspectorate/admin_settings.html",
        form=form,
        saved=saved,
        defaults=settings.default_deadlines(),
        statuses=settings.DEADLINE_STATUSES,
        retention=retention.status(),
        wib=wib,
    )
