"""Light pages: fingerprinted static files cached for a year, gzip only where no secret is."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
_STYLESHEET = re.compile(r'<link rel="stylesheet" href="(/static/css/portal\.css\?v=([0-9a-f]+))">')


def test_stylesheet_address_names_its_content_and_is_cached_for_a_year(client):
    html = client.get("/").get_data(as_text=True)
    match = _STYLESHEET.search(html)
    assert match, "the stylesheet link carries no fingerprint"
    content = (STATIC / "css" / "portal.css").read_bytes()
    assert hashlib.sha256(content).hexdigest().startswith(match.group(2))
    with client.get(match.group(1)) as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # Without the fingerprint, or with an old one, the browser must ask again.
    for stale in ("/static/css/portal.css", "/static/css/portal.css?v=0123456789ab"):
        with client.get(stale) as again:
            assert again.headers["Cache-Control"] == "no-cache"


def test_staff_pages_load_their_own_stylesheet_and_citizens_do_not(client):
    assert "staff.css" not in client.get("/lapor").get_data(as_text=True)
    assert "staff.css" in client.get("/inspectorate/login").get_data(as_text=True)


def test_public_pages_without_secrets_are_compressed(client):
    plain = client.get("/transparansi").get_data()
    packed = client.get("/transparansi", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain
    assert len(packed.data) < len(plain) / 3


def test_pages_with_a_form_token_or_private_content_are_never_compressed(client, staff_client):
    # BREACH: a compressed secret beside text an attacker chose leaks through the size.
    for path in ("/", "/lapor", "/status", "/kotak-masuk"):
        response = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in response.headers, path
    staff = staff_client()
    queue = staff.get("/inspectorate/queue", headers={"Accept-Encoding": "gzip"})
    assert queue.status_code == 200 and "Content-Encoding" not in queue.headers
