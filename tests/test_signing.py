"""Kept signers make the same signed values as itsdangerous and Flask-WTF read them.

The stored pages (home, report form, status) carry tokens made by portal.signing, not by
Flask-WTF: a token it would refuse, or a session cookie Flask could not open, would turn
every first visit's form into a 400.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask, render_template_string, session
from flask.testing import FlaskClient
from flask_wtf.csrf import validate_csrf
from itsdangerous import BadSignature, URLSafeTimedSerializer

from portal import signing
from portal.signing import KeptSignerSerializer

UNKNOWN = "SRG-0000-0000-00"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def test_the_portal_uses_flask_wtfs_default_key_and_field(app: Flask) -> None:
    """csrf_token() copies Flask-WTF's defaults; a setting would make the two disagree."""
    assert not app.config.get("WTF_CSRF_SECRET_KEY")
    assert app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token") == signing.CSRF_FIELD


def test_a_stored_pages_token_passes_flask_wtf_on_a_first_visit(client: FlaskClient) -> None:
    """Each first visit gets its own token, valid for its own session only."""
    tokens = []
    for _ in range(2):
        client._cookies.clear()
        home = client.get("/")
        assert home.status_code == 200
        tokens.append(_TOKEN.search(home.get_data(as_text=True)).group(1))
        looked_up = client.post("/status", data={"csrf_token": tokens[-1], "code": UNKNOWN})
        assert looked_up.status_code == 404  # checked and not found, not refused as CSRF
    assert tokens[0] != tokens[1]
    refused = client.post("/status", data={"csrf_token": tokens[0], "code": UNKNOWN})
    assert refused.status_code == 400  # the other visitor's token


def test_tokens_are_what_flask_wtf_makes_and_checks(app: Flask) -> None:
    with app.test_request_context("/"):
        token = signing.csrf_token()
        assert signing.csrf_token() == token  # one per request
        validate_csrf(token)  # raises if Flask-WTF would refuse it
        raw = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").loads(token)
        assert raw == session["csrf_token"]


def test_kept_signer_serializer_reads_and_is_read_by_itsdangerous() -> None:
    keys = [b"old key", b"new key"]
    kept = KeptSignerSerializer(keys, salt="s")
    plain = URLSafeTimedSerializer(keys, salt="s")
    small, large = {"csrf_token": "a" * 40}, {"text": "b" * 2000}
    for value in (small, large):
        assert plain.loads(kept.dumps(value)) == value
        assert kept.loads(plain.dumps(value)) == value
    assert not kept.dumps(small).startswith(".")  # sent as it is: zlib would not shrink it
    assert kept.dumps(large).startswith(".")  # compressed as itsdangerous would
    # A value signed with the older key still opens (key rotation), and a forged one not.
    old = URLSafeTimedSerializer(b"old key", salt="s").dumps(small)
    assert kept.loads(old) == small
    with pytest.raises(BadSignature):
        kept.loads(URLSafeTimedSerializer(b"other", salt="s").dumps(small))


def test_forms_and_templates_share_the_kept_serializers_token(app: Flask) -> None:
    """A page's forms (form.csrf_token) and bare template fields (csrf_token()) agree, and
    templates call the kept serializer's csrf_token, not Flask-WTF's context processor's."""
    from portal.citizens.forms import InboxLoginForm

    with app.test_request_context("/"):
        assert render_template_string("{{ csrf_token.__module__ }}") == "portal.signing"
        field = InboxLoginForm().csrf_token.current_token
        rendered = render_template_string("{{ csrf_token() }}")
        assert field == rendered == signing.csrf_token()
        validate_csrf(field)
