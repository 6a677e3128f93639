"""The reporter's inbox: sign in with tracking code + receipt, read, reply, add evidence.

The session cookie is separate from the report form's and limited to /kotak-masuk; it
holds a random token only (see services/sessions.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WerkzeugResponse

from portal import crypto
from portal.citizens import bp
from portal.citizens.forms import EvidenceForm, InboxLoginForm, NewReceiptForm, ReplyForm
from portal.downloads import attachment_response
from portal.evidence import EvidenceRejected
from portal.extensions import db, limiter
from portal.models import Report, SessionKind, Side
from portal.security import client_address, limit
from portal.services import evidence_store, inbox, intake, reports, sessions
from portal.transaction import atomic
from portal.uploads import evidence_uploads

INBOX_COOKIE = "lp_inbox"
INBOX_PATH = "/kotak-masuk"


@dataclass(frozen=True)
class Reporter:
    """The signed-in reporter: one report and its data key, nothing about the person."""

    report: Report
    data_key: crypto.DataKey


def _login_limit() -> str:
    return limit("INBOX_LOGIN")


def current_reporter() -> Reporter | None:
    """The reporter of this request's inbox cookie, if the session is live."""
    if "reporter" not in g:
        with atomic():  # a live session's last-seen time moves; an expired one goes
            live = sessions.resume(request.cookies.get(INBOX_COOKIE), SessionKind.REPORTER)
        report = db.session.get(Report, live.row.report_id) if live else None
        g.reporter = Reporter(report, crypto.DataKey(live.key)) if live and report else None
    reporter: Reporter | None = g.reporter
    return reporter


def signed_in_reporter() -> Reporter:
    """The reporter of a view behind `reporter_required`."""
    reporter = current_reporter()
    if reporter is None:  # reporter_required already redirected; never reached
        abort(401)
    return reporter


def reporter_required(
    view: Callable[..., ResponseReturnValue],
) -> Callable[..., ResponseReturnValue]:
    """Send visitors without a live inbox session to the sign-in page."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if current_reporter() is None:
            return redirect(url_for("citizens.inbox_page"), 303)
        return view(*args, **kwargs)

    return wrapped


def _set_cookie(response: WerkzeugResponse, token: str) -> None:
    response.set_cookie(
        INBOX_COOKIE,
        token,
        path=INBOX_PATH,
        httponly=True,
        samesite="Strict",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )


def _inbox_page(
    reporter: Reporter,
    reply: ReplyForm | None = None,
    upload: EvidenceForm | None = None,
    upload_error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    report = reporter.report
    opened = reports.open_report(report, reporter.data_key)
    return (
        render_template(
            "citizens/inbox.html",
            opened=opened,
            report=report,
            # The stored deadline, as the queue and the overdue digest read it: a later
            # change of the admin's deadline settings does not move a running one.
            due=report.due_on,
            messages=inbox.conversation(report, reporter.data_key),
            files=evidence_store.evidence_list(report, reporter.data_key),
            reply=reply or ReplyForm(formdata=None),
            upload=upload or EvidenceForm(formdata=None),
            new_receipt=NewReceiptForm(formdata=None),
            upload_error=upload_error,
            max_files=current_app.config["EVIDENCE_MAX_FILES"],
        ),
        status,
    )


@bp.get("/kotak-masuk")
def inbox_page() -> ResponseReturnValue:
    """The inbox of the signed-in report, or the sign-in form."""
    reporter = current_reporter()
    if reporter is None:
        return render_template("citizens/inbox_login.html", form=InboxLoginForm())
    return _inbox_page(reporter)


@bp.post("/kotak-masuk/masuk")
@limiter.limit(_login_limit)
def inbox_login() -> ResponseReturnValue:
    """Check tracking code + receipt and open a session carrying the data key."""
    form = InboxLoginForm()
    if not form.validate():
        return render_template("citizens/inbox_login.html", form=form), 400
    try:
        opened = inbox.login(
            form.code.data or "",
            form.receipt.data or "",
            client=client_address(),
            failure_limit=limit("RECEIPT_FAILURES"),
        )
    except inbox.CodeLocked:
        form.receipt.errors = [
            _(
                "Too many wrong receipts for this tracking code from your connection."
                " Try again later."
            )
        ]
        return render_template("citizens/inbox_login.html", form=form), 429
    except inbox.LoginFailed:
        form.receipt.errors = [_("The tracking code or the receipt is wrong.")]
        return render_template("citizens/inbox_login.html", form=form), 401
    with atomic():
        token = sessions.replace(
            request.cookies.get(INBOX_COOKIE),
            kind=SessionKind.REPORTER,
            key=opened.data_key,
            report_id=opened.report_id,
        )
    if opened.receipt_seen_by_staff:
        # The staff member who filed it has seen this receipt: the first sign-in swaps it
        # for one only the reporter sees. If someone else signed in first, the reporter's
        # receipt no longer works, which they notice (the receipt page tells them so).
        return _new_receipt_page(opened.report, opened.data_key, token, first=True)
    response = redirect(url_for("citizens.inbox_page"), 303)
    _set_cookie(response, token)
    return response


def _new_receipt_page(
    report: Report, data_key: crypto.DataKey, token: str, *, first: bool
) -> ResponseReturnValue:
    """Replace the receipt, end every other inbox session of the report, show it once."""
    derived = reports.new_receipt_key()  # slow: before the write transaction opens
    with atomic():
        receipt = inbox.renew_receipt(report, data_key, token, derived)
    response = Response(
        render_template("citizens/new_receipt.html", report=report, receipt=receipt, first=first)
    )
    _set_cookie(response, token)
    return response


@bp.post("/kotak-masuk/tanda-terima")
@reporter_required
def inbox_new_receipt() -> ResponseReturnValue:
    """Give the signed-in reporter a new receipt; the old one stops working."""
    reporter = signed_in_reporter()
    form = NewReceiptForm()
    if not form.validate():
        abort(400)
    token = request.cookies.get(INBOX_COOKIE) or ""
    return _new_receipt_page(reporter.report, reporter.data_key, token, first=False)


@bp.post("/kotak-masuk/keluar")
def inbox_logout() -> ResponseReturnValue:
    """End the session on the server and ask the browser to forget this site."""
    with atomic():
        sessions.end(request.cookies.get(INBOX_COOKIE))
    response = Response(render_template("citizens/inbox_logged_out.html"))
    response.delete_cookie(INBOX_COOKIE, path=INBOX_PATH)
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response


@bp.post("/kotak-masuk/pesan")
@reporter_required
def inbox_reply() -> ResponseReturnValue:
    """Add the reporter's message to the conversation."""
    reporter = signed_in_reporter()
    form = ReplyForm()
    if not form.validate():
        return _inbox_page(reporter, reply=form, status=400)
    with atomic():
        inbox.post_message(
            report=reporter.report,
            data_key=reporter.data_key,
            author=Side.REPORTER,
            body=(form.body.data or "").strip(),
        )
    return redirect(url_for("citizens.inbox_page") + "#messages", 303)


@bp.post("/kotak-masuk/bukti")
@reporter_required
def inbox_add_evidence() -> ResponseReturnValue:
    """Add evidence files; each is cleaned of metadata before it is encrypted."""
    reporter = signed_in_reporter()
    form = EvidenceForm()
    if not form.validate():
        return _inbox_page(reporter, upload=form, status=400)
    try:
        files = evidence_store.read_uploads(evidence_uploads())
        if not files:
            return _inbox_page(reporter, upload_error=_("Choose at least one file."), status=400)
        with atomic():
            evidence_store.add_evidence(
                report=reporter.report,
                data_key=reporter.data_key,
                files=files,
                author=Side.REPORTER,
            )
    except (EvidenceRejected, evidence_store.TooManyFiles) as error:
        refused = intake.refusal(error)
        return _inbox_page(reporter, upload_error=refused.message, status=refused.status)
    return redirect(url_for("citizens.inbox_page") + "#evidence", 303)


@bp.get("/kotak-masuk/bukti/<id:attachment_id>")
@reporter_required
def inbox_download(attachment_id: int) -> ResponseReturnValue:
    """Download one file of the signed-in report, always as an attachment."""
    reporter = signed_in_reporter()
    found = evidence_store.open_evidence(reporter.report, reporter.data_key, attachment_id)
    if found is None:
        abort(404)
    return attachment_response(found.name, found.content_type, found.data)
