"""Optional email to staff: batched notices of new reports, and a daily overdue digest.

Off unless NOTIFY_SMTP_HOST is set. A mail says only counts and tracking codes, never
what anyone wrote: it crosses mail servers we do not control. Sending is best effort:
a failure is logged (without the message) and never undoes or fails what caused it.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func

from portal import deadlines
from portal.extensions import db
from portal.models import Report, Setting, Status

log = logging.getLogger(__name__)

# Statuses in which a report is finished: never overdue, whatever its due date says.
CLOSED = (Status.RESOLVED, Status.REJECTED)


@dataclass(frozen=True)
class Digest:
    """What the overdue digest holds: counts and tracking codes only."""

    total: int
    by_status: dict[str, int]
    codes: list[str]  # the oldest deadlines first, at most NOTIFY_DIGEST_MAX_CODES


def enabled() -> bool:
    """Whether notifications are configured (NOTIFY_SMTP_HOST is set)."""
    return bool(current_app.config.get("NOTIFY_SMTP_HOST"))


def recipients() -> list[str]:
    """The staff addresses from NOTIFY_TO (a list, or one comma-separated string)."""
    configured = current_app.config.get("NOTIFY_TO") or []
    if isinstance(configured, str):
        configured = configured.split(",")
    return [address.strip() for address in configured if address.strip()]


def send(subject: str, body: str) -> bool:
    """Send one plain-text mail to the staff addresses; False (and a warning) on failure."""
    config = current_app.config
    to = recipients()
    if not enabled() or not to:
        return False
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config["NOTIFY_FROM"]
    message["To"] = ", ".join(to)
    message.set_content(body)
    try:
        with smtplib.SMTP(
            config["NOTIFY_SMTP_HOST"],
            int(config["NOTIFY_SMTP_PORT"]),
            timeout=float(config["NOTIFY_SMTP_TIMEOUT"]),
        ) as smtp:
            if config["NOTIFY_SMTP_STARTTLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if config.get("NOTIFY_SMTP_USER"):
                smtp.login(config["NOTIFY_SMTP_USER"], config.get("NOTIFY_SMTP_PASSWORD") or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        # The error's name only: its text may echo addresses or the server's reply.
        log.warning("notification not sent: %s", type(error).__name__)
        return False
    return True


def _staff_locale() -> str:
    """Mails go to staff in the portal's default language, not the reporter's."""
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


# The highest report id a new-reports notice has covered (a Setting, not a time).
NOTICE_MARK = "notify_new_reports_through"


def new_reports_notice() -> tuple[int, bool]:
    """Tell staff how many reports arrived since the last notice; (new reports, sent?).

    Run from a timer (`flask notify new`, e.g. hourly), never at filing: a mail sent the
    second a report is filed, with its tracking code, would date the reporter's visit for
    anyone who sees the mail's headers. The notice holds counts only. The mark moves in
    the caller's block, after the mail went out.
    """
    row = db.session.get(Setting, NOTICE_MARK)
    through = int(json.loads(row.value)) if row is not None else 0
    newest = db.session.scalar(db.select(func.max(Report.id))) or 0
    fresh = db.session.scalar(db.select(func.count(Report.id)).where(Report.id > through)) or 0
    if fresh == 0 or not enabled():
        return fresh, False
    waiting = db.session.scalar(
        db.select(func.count(Report.id)).where(Report.status == Status.RECEIVED)
    )
    with force_locale(_staff_locale()):
        subject = _("New reports: %(count)s", count=fresh)
        body = "\n".join(
            [
                _("New reports since the last notice: %(count)s", count=fresh),
                _("Reports waiting for verification: %(count)s", count=waiting or 0),
                "",
                _("Open the queue in the inspectorate workspace. This mail never holds content."),
            ]
        )
    sent = send(subject, body)
    if sent:
        if row is None:
            db.session.add(Setting(key=NOTICE_MARK, value=json.dumps(newest)))
        else:
            row.value = json.dumps(newest)
    return fresh, sent


def overdue() -> Digest:
    """Counts and tracking codes of open reports whose deadline (WIB) has passed."""
    terms = (
        Report.due_on < deadlines.local_today(),
        Report.status.not_in([status.value for status in CLOSED]),
    )
    by_status = {
        status: count
        for status, count in db.session.execute(
            db.select(Report.status, func.count(Report.id))
            .where(*terms)
            .group_by(Report.status)
            .order_by(Report.status)
        )
    }
    limit = int(current_app.config["NOTIFY_DIGEST_MAX_CODES"])
    codes = list(
        db.session.scalars(
            db.select(Report.tracking_code)
            .where(*terms)
            .order_by(Report.due_on, Report.id)
            .limit(limit)
        )
    )
    return Digest(total=sum(by_status.values()), by_status=by_status, codes=codes)


def digest_text(digest: Digest) -> tuple[str, str]:
    """Subject and body of the overdue digest, in the staff's language."""
    from portal.labels import status_label

    with force_locale(_staff_locale()):
        subject = _("Overdue reports: %(count)s", count=digest.total)
        lines = [_("Reports past their deadline: %(count)s", count=digest.total), ""]
        lines += [
            f"- {status_label(status)}: {count}" for status, count in digest.by_status.items()
        ]
        lines += ["", _("Tracking codes, oldest deadline first:")]
        lines += [f"  {code}" for code in digest.codes]
        hidden = digest.total - len(digest.codes)
        if hidden > 0:
            lines.append(_("... and %(count)s more.", count=hidden))
    return subject, "\n".join(lines)


def overdue_digest() -> tuple[Digest, bool]:
    """Build the overdue digest and send it if anything is overdue; returns it and sent?"""
    digest = overdue()
    if digest.total == 0 or not enabled():
        return digest, False
    return digest, send(*digest_text(digest))


def codes_text(codes: Sequence[str]) -> str:
    """Tracking codes on one line, for operator output."""
    return ", ".join(codes)
