"""The JSON API as a trusted gateway uses it."""

from __future__ import annotations

import secrets

from flask import Flask

from tests.helpers.instance import ADMIN_EMAIL


def gateway_key(app: Flask, channel: str = "api", reports_per_hour: int = 1000) -> str:
    """A trusted gateway's API key (as an admin makes one); the secret, shown once."""
    from portal.extensions import db
    from portal.models import Channel, Staff
    from portal.services import api_keys
    from portal.transaction import atomic

    with app.app_context(), atomic():
        admin = db.session.scalars(db.select(Staff).where(Staff.email == ADMIN_EMAIL)).one()
        made = api_keys.create(
            actor=admin,
            name=f"gateway {secrets.token_hex(3)}",
            channel=Channel(channel),
            reports_per_hour=reports_per_hour,
        )
        return made.secret
