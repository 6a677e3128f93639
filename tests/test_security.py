"""Security invariants: headers, CSRF, no client address or user agent written anywhere."""

import logging
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal.extensions import limiter
from tests.helpers import VALID_FORM, VALID_JSON, csrf_token, submit_report

CITIZEN_ADDRESS = "203.0.113.77"
CITIZEN_AGENT = "MarkerAgent/9.9 (CitizenPhone)"
SAMPLE_ARGS = {"code": "SRG-AAAA-BBBB-CC", "tracking_code": "SRG-AAAA-BBBB-CC", "lang": "en"}


def _routes(app):
    """(url, method) for every route of the app, arguments filled with samples."""
    for rule in app.url_map.iter_rules():
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<{argument}>", SAMPLE_ARGS.get(argument, "x"))
        url = re.sub(r"<(?:int|id):[^>]+>", "1", url)
        url = re.sub(r"<[^>]+>", "x", url)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield url, method


def test_every_route_sends_strict_headers(app, client):
    routes = list(_routes(app))
    assert len(routes) >= 10
    for url, method in [*routes, ("/no-such-page", "GET"), ("/lapor", "DELETE")]:
        response = client.open(url, method=method)
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "default-src 'none'" in csp, url
        assert "frame-ancestors 'none'" in csp, url
        assert "unsafe-inline" not in csp, url
        assert headers.get("Referrer-Policy") == "no-referrer", url
        assert headers.get("X-Content-Type-Options") == "nosniff", url
        assert headers.get("X-Frame-Options") == "DENY", url
        if not url.startswith("/static/"):
            assert headers.get("Cache-Control") == "no-store", url
        assert response.status_code < 500, (url, method)


def test_pages_have_no_inline_script_or_style(client):
    for url in ("/", "/lapor", "/status", f"/status/{SAMPLE_ARGS['code']}"):
        html = client.get(url).get_data(as_text=True)
        assert "<script" not in html
        assert " style=" not in html
        assert "<style" not in html
        # Nothing is loaded from another host.
        assert not re.search(r'(src|href)="(https?:)?//', html)


def test_every_form_post_needs_csrf(app, client):
    posts = [
        url for url, method in _routes(app) if method == "POST" and not url.startswith("/api/")
    ]
    assert {"/lapor", "/lapor/kirim", "/status"} <= set(posts)
    for url in posts:
        response = client.post(url, data=VALID_FORM)
        assert response.status_code == 400, url
        assert (
            "form" in response.get_data(as_text=True).lower()
            or "formulir" in response.get_data(as_text=True).lower()
        )


def test_api_refuses_form_encoded_bodies(client):
    """A cross-site HTML form cannot post to the API: it only takes application/json."""
    response = client.post("/api/v1/reports", data=VALID_FORM)
    assert response.status_code == 415


def _instance_bytes(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in folder.rglob("*") if path.is_file())


def test_no_address_or_user_agent_written(app, client, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    environ = {"REMOTE_ADDR": CITIZEN_ADDRESS, "HTTP_USER_AGENT": CITIZEN_AGENT}
    client.environ_base.update(environ)
    submit_report(client)
    client.post("/api/v1/reports", json=VALID_JSON)
    client.post("/status", data={"code": "SRG-AAAA-BBBB-CC", "csrf_token": csrf_token(client)})
    client.get("/no-such-page")
    with app.app_context():
        from portal.extensions import db

        db.session.remove()
        db.engine.dispose()
    out, err = capfd.readouterr()
    written = _instance_bytes(app.config["TEST_INSTANCE"].folder)
    logs = "\n".join(record.getMessage() for record in caplog.records) + out + err
    for secret in (CITIZEN_ADDRESS, CITIZEN_AGENT, "MarkerAgent"):
        assert secret.encode() not in written
        assert secret not in logs
    # Rate-limit storage holds keyed hashes only.
    storage = limiter.storage
    keys = " ".join(
        str(key)
        for attr in ("storage", "expirations", "events")
        for key in getattr(storage, attr, {})
    )
    assert keys, "the limiter stored nothing: the test would prove nothing"
    assert CITIZEN_ADDRESS not in keys


def test_development_server_log_has_no_client_address(app):
    """The request log of `flask run` (Werkzeug): no address, no path, no time."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Collect()
    logger = logging.getLogger("werkzeug")
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.server_port}/status/SRG-AAAA-BBBB-CC",
            headers={"User-Agent": CITIZEN_AGENT},
        )
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request)  # noqa: S310 (loopback only)
        assert raised.value.code == 404
        raised.value.close()
    finally:
        server.shutdown()
        thread.join()
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    request_lines = [line for line in records if '"GET ' in line]
    assert request_lines, records
    for line in request_lines:
        assert "127.0.0.1" not in line
        assert CITIZEN_AGENT not in line
        # The path (a tracking code someone looked up) and the second are gone too.
        assert "SRG" not in line and "/status" not in line, line
        assert not re.search(r"\d{2}:\d{2}:\d{2}", line), line
        assert line.startswith('- - - [-] "GET - HTTP/1.1" 404'), line


pytestmark = pytest.mark.app_config(
    {"RATELIMIT_STATUS_LOOKUP": "3 per minute", "RATELIMIT_REPORT_SUBMIT": "2 per hour"}
)


def test_status_lookups_are_rate_limited(client):
    for _ in range(3):
        assert client.get("/status/SRG-AAAA-BBBB-CC").status_code == 404
    limited = client.get("/status/SRG-AAAA-BBBB-CC")
    assert limited.status_code == 429
    assert "<h1>" in limited.get_data(as_text=True)


def test_the_lookup_budget_is_shared_by_the_page_the_form_and_the_api(client):
    """Three lookups in all, whichever way they come: a guesser cannot switch doors."""
    code = "SRG-AAAA-BBBB-CC"
    assert client.get(f"/status/{code}").status_code == 404
    assert client.get(f"/api/v1/reports/{code}").status_code == 404
    token = (
        client.get("/status")
        .get_data(as_text=True)
        .split('name="csrf_token" type="hidden" value="')[1]
        .split('"')[0]
    )
    assert client.post("/status", data={"code": code, "csrf_token": token}).status_code == 404
    assert client.get(f"/api/v1/reports/{code}").status_code == 429
    assert client.get(f"/status/{code}").status_code == 429
    # Other pages still answer: only the lookups are spent.
    assert client.get("/layanan").status_code == 200


def test_report_submission_is_rate_limited(client):
    submit_report(client)
    submit_report(client)
    assert client.post("/api/v1/reports", json=VALID_JSON).status_code == 429


def test_error_page_reveals_no_internals(app):
    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("SECRET-INTERNAL-DETAIL")

    response = app.test_client().get("/boom-for-test")
    assert response.status_code == 500
    assert "SECRET-INTERNAL-DETAIL" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
