"""Trusted devices: a browser that signed in to a staff account may still try when it is locked.

OWASP's "device cookie": a stranger who knows a member's email can use up the account's
failure budget, but only from browsers that never signed in to it. The member's own
browser carries a signed cookie naming the account and a random device id, and keeps
its own, separate budget. The cookie holds no secret the server needs and no key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

DEVICE_COOKIE = "lp_device"
DEVICE_PATH = "/inspectorate/login"  # sent with sign-in only
_SALT = "staff-device"


@dataclass(frozen=True)
class Device:
    """A browser that signed in to the account `member_id` before.

    `generation` is the account's device generation when the cookie was made; a password
    reset raises the account's, and the cookie stops counting (services/staff.py).
    """

    member_id: int
    device_id: str
    generation: int = 0


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def current_device() -> Device | None:
    """The trusted device this sign-in request comes from, if its cookie is valid."""
    token = request.cookies.get(DEVICE_COOKIE)
    if not token or len(token) > 200:
        return None
    max_age = current_app.config["STAFF_DEVICE_DAYS"] * 86400
    try:
        loaded = _serializer().loads(token, max_age=max_age)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(loaded, list) or len(loaded) not in (2, 3):
        return None
    # Cookies made before device generations existed carry none: generation 0.
    member_id, device_id, generation = [*loaded, 0][:3]
    numbers = (member_id, generation)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        return None
    if not isinstance(device_id, str):
        return None
    return Device(member_id, device_id, generation)


def remember(response: Response, member_id: int, generation: int, device: Device | None) -> None:
    """Mark this browser as a trusted device of `member_id` (keeping its id if it had one)."""
    device_id = (
        device.device_id if device and device.member_id == member_id else secrets.token_hex(16)
    )
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps([member_id, device_id, generation]),
        max_age=current_app.config["STAFF_DEVICE_DAYS"] * 86400,
        path=DEVICE_PATH,
        httponly=True,
        samesite="Strict",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
