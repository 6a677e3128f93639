"""Staff email: a new report and the overdue digest, through a real SMTP sink on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from portal import deadlines
from portal.extensions import db
from portal.models import Report, Status
from portal.services import reports
from tests.helpers import VALID_FORM, submit_report

STAFF = ["inspektorat@example.test", "kepala@example.test"]
MARKER = "NOTIFYMARKER-93b1 calo minta uang di loket"


@dataclass
class Mail:
    """One message the sink accepted."""

    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        """The parsed message."""
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed

    @property
    def text(self) -> str:
        """Subject and decoded body."""
        body = self.message.get_body(("plain",))
        assert body is not None
        return f"{self.message['Subject']}\n{body.get_content()}"


@dataclass
class Sink:
    """What the SMTP sink saw."""

    port: int
    mails: list[Mail] = field(default_factory=list)
    connections: int = 0


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP: HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        sink: Sink = self.server.sink  # type: ignore[attr-defined]
        sink.connections += 1
        self.reply("220 sink.test ESMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink.test")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip(" <>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                sink.mails.append(Mail(sender, recipients, b"".join(lines)))
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A real SMTP server on 127.0.0.1 that keeps what it is sent."""
    server = _Server(("127.0.0.1", 0), _SmtpHandler)
    server.sink = Sink(port=server.server_address[1])  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.sink  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()
    thread.join()


# Notifications on, pointed at the sink.
pytestmark = pytest.mark.app_config(
    NOTIFY_SMTP_HOST="127.0.0.1",
    NOTIFY_SMTP_PORT=lambda request: request.getfixturevalue("sink").port,
    NOTIFY_SMTP_STARTTLS=False,
    NOTIFY_SMTP_TIMEOUT=5,  # a loaded machine answers slowly; nothing waits on it
    NOTIFY_FROM="lapor-pungli@example.test",
    NOTIFY_TO=STAFF,
)


def wait_for(sink: Sink, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(sink.mails) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_filing_sends_no_mail_the_batched_notice_holds_counts_only(app, client, sink):
    code, receipt = submit_report(
        client, chronology=MARKER, person_description=MARKER, contact="0812-555-0199"
    )
    second, _ = submit_report(client)
    time.sleep(0.05)
    # Nothing at the second of filing: a mail's time would date the reporter's visit.
    assert sink.connections == 0 and sink.mails == []
    runner = app.test_cli_runner()
    result = runner.invoke(args=["notify", "new"])
    assert result.exit_code == 0, result.output
    assert "2 new reports" in result.output
    wait_for(sink, 1)
    assert len(sink.mails) == 1
    mail = sink.mails[0]
    assert mail.sender == "lapor-pungli@example.test"
    assert mail.recipients == STAFF
    assert "2" in mail.text
    raw = mail.raw.decode("utf-8", "replace")
    for secret in (code, second, MARKER, receipt, "0812-555-0199", VALID_FORM["promised"]):
        assert secret not in mail.text and secret not in raw
    # The next run has nothing new to say; a later report makes one more notice.
    assert "no new reports" in runner.invoke(args=["notify", "new"]).output
    submit_report(client)
    assert "1 new reports" in runner.invoke(args=["notify", "new"]).output
    wait_for(sink, 2)
    assert len(sink.mails) == 2


def test_the_api_and_every_channel_count_in_the_notice(app, client, sink):
    response = client.post(
        "/api/v1/reports",
        json={
            **{k: v for k, v in VALID_FORM.items() if k not in ("amount_demanded", "paid")},
            "amount_demanded": 150000,
            "paid": True,
        },
    )
    assert response.status_code == 201
    assert sink.mails == []
    assert "1 new reports" in app.test_cli_runner().invoke(args=["notify", "new"]).output
    wait_for(sink, 1)
    assert response.get_json()["tracking_code"] not in sink.mails[0].text


@pytest.mark.app_config(NOTIFY_SMTP_HOST=None)
def test_with_notifications_off_nothing_is_sent_and_filing_works(app, client, sink):
    code, _ = submit_report(client)
    with app.app_context():
        assert reports.find(code) is not None
    for command in ("digest", "new"):
        result = app.test_cli_runner().invoke(args=["notify", command])
        assert result.exit_code == 0
        assert "notifications are off" in result.output
    time.sleep(0.05)
    assert sink.connections == 0 and sink.mails == []


def test_an_unreachable_mail_server_fails_the_notice_not_the_filing(app, client, caplog):
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app.config["NOTIFY_SMTP_PORT"] = closed_port
    code, _ = submit_report(client)
    with app.app_context():
        assert reports.find(code) is not None
    result = app.test_cli_runner().invoke(args=["notify", "new"])
    assert result.exit_code == 1
    assert "notification not sent" in caplog.text
    assert code not in caplog.text
    # Not sent, so not marked: the next run tells the same reports.
    app.config["NOTIFY_SMTP_HOST"] = None


def test_a_mail_server_that_never_answers_does_not_delay_filing(app, client):
    with socket.socket() as silent:  # accepts connections (backlog) but never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        app.config["NOTIFY_SMTP_PORT"] = silent.getsockname()[1]
        started = time.monotonic()
        code, _ = submit_report(client)
        elapsed = time.monotonic() - started
    assert elapsed < 2
    with app.app_context():
        assert reports.find(code) is not None


def test_the_daily_digest_lists_overdue_codes_only(app, client, sink):
    overdue, resolved, on_time, never_due = (submit_report(client)[0] for _ in range(4))
    today = deadlines.local_today()
    with app.app_context():
        for code, due, status in (
            (overdue, today - timedelta(days=2), Status.VERIFIED),
            (resolved, today - timedelta(days=5), Status.RESOLVED),
            (on_time, today + timedelta(days=1), Status.RECEIVED),
            (never_due, None, Status.REFERRED),
        ):
            report = reports.find(code)
            report.due_on, report.status = due, status
        db.session.commit()
    sink.mails.clear()
    result = app.test_cli_runner().invoke(args=["notify", "digest"])
    assert result.exit_code == 0, result.output
    assert overdue in result.output and "1 overdue" in result.output
    wait_for(sink, 1)
    assert len(sink.mails) == 1
    text = sink.mails[0].text
    assert overdue in text
    for code in (resolved, on_time, never_due):
        assert code not in text and code not in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Report.id))) == 4


def test_no_digest_when_nothing_is_overdue_and_failure_exits_non_zero(app, client, sink):
    code, _ = submit_report(client)
    sink.mails.clear()
    result = app.test_cli_runner().invoke(args=["notify", "digest"])
    assert result.exit_code == 0 and "no overdue reports" in result.output
    assert sink.mails == []
    with app.app_context():
        reports.find(code).due_on = deadlines.local_today() - timedelta(days=1)
        db.session.commit()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        app.config["NOTIFY_SMTP_PORT"] = probe.getsockname()[1]
    failed = app.test_cli_runner().invoke(args=["notify", "digest"])
    assert failed.exit_code == 1 and "FAILED" in failed.output
