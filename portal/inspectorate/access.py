"""Who is signed in on the staff side, and the decorator every staff view wears.

The staff cookie holds a random token only and is limited to /inspectorate; the
session row holds the inspectorate private key sealed under that token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import abort, current_app, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from portal import crypto
from portal.models import PortalSession, Role, SessionKind, Staff
from portal.services import sessions
from portal.transaction import atomic

STAFF_COOKIE = "lp_staff"
STAFF_PATH = "/inspectorate"
# Views a member may use before finishing first-login enrolment.
ENROLMENT_ENDPOINTS = frozenset({"inspectorate.enrol", "inspectorate.logout"})

View = Callable[..., ResponseReturnValue]


@dataclass(frozen=True)
class StaffContext:
    """The signed-in member, their unlocked private key and their session row."""

    member: Staff
    private_key: crypto.PrivateKey
    session: PortalSession

    @property
    def enrolled(self) -> bool:
        """Whether first-login password change and TOTP enrolment are done."""
        return self.member.totp_enrolled and not self.member.must_change_password


def current_staff() -> StaffContext | None:
    """The live staff session of this request, if any (cached per request)."""
    if "staff" not in g:
        found = sessions.find(request.cookies.get(STAFF_COOKIE), SessionKind.STAFF)
        live = found.live if found is not None else None
        if found is not None and found.needs_write:
            # An expired session goes; a live one's last-seen time moves (at most once a
            # minute, sessions.TOUCH_INTERVAL). Other views write nothing here, so they
            # commit nothing and keep the rows just read instead of reloading them.
            with atomic():
                live = sessions.settle(found)
        member = found.member if live is not None and found is not None else None
        if live and member is not None and member.active:
            g.staff = StaffContext(member, crypto.PrivateKey(live.key), live.row)
        else:
            g.staff = None
    staff: StaffContext | None = g.staff
    return staff


def signed_in_staff() -> StaffContext:
    """The staff member of a view behind `staff_required`."""
    staff = current_staff()
    if staff is None:  # staff_required already redirected; never reached
        abort(401)
    return staff


def staff_required(*roles: Role) -> Callable[[View], View]:
    """Allow signed-in, enrolled staff of the given roles (any role if none given).

    Visitors without a staff session go to the sign-in page; members of other
    roles get 403; members still enrolling are sent to enrolment.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            staff = current_staff()
            if staff is None:
                return redirect(url_for("inspectorate.login"), 303)
            if not staff.enrolled and request.endpoint not in ENROLMENT_ENDPOINTS:
                return redirect(url_for("inspectorate.enrol"), 303)
            if roles and staff.member.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def set_staff_cookie(response: Response, token: str) -> None:
    """Send the session token: HttpOnly, SameSite=Strict, only under /inspectorate."""
    response.set_cookie(
        STAFF_COOKIE,
        token,
        path=STAFF_PATH,
        httponly=True,
        samesite="Strict",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
