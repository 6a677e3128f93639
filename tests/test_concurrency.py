"""Concurrent key derivations: real servers answer every request, bounded slots say 503.

The real-server tests start the portal as operators do (Flask's threaded server, which
`make run` used, and gunicorn with one worker and several threads), on a fresh instance
with an Argon2id cost that takes real time and lanes > 1, where cryptography 50.0.2's
Argon2id deadlocked: two concurrent submissions then never answered.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from portal import create_app, crypto, kdf
from portal.config import ENVIRONMENT_KEYS
from portal.extensions import db
from portal.identifiers import Receipt, TrackingCode
from portal.models import Report, Role
from portal.services import reports, staff
from portal.services import setup as setup_service
from tests.helpers import VALID_FORM, VALID_JSON, make_app, make_staff, staff_login

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "correct horse battery staple"
# 64 MiB, one pass, four lanes: a few tens of milliseconds per derivation on an idle
# core, enough for 32 at once to overlap; lanes > 1 is what deadlocked the old Argon2id.
SLOW_KDF = {"memory_kib": 65536, "iterations": 1, "lanes": 4}
# Every request must answer within this; a hang shows as a client timeout.
CLIENT_TIMEOUT = 60.0
# Rate limits high enough that they never answer in place of what is measured.
UNLIMITED = {
    name: "100000 per minute"
    for name in (
        "RATELIMIT_DEFAULT",
        "RATELIMIT_REPORT_SUBMIT",
        "RATELIMIT_STATUS_LOOKUP",
        "RATELIMIT_RECEIPT_FAILURES",
        "RATELIMIT_INBOX_LOGIN",
        "RATELIMIT_STAFF_FAILURES",
        "RATELIMIT_STAFF_LOGIN",
    )
}
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# In-process tests: a short wait, so a held slot answers 503 at once.
pytestmark = pytest.mark.app_config({"KDF_SLOT_WAIT_SECONDS": 0.05})


# --- In process: the guard, the 503 answers, the settings ------------------------------


def test_derivation_inside_a_request_transaction_is_refused(app: Flask) -> None:
    params = crypto.KdfParams(8, 1, 1)
    with app.test_request_context("/lapor"):
        db.session.scalar(db.select(Report.id).limit(1))  # the request now holds a transaction
        with pytest.raises(kdf.ConnectionHeld):
            crypto.derive_key(b"pw", crypto.random_salt(), params, slots=kdf.slots())
        kdf.release_connection()
        assert not db.session().in_transaction()
        crypto.derive_key(b"pw", crypto.random_salt(), params, slots=kdf.slots())


def test_releasing_the_connection_never_discards_unsaved_changes(app: Flask) -> None:
    from portal.models import Staff

    with app.test_request_context("/lapor"):
        member = staff.find_by_email("admin@example.test")
        assert member is not None
        member.totp_last_step = 1  # changed, not flushed
        with pytest.raises(RuntimeError, match="unsaved"):
            kdf.release_connection()
        db.session.flush()  # flushed, not committed
        with pytest.raises(RuntimeError, match="unsaved"):
            kdf.release_connection()
        db.session.commit()
        kdf.release_connection()  # committed: nothing to lose
        db.session.execute(db.update(Staff).values(totp_last_step=2))  # a statement
        with pytest.raises(RuntimeError, match="unsaved"):
            kdf.release_connection()
        db.session.rollback()
        kdf.release_connection()
        assert member.totp_last_step == 1


def test_production_logs_a_derivation_inside_a_transaction_instead_of_failing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path, TESTING=False)
    with app.app_context():
        db.create_all()
    with app.test_request_context("/lapor"):
        db.session.scalar(db.select(Report.id).limit(1))
        with caplog.at_level("WARNING"):
            crypto.derive_key(
                b"pw", crypto.random_salt(), crypto.KdfParams(8, 1, 1), slots=kdf.slots()
            )
        db.session.remove()
    with app.app_context():
        db.engine.dispose()
    assert "key derivation while holding a database transaction" in caplog.text


def test_sqlite_waits_for_the_write_lock_instead_of_failing(app: Flask, tmp_path: Path) -> None:
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
    postgres = make_app(tmp_path / "pg", SQLALCHEMY_DATABASE_URI="postgresql://x@127.0.0.1/x")
    assert "connect_args" not in postgres.config["SQLALCHEMY_ENGINE_OPTIONS"]


def _hold_every_slot(app: Flask) -> Any:
    """A context manager holding all of the app's derivation slots."""
    from contextlib import ExitStack

    with app.app_context():
        slots = kdf.slots()
    stack = ExitStack()
    for _ in range(slots.count):
        stack.enter_context(slots.hold())
    return stack


def _report_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(db.select(db.func.count(Report.id))) or 0)


def test_busy_api_answers_503_with_retry_after_and_writes_nothing(app: Flask, client: Any) -> None:
    with _hold_every_slot(app):
        response = client.post("/api/v1/reports", json=VALID_JSON)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    error = response.get_json()["error"]
    assert error["code"] == "busy"
    assert error["fields"] == {}
    assert "nothing was saved" in error["message"] or "belum ada yang disimpan" in error["message"]
    assert _report_count(app) == 0
    assert client.post("/api/v1/reports", json=VALID_JSON).status_code == 201
    assert _report_count(app) == 1


def test_busy_pages_are_translated_503s(app: Flask, client: Any) -> None:
    token = _csrf(client.get("/kotak-masuk").get_data(as_text=True))
    form = {"code": "SRG-7K3Q-9XMD-2P", "receipt": "1234-5678-9012-3456-7890", "csrf_token": token}
    with _hold_every_slot(app):
        indonesian = client.post("/kotak-masuk/masuk", data=form)
        client.set_cookie("lang", "en")
        english = client.post("/kotak-masuk/masuk", data=form)
    assert indonesian.status_code == 503
    assert indonesian.headers["Retry-After"] == "1"
    assert "Portal sedang sibuk" in indonesian.get_data(as_text=True)
    assert english.status_code == 503
    assert "The portal is busy" in english.get_data(as_text=True)
    # The unknown tracking code was not counted as a failed attempt either.
    assert client.post("/kotak-masuk/masuk", data=form).status_code == 401


def test_busy_staff_sign_in_is_503_and_leaves_no_trace(app: Flask, client: Any) -> None:
    account = make_staff(app)
    with _hold_every_slot(app):
        response = staff_login(app, client, account)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "lp_staff" not in response.headers.get("Set-Cookie", "")
    assert staff_login(app, client, account).status_code == 303


def test_busy_report_form_keeps_what_was_typed(app: Flask, client: Any) -> None:
    token = _csrf(client.get("/lapor").get_data(as_text=True))
    data = {**VALID_FORM, "csrf_token": token, "submission": "s" * 22}
    with _hold_every_slot(app):
        response = client.post("/lapor/kirim", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "laporan Anda belum terkirim" in page
    assert VALID_FORM["chronology"] in page  # the review form, filled, to send again
    assert _report_count(app) == 0
    assert client.post("/lapor/kirim", data=data).status_code == 201


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("KDF_SLOTS", 0),
        ("KDF_SLOTS", True),
        ("KDF_SLOTS", "4"),
        ("KDF_SLOT_WAIT_SECONDS", -1),
        ("KDF_SLOT_WAIT_SECONDS", 61),
        ("KDF_SLOT_WAIT_SECONDS", float("nan")),
        ("KDF_SLOT_WAIT_SECONDS", "5"),
    ],
)
def test_slot_settings_are_validated(tmp_path: Path, key: str, value: Any) -> None:
    with pytest.raises(ValueError, match=key):
        make_app(tmp_path, **{key: value})


def test_slot_defaults() -> None:
    from portal.config import DefaultConfig

    assert (os.cpu_count() or 1) == DefaultConfig.KDF_SLOTS
    assert 1 <= DefaultConfig.KDF_SLOT_WAIT_SECONDS <= 10
    assert DefaultConfig.KDF_FORBID_HELD_CONNECTION is False


# --- Real servers ----------------------------------------------------------------------


def _csrf(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Answer:
    """One HTTP answer and how long it took."""

    status: int
    headers: dict[str, str]
    body: str
    seconds: float


@dataclass
class Browser:
    """A client with its own cookies that never follows redirects."""

    base: str
    jar: CookieJar = field(default_factory=CookieJar)

    def send(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        json_body: Any = None,
    ) -> Answer:
        """Send one request; HTTP errors are answers too, a timeout raises."""
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        data, headers = None, {}
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        # Only ever http://127.0.0.1:<port> of the server this test started.
        request = urllib.request.Request(self.base + path, data, headers, method=method)  # noqa: S310
        started = time.monotonic()
        try:
            with opener.open(request, timeout=CLIENT_TIMEOUT) as response:
                status, head, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, head, body = error.code, error.headers, error.read()
        return Answer(status, dict(head.items()), body.decode(), time.monotonic() - started)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Portal:
    """A fresh instance served by a real server in a subprocess."""

    folder: Path
    base: str
    recovery_key: str
    staff: list[tuple[str, str, bytes]]
    log: Path


def _server_env(folder: Path) -> dict[str, str]:
    """This environment, selecting `folder`, without settings that would override it."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ENVIRONMENT_KEYS and not name.startswith("FLASK_")
    }
    return {**env, "PORTAL_INSTANCE": str(folder)}


def _instance_app(folder: Path) -> Flask:
    """The instance's app in this process, as its own server builds it."""
    monkey = pytest.MonkeyPatch()
    monkey.setenv("PORTAL_INSTANCE", str(folder))
    for name in ENVIRONMENT_KEYS:
        monkey.delenv(name, raising=False)
    try:
        return create_app()
    finally:
        monkey.undo()


def _make_instance(folder: Path, settings: dict[str, Any], staff_count: int) -> Portal:
    """`flask setup --json` on a new folder with `settings`, plus enrolled staff."""
    folder.mkdir()
    config = {
        "RECEIPT_KDF": SLOW_KDF,
        "PASSWORD_KDF": SLOW_KDF,
        "KDF_FORBID_HELD_CONNECTION": True,
        **UNLIMITED,
        **settings,
    }
    (folder / "config.py").write_text(
        "".join(f"{name} = {value!r}\n" for name, value in config.items())
    )
    env = _server_env(folder)
    done = subprocess.run(  # noqa: S603 (our own venv's flask, fixed arguments)
        [str(BIN / "flask"), "--app", "wsgi", "setup", "--json"],
        input=ADMIN_PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=True,
    )
    printed = json.loads(done.stdout)
    members = []
    app = _instance_app(folder)
    with app.app_context():
        private_key = setup_service.private_key_from_recovery(printed["recovery_key"])
        for number in range(staff_count):
            email = f"staff-{number}@inspektorat.example"
            password = f"password of {email}"
            secret = staff.create_staff(
                email=email,
                role=Role.INVESTIGATOR,
                password=password,
                private_key=private_key,
                must_change_password=False,
                totp_enrolled=True,
            )
            db.session.commit()
            members.append((email, password, base64.b32decode(secret)))
        db.session.remove()
        db.engine.dispose()
    return Portal(folder, "", printed["recovery_key"], members, folder / "server.log")


SERVERS: dict[str, Callable[[int], list[str]]] = {
    # What `make run` used: Flask's server, threaded, one thread per request.
    "flask": lambda port: [
        str(BIN / "flask"), "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(port)
    ],
    # What `make run` becomes: gunicorn, one process with several threads.
    "gunicorn": lambda port: [
        str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--workers", "1", "--threads", "8",
        "--bind", f"127.0.0.1:{port}", "wsgi:app",
    ],
}  # fmt: skip


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Portal]]:
    """Factory: a fresh instance served by `server`; the server is killed afterwards."""
    running: list[subprocess.Popen[bytes]] = []

    def _serve(server: str, settings: dict[str, Any], staff_count: int = 0) -> Portal:
        portal = _make_instance(tmp_path / f"instance-{server}", settings, staff_count)
        port = _free_port()
        with portal.log.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 (our own venv's server, fixed arguments)
                SERVERS[server](port),
                cwd=ROOT,
                env=_server_env(portal.folder),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        running.append(process)
        portal.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, portal.log.read_text()
            try:
                if Browser(portal.base).send("GET", "/api/v1/catalog").status == 200:
                    return portal
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not come up within 30 s"
            time.sleep(0.2)

    yield _serve
    for process in running:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _all_at_once(tasks: list[Callable[[], Answer]]) -> list[Answer]:
    """Run every task in its own thread, released together; each bounded by the timeout."""
    start = threading.Barrier(len(tasks), timeout=30)

    def run(task: Callable[[], Answer]) -> Answer:
        start.wait()
        return task()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(run, task) for task in tasks]
        # A hang shows here as a timeout, never as a stuck suite: urllib's own timeout
        # (CLIENT_TIMEOUT) ends every request first.
        return [future.result(timeout=CLIENT_TIMEOUT + 30) for future in futures]


def _submit(portal: Portal, body: dict[str, Any]) -> Answer:
    return Browser(portal.base).send("POST", "/api/v1/reports", json_body=body)


def _report_json(number: int) -> dict[str, Any]:
    return {**VALID_JSON, "chronology": f"{VALID_JSON['chronology']} Laporan nomor {number}."}


def _assert_answered(answers: list[Answer], accepted: int, label: str) -> dict[str, Any]:
    """Every answer is `accepted` or a 503 with Retry-After; returns numbers for the report."""
    for answer in answers:
        assert answer.status in (accepted, 503), (label, answer.status, answer.body[:500])
        if answer.status == 503:
            assert answer.headers.get("Retry-After", "").isdigit(), (label, answer.headers)
    busy = sum(answer.status == 503 for answer in answers)
    return {
        "what": label,
        "ok": len(answers) - busy,
        "busy_503": busy,
        "max_s": round(max(answer.seconds for answer in answers), 2),
    }


def _open_in_process(portal: Portal, filed: dict[str, tuple[str, int]]) -> None:
    """Every acknowledged report opens with its receipt, with the content that was sent."""
    app = _instance_app(portal.folder)
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count(Report.id)))
        assert count == len(filed), "a refused submission left a report behind"
        for code, (receipt, number) in filed.items():
            report = reports.find(TrackingCode(code))
            assert report is not None, code
            key = reports.key_from_receipt(report, Receipt(receipt))
            opened = reports.open_report(report, key)
            assert opened.content.chronology.endswith(f"Laporan nomor {number}.")
        db.session.remove()
        db.engine.dispose()


def _server_log_is_clean(portal: Portal) -> None:
    text = portal.log.read_text(errors="replace")
    assert "Traceback" not in text and "Unhandled" not in text, text[-3000:]


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_concurrent_submissions_and_sign_ins_all_answer(
    serve: Callable[..., Portal], server: str
) -> None:
    portal = serve(server, {}, staff_count=9)
    numbers: list[dict[str, Any]] = []

    # 32 report submissions at once through the JSON API.
    started = time.monotonic()
    answers = _all_at_once(
        [
            (lambda n=n: _submit(portal, _report_json(n)))
            for n in range(32)
        ]
    )  # fmt: skip
    numbers.append({**_assert_answered(answers, 201, "32 submissions"),
                    "total_s": round(time.monotonic() - started, 2)})  # fmt: skip
    filed = {
        body["tracking_code"]: (body["receipt"], n)
        for n, body in enumerate(json.loads(a.body) for a in answers)
        if answers[n].status == 201
    }
    assert filed, "no submission was accepted"

    # 16 inbox sign-ins at once, each with its own browser and CSRF token.
    codes = list(filed.items())[:16]
    browsers = [Browser(portal.base) for _ in codes]
    tokens = [_csrf(browser.send("GET", "/kotak-masuk").body) for browser in browsers]
    started = time.monotonic()
    answers = _all_at_once(
        [
            (lambda b=b, c=c, r=r, t=t: b.send(
                "POST", "/kotak-masuk/masuk", form={"code": c, "receipt": r, "csrf_token": t}
            ))
            for b, (c, (r, _n)), t in zip(browsers, codes, tokens, strict=True)
        ]
    )  # fmt: skip
    numbers.append({**_assert_answered(answers, 303, f"{len(codes)} inbox sign-ins"),
                    "total_s": round(time.monotonic() - started, 2)})  # fmt: skip
    for browser, answer, (code, _) in zip(browsers, answers, codes, strict=True):
        if answer.status == 303:
            inbox = browser.send("GET", "/kotak-masuk")
            assert inbox.status == 200 and code in inbox.body

    # 8 staff sign-ins at once (password + TOTP), one member each: a code works once.
    members = portal.staff[:8]
    browsers = [Browser(portal.base) for _ in members]
    tokens = [_csrf(browser.send("GET", "/inspectorate/login").body) for browser in browsers]
    forms = [
        {"email": email, "password": password, "csrf_token": token,
         "code": crypto.totp_code(secret, time.time())}
        for (email, password, secret), token in zip(members, tokens, strict=True)
    ]  # fmt: skip
    started = time.monotonic()
    answers = _all_at_once(
        [
            (lambda b=b, f=f: b.send("POST", "/inspectorate/login", form=f))
            for b, f in zip(browsers, forms, strict=True)
        ]
    )  # fmt: skip
    numbers.append({**_assert_answered(answers, 303, "8 staff sign-ins"),
                    "total_s": round(time.monotonic() - started, 2)})  # fmt: skip
    for browser, answer in zip(browsers, answers, strict=True):
        if answer.status == 303:
            assert browser.send("GET", "/inspectorate/").status == 200

    # One member's code sent by 4 sign-ins at once is accepted once: a code works once.
    email, password, secret = portal.staff[8]
    browsers = [Browser(portal.base) for _ in range(4)]
    tokens = [_csrf(browser.send("GET", "/inspectorate/login").body) for browser in browsers]
    code = crypto.totp_code(secret, time.time())
    answers = _all_at_once(
        [
            (lambda b=b, t=t: b.send("POST", "/inspectorate/login", form={
                "email": email, "password": password, "code": code, "csrf_token": t}))
            for b, t in zip(browsers, tokens, strict=True)
        ]
    )  # fmt: skip
    statuses = sorted(answer.status for answer in answers)
    assert statuses.count(303) <= 1, statuses
    assert set(statuses) <= {303, 401, 503}, statuses
    numbers.append({"what": "4 sign-ins, one code", "statuses": statuses})

    print(f"\n{server}: " + json.dumps(numbers))
    _open_in_process(portal, filed)
    _server_log_is_clean(portal)


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_one_slot_and_no_wait_answers_503_and_writes_nothing(
    serve: Callable[..., Portal], server: str
) -> None:
    # Production's cost (64 MiB, 3 passes, 4 lanes), one slot, a wait shorter than one
    # derivation: requests arriving together must mostly be refused, cleanly.
    production = {"memory_kib": 65536, "iterations": 3, "lanes": 4}
    settings = {
        "KDF_SLOTS": 1,
        "KDF_SLOT_WAIT_SECONDS": 0.01,
        "RECEIPT_KDF": production,
        "PASSWORD_KDF": production,
    }
    portal = serve(server, settings)
    answers = _all_at_once(
        [
            (lambda n=n: _submit(portal, _report_json(n)))
            for n in range(12)
        ]
    )  # fmt: skip
    summary = _assert_answered(answers, 201, "12 submissions, 1 slot")
    print(f"\n{server}: " + json.dumps(summary))
    assert summary["busy_503"] >= 1, "one slot and no wait refused nothing"
    for answer in answers:
        if answer.status == 503:
            assert answer.headers["Retry-After"] == "1"
            assert json.loads(answer.body)["error"]["code"] == "busy"
    filed = {
        body["tracking_code"]: (body["receipt"], n)
        for n, body in enumerate(json.loads(a.body) for a in answers)
        if answers[n].status == 201
    }
    _open_in_process(portal, filed)  # also: exactly as many reports as 201s
    _server_log_is_clean(portal)
    # The refusals were momentary: the same server files a report now.
    assert Browser(portal.base).send("POST", "/api/v1/reports", json_body=VALID_JSON).status == 201
