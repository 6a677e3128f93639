"""Unhandled errors: logged with traceback and endpoint, never with what anyone sent."""

from __future__ import annotations

import logging
import re
import secrets
import textwrap

import pytest
from flask import request
from sqlalchemy import text

from portal import logs
from portal.extensions import db
from tests.helpers import csrf_token
from tests.helpers.serving import (
    TEXT_KEY,
    fetch,
    gunicorn,
    server_environment,
    serving,
    setup_instance,
)

CODE_MARKER = "SRG-7K3Q-9XMD-2P"
RECEIPT_MARKER = "4821-0937-5516-2048-7733"
ADDRESS_MARKER = "203.0.113.77"


@pytest.fixture
def markers() -> dict[str, str]:
    """One marker per place a request carries data; none may reach the log."""
    tag = secrets.token_hex(4)
    return {
        "form": f"formmarker{tag}",
        "query": f"querymarker{tag}",
        "cookie": f"cookiemarker{tag}",
        "receipt": RECEIPT_MARKER,
        "code": CODE_MARKER,
        "address": ADDRESS_MARKER,
    }


def failing_view(**values: str) -> str:
    """A view that fails the way real code does, with everything sent inside its errors.

    A database error whose parameters hold the values, a KeyError while handling it, then
    a ValueError quoting them: three messages that would each leak without scrubbing.
    """
    sent = " ".join(
        [
            *request.form.values(),
            *request.args.values(),
            *request.cookies.values(),
            *values.values(),
            request.remote_addr or "",
        ]
    )
    try:
        db.session.execute(
            text("SELECT no_such_column FROM report WHERE tracking_code = :sent"), {"sent": sent}
        )
    except Exception:
        try:
            {}[sent]  # the KeyError, quoting the key, is the point
        except KeyError as error:
            raise ValueError(f"could not handle {sent}") from error
    return "unreachable"


def assert_safe_failure_log(log: str, markers: dict[str, str], endpoints: list[str]) -> None:
    """The log diagnoses the failure and holds no marker."""
    assert "Traceback (most recent call last):" in log, log
    for endpoint in endpoints:
        assert f"Unhandled ValueError at {endpoint}" in log, log
    # What the operator needs: where, what kind, and the database's own diagnosis.
    assert "in failing_view" in log
    assert "(sqlite3.OperationalError) no such column: no_such_column" in log
    assert "[SQL: SELECT no_such_column FROM report WHERE tracking_code = ?]" in log
    assert "KeyError (message withheld" in log and "ValueError (message withheld" in log
    for place, marker in markers.items():
        assert marker not in log, f"the {place} marker reached the log"
    assert "4821" not in log and "7K3Q" not in log


def test_an_unhandled_error_is_logged_safely(app, client, markers, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    app.view_functions["citizens.review"] = failing_view
    app.view_functions["public.status_page"] = failing_view
    client.set_cookie("tracking", markers["cookie"])
    headers = {"X-Forwarded-For": markers["address"]}
    environ = {"REMOTE_ADDR": markers["address"]}
    form = {
        "chronology": markers["form"],
        "receipt": markers["receipt"],
        "csrf_token": csrf_token(client),
    }
    posted = client.post(
        f"/lapor?q={markers['query']}", data=form, headers=headers, environ_base=environ
    )
    assert posted.status_code == 500
    shown = client.get(
        f"/status/{markers['code']}?q={markers['query']}", headers=headers, environ_base=environ
    )
    assert shown.status_code == 500
    for page in (posted, shown):  # the 500 page shows nothing sent either (its own links aside)
        for place in ("form", "cookie", "receipt", "address"):
            assert markers[place] not in page.get_data(as_text=True)
    out, err = capfd.readouterr()
    records = "\n".join(logging.Formatter().format(record) for record in caplog.records)
    assert_safe_failure_log(err + out, markers, ["citizens.review", "public.status_page"])
    assert_safe_failure_log(records, markers, ["citizens.review", "public.status_page"])


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (TypeError("can't concat str to bytes"), "TypeError: can't concat str to bytes"),
        (AttributeError("'str' has no attribute 'hex'"), "AttributeError: 'str' has no"),
        (ValueError("invalid literal for int(): 'Budi'"), "ValueError (message withheld"),
        (KeyError("Budi"), "KeyError (message withheld"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), "UnicodeDecodeError (message"),
        (RuntimeError("for 203.0.113.9"), "RuntimeError (message withheld"),
    ],
)
def test_only_messages_that_describe_code_are_kept(error, logged):
    assert logs.safe_message(error).startswith(logged)
    for value in ("Budi", "203.0.113.9"):
        assert value not in logs.safe_message(error)


def test_a_kept_message_is_still_scrubbed():
    error = TypeError(f"cannot use {CODE_MARKER} from {ADDRESS_MARKER} with {RECEIPT_MARKER}")
    message = logs.safe_message(error)
    assert message.startswith("TypeError: cannot use")
    for marker in (CODE_MARKER, ADDRESS_MARKER, RECEIPT_MARKER):
        assert marker not in message


@pytest.mark.parametrize(
    ("raw", "scrubbed"),
    [
        ("GET /status/SRG-7K3Q-9XMD-2P?q=1 HTTP/1.1", "GET /status/<code>?<query> HTTP/1.1"),
        ("SRG7K3Q9XMD2P", "<token>"),
        ("from 198.51.100.4:443 and [2001:db8::7]:80", "from <address>:443 and [<address>]:80"),
        ("receipt 4821 0937 5516 2048 7733", "receipt <number>"),
        ("mail budi.santoso@example.go.id", "mail <email>"),
        # Kept: times, SQL placeholders, words, line numbers.
        ("at 12:30:45 WHERE a = ? AND b IN (?, ?)", "at 12:30:45 WHERE a = ? AND b IN (?, ?)"),
        ("line 1234, in authenticated_internationalization", None),
    ],
)
def test_scrub_text_masks_identifying_tokens_only(raw, scrubbed):
    assert logs.scrub_text(raw) == (raw if scrubbed is None else scrubbed)


def test_a_postgresql_error_keeps_its_sqlstate_not_its_detail(instance_folder, postgres_url):
    """PostgreSQL's DETAIL quotes the value ("Key (email)=(...) already exists")."""
    from tests.helpers import make_app

    app = make_app(instance_folder, SQLALCHEMY_DATABASE_URI=postgres_url)
    email = f"budi{secrets.token_hex(3)}@example.go.id"
    with app.app_context():
        db.session.execute(text("CREATE TABLE people (email text UNIQUE)"))
        db.session.execute(text("INSERT INTO people VALUES (:e)"), {"e": email})
        with pytest.raises(Exception) as raised:
            db.session.execute(text("INSERT INTO people VALUES (:e)"), {"e": email})
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    assert email in str(raised.value.orig)  # type: ignore[attr-defined] (the leak, unscrubbed)
    logged = logs.safe_traceback(raised.value)
    assert "SQLSTATE 23505" in logged and "constraint_name=people_email_key" in logged
    assert "[SQL: INSERT INTO people VALUES (" in logged
    assert "budi" not in logged


def test_flask_and_werkzeug_lines_lose_their_paths():
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s", ("x",), None)
    record.msg = '%s - - [01/Dec/2026 10:00:00] "GET /status/%s?q=%s HTTP/1.1" 404 -'
    record.args = (ADDRESS_MARKER, CODE_MARKER, "querymarker")
    logs.ScrubFilter().filter(record)
    line = record.getMessage()
    for marker in (ADDRESS_MARKER, CODE_MARKER, "querymarker"):
        assert marker not in line
    gunicorn_line = logging.LogRecord(
        "gunicorn.error", logging.ERROR, __file__, 1, "Error handling request %s", ("/x/y",), None
    )
    logs.ScrubFilter().filter(gunicorn_line)
    assert gunicorn_line.getMessage() == "Error handling request (path withheld)"


FAULTY_WSGI = textwrap.dedent(
    '''
    """The real portal with two real routes made to fail (tests/test_logging.py)."""
    from tests.test_logging import failing_view
    from wsgi import app

    app.view_functions["citizens.review"] = failing_view
    app.view_functions["public.status_page"] = failing_view
    inner = app.wsgi_app


    def escaping(environ, start_response):
        """An error outside Flask: gunicorn itself logs it, with the request's path."""
        if environ["PATH_INFO"].startswith("/rusak/"):
            raise RuntimeError(environ["PATH_INFO"] + environ["QUERY_STRING"])
        return inner(environ, start_response)


    app.wsgi_app = escaping
    '''
)


def test_gunicorn_error_log_holds_tracebacks_without_request_data(tmp_path, markers):
    """The production server: its stderr is the log an operator reads."""
    folder = tmp_path / "instance"
    env = server_environment(PORTAL_INSTANCE=str(folder), SECRET_KEY=TEXT_KEY, PROXY_COUNT="1")
    setup_instance(env)
    (tmp_path / "faulty_wsgi.py").write_text(FAULTY_WSGI)
    log = tmp_path / "server.log"
    argv = gunicorn("--pythonpath", str(tmp_path), "faulty_wsgi:app")
    with serving(argv, env, log) as base:
        form_page = fetch(base, "/lapor")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form_page.text)
        session = (form_page.header("Set-Cookie") or "").split(";", 1)[0]
        assert token and session
        cookie = f"{session}; tracking={markers['cookie']}"
        headers = {"X-Forwarded-For": markers["address"], "Cookie": cookie}
        body = (
            f"chronology={markers['form']}&receipt={markers['receipt']}&csrf_token={token.group(1)}"
        )
        connection_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        posted = fetch_raw(base, f"/lapor?q={markers['query']}", body, connection_headers)
        assert posted == 500
        shown = fetch(base, f"/status/{markers['code']}?q={markers['query']}", headers=headers)
        assert shown.status == 500
        escaped = fetch(base, f"/rusak/{markers['form']}?q={markers['query']}", headers=headers)
        assert escaped.status == 500
    written = log.read_text()
    assert_safe_failure_log(written, markers, ["citizens.review", "public.status_page"])
    assert "Error handling request (path withheld)" in written
    assert "RuntimeError (message withheld" in written
    # The worker's gunicorn lines and the portal's share one layout.
    assert re.search(
        r"\[ERROR\] portal: Unhandled ValueError at public.status_page \[GET\]", written
    )
    assert re.search(r"\[ERROR\] gunicorn.error: Error handling request", written)


def fetch_raw(base: str, path: str, body: str, headers: dict[str, str]) -> int:
    """POST a url-encoded form; the status."""
    import http.client

    connection = http.client.HTTPConnection(base, timeout=30)
    try:
        connection.request("POST", path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_flasks_own_exception_log_names_the_endpoint_not_the_path(app, capfd):
    """Flask logs "Exception on <path>" itself when an error handler fails in turn."""
    try:
        raise ValueError(f"for {ADDRESS_MARKER}")
    except ValueError as error:
        failure = (type(error), error, error.__traceback__)
    with app.test_request_context(f"/status/{CODE_MARKER}?q=querymarker", method="GET"):
        assert request.endpoint == "public.status_page"
        app.log_exception(failure)
    err = capfd.readouterr().err
    assert "Unhandled exception at public.status_page [GET]" in err
    assert "Traceback (most recent call last)" in err
    for marker in (CODE_MARKER, "querymarker", ADDRESS_MARKER):
        assert marker not in err
