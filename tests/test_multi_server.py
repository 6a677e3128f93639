"""Two app servers on one PostgreSQL database and one Redis serve as one portal."""

from __future__ import annotations

import base64
import http.cookiejar
import json
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from portal import crypto
from tests.helpers import VALID_FORM
from tests.helpers.servers import FLASK, ROOT, Server, make_instance, server_env, start_gunicorn

REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN_EMAIL = "admin@multi.example"
ADMIN_PASSWORD = "two servers, one portal, many kota"
# Low enough to reach in a test, counted by both servers together.
STATUS_LOOKUPS_PER_HOUR = 5

_CODE = re.compile(r'id="tracking-code">([^<]+)<')
_RECEIPT = re.compile(r'id="receipt">([^<]+)<')
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_SUBMISSION = re.compile(r'name="submission" value="([^"]*)"')


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Let the test see each 303 instead of following it."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """One person's browser: one cookie jar, whichever server the load balancer picks.

    Cookies do not depend on the port, so both servers (127.0.0.1, two ports) get the
    cookies either one set, as they would behind one public address.
    """

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirects()
        )

    def open(
        self, server: Server, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """GET (or POST `form`) on `server`; returns (status, page)."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        url = f"http://{server.host}:{server.port}{path}"
        try:
            with self.opener.open(url, data=data, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def csrf(self, server: Server, path: str) -> str:
        """The CSRF token of the form at `path`."""
        status, page = self.open(server, path)
        match = _CSRF.search(page)
        assert status == 200 and match, page
        return match.group(1)


@dataclass
class Portal:
    """Two servers of one portal, and what setup printed once."""

    a: Server
    b: Server
    totp_secret: bytes
    redis_prefix: str
    app_url: str


# What docs/deploy.md (section 5) grants the app servers' role: rows, never the schema,
# and the audit log append-only.
APP_ROLE_GRANTS = """
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
REVOKE UPDATE, DELETE, TRUNCATE ON audit_entry FROM {role};
"""


@contextmanager
def app_role(owner_url: str) -> Iterator[str]:
    """A login role with DML only on the database at `owner_url`; yields its URL."""
    role = f"lapor_app_{secrets.token_hex(4)}"
    with psycopg.connect(owner_url, autocommit=True) as owner:
        owner.execute(f'CREATE ROLE "{role}" LOGIN')
        try:
            owner.execute(APP_ROLE_GRANTS.format(role=f'"{role}"'))
            scheme, rest = owner_url.split("://", 1)
            yield f"{scheme}://{role}@{rest.split('@', 1)[1]}"
        finally:
            owner.execute(f'DROP OWNED BY "{role}"')
            owner.execute(f'DROP ROLE "{role}"')


@pytest.fixture
def portal(tmp_path: Path, postgres_url: str) -> Iterator[Portal]:
    """Set up one shared database as its owner, then serve it from two gunicorn servers
    connected as a role that may only read and write rows."""
    prefix = f"lp_test_{secrets.token_hex(6)}"
    # What each server's instance/config.py holds; the secret comes from the environment.
    shared_config = (
        f"RATELIMIT_STORAGE_OPTIONS = {{'key_prefix': {prefix!r}}}\n"
        f"RATELIMIT_KEY_PREFIX = {prefix!r}\n"
        f"RATELIMIT_STATUS_LOOKUP = '{STATUS_LOOKUPS_PER_HOUR} per hour'\n"
    )
    variables = {
        "DATABASE_URL": postgres_url,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "SECRET_KEY": secrets.token_hex(32),
        "PORTAL_WORKERS": "1",
        "PORTAL_THREADS": "4",
    }
    env_a = server_env(make_instance(tmp_path / "a", shared_config), **variables)
    env_b = server_env(make_instance(tmp_path / "b", shared_config), **variables)
    # Set up (and so migrate) the shared database once, as its owner, from the first host.
    done = subprocess.run(  # noqa: S603 (a fixed command line)
        [*FLASK, "setup", "--admin-email", ADMIN_EMAIL, "--json"],
        cwd=ROOT,
        env=env_a,
        input=ADMIN_PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    servers: list[Server] = []
    store = redis.Redis.from_url(REDIS_URL)
    with app_role(postgres_url) as app_url:
        try:
            for env, name in ((env_a, "a"), (env_b, "b")):
                servers.append(
                    start_gunicorn({**env, "DATABASE_URL": app_url}, tmp_path / f"{name}.log")
                )
            yield Portal(
                servers[0], servers[1], base64.b32decode(printed["totp_secret"]), prefix, app_url
            )
        finally:
            for server in servers:
                server.stop()
            for key in store.scan_iter(f"{prefix}*"):
                store.delete(key)
            store.close()


def file_report_across(browser: Browser, review_on: Server, send_on: Server) -> tuple[str, str]:
    """Review the report on one server and send it on the other; (tracking code, receipt)."""
    form = {**VALID_FORM, "csrf_token": browser.csrf(review_on, "/lapor"), "action": "review"}
    status, review = browser.open(review_on, "/lapor", form)
    assert status == 200, review
    submission = _SUBMISSION.search(review)
    token = _CSRF.search(review)
    assert submission and token
    sent_form = {**VALID_FORM, "csrf_token": token.group(1), "submission": submission.group(1)}
    status, sent = browser.open(send_on, "/lapor/kirim", sent_form)
    assert status == 201, sent
    code, receipt = _CODE.search(sent), _RECEIPT.search(sent)
    assert code and receipt
    return code.group(1), receipt.group(1)


def test_two_servers_serve_one_portal(portal: Portal) -> None:
    a, b = portal.a, portal.b

    # The schema was migrated once, by setup on the first host; both serve it at head.
    for server in (a, b):
        status, _headers, body = server.request("GET", "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok", body

    # A report reviewed on one server, sent on the other, is seen on both.
    citizen = Browser()
    code, receipt = file_report_across(citizen, review_on=a, send_on=b)
    public = Browser()
    status, page = public.open(a, f"/status/{code}")
    assert status == 200 and code in page

    # The reporter's inbox session started on one server goes on on the other.
    reporter = Browser()
    token = reporter.csrf(a, "/kotak-masuk")
    status, _ = reporter.open(
        a, "/kotak-masuk/masuk", {"code": code, "receipt": receipt, "csrf_token": token}
    )
    assert status == 303
    status, inbox = reporter.open(b, "/kotak-masuk")
    assert status == 200 and code in inbox
    assert 'action="/kotak-masuk/pesan"' in inbox  # the signed-in inbox, not its sign-in form

    # A staff session started on one server goes on on the other.
    staff = Browser()
    login = {
        "email": ADMIN_EMAIL,
        "password": ADMIN_PASSWORD,
        "code": crypto.totp_code(portal.totp_secret, time.time()),
        "csrf_token": staff.csrf(b, "/inspectorate/login"),
    }
    status, page = staff.open(b, "/inspectorate/login", login)
    assert status == 303, page
    status, queue = staff.open(a, "/inspectorate/queue")
    assert status == 200 and code in queue

    # A rate limit counted on one server holds on the other: one lookup was made above.
    for server in (b, a, b, a):
        assert public.open(server, f"/status/{code}")[0] == 200
    assert public.open(b, f"/status/{code}")[0] == 429
    assert public.open(a, f"/status/{code}")[0] == 429

    # The counts were kept in Redis under this test's prefix, and nothing logged a 5xx.
    store = redis.Redis.from_url(REDIS_URL)
    try:
        assert any(True for _ in store.scan_iter(f"{portal.redis_prefix}*"))
    finally:
        store.close()
    for server in (a, b):
        assert "Traceback" not in server.log()
        assert "Rate limits are kept in this process's memory" not in server.log()

    # The servers did all this as a role that cannot touch the schema or rewrite the log.
    with psycopg.connect(portal.app_url, autocommit=True) as app:
        assert app.execute("SELECT count(*) FROM audit_entry").fetchone()[0] > 0
        for statement in (
            "UPDATE audit_entry SET detail = detail",
            "DELETE FROM audit_entry",
            "CREATE TABLE intruder (id int)",
            "ALTER TABLE report ADD COLUMN intruder int",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
