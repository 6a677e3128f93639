"""Forms of the staff side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    MultipleFileField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from portal.citizens.forms import ReportForm, RupiahField
from portal.forms import PortalForm, max_length_message
from portal.i18n import status_label
from portal.models import Channel, Outcome, Priority, Staff, Status
from portal.services.cases import DETAILED_STATUSES, OutsideBody, Sanction, allowed_next
from portal.services.settings import (
    MAX_DEADLINE_DAYS,
    MAX_RETENTION_MONTHS,
    MIN_DEADLINE_DAYS,
    MIN_RETENTION_MONTHS,
)

PASSWORD_HINT = _l("At least 12 characters. A few unrelated words are easy to remember.")


class LoginForm(PortalForm):
    """Email, password and authenticator code."""

    email = EmailField(
        _l("Email"), validators=[DataRequired(), Length(max=254, message=max_length_message())]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=256, message=max_length_message())]
    )
    code = StringField(
        _l("Authenticator code"), validators=[Length(max=10, message=max_length_message())]
    )


class EnrolForm(PortalForm):
    """First login: a new password and a confirmed authenticator."""

    new_password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(),
            Length(min=12, max=256, message=_l("Use 12 to 256 characters.")),
        ],
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )
    secret = HiddenField()
    code = StringField(
        _l("Code from your authenticator app"),
        validators=[DataRequired(), Length(max=10, message=max_length_message())],
    )


class PasswordForm(PortalForm):
    """Change one's password."""

    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=256, message=max_length_message())],
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(),
            Length(min=12, max=256, message=_l("Use 12 to 256 characters.")),
        ],
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )


class ConfirmForm(PortalForm):
    """A bare form for POST-only buttons (logout, revoke ...): CSRF only."""


# --- Admin forms ----------------------------------------------------------------------

# WTForms raises this itself for IntegerField; listed so extraction catalogues it.
ADMIN_WTFORMS_MESSAGES = (_l("Not a valid integer value."),)

ROLE_CHOICES = [
    SelectChoice("investigator", _l("investigator")),
    SelectChoice("auditor", _l("auditor")),
    SelectChoice("admin", _l("admin")),
]
# One address, no spaces: the full RFC grammar is not worth its corner cases here.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class NewMemberForm(PortalForm):
    """An admin adds a staff member."""

    email = EmailField(
        _l("Email"),
        validators=[
            DataRequired(),
            Length(max=254, message=max_length_message()),
            Regexp(EMAIL_PATTERN, message=_l("Enter an email address like name@example.go.id.")),
        ],
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="investigator")


class RoleForm(PortalForm):
    """An admin changes a member's role."""

    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


def _days_field(label: Any) -> IntegerField:
    """A working-day count within the allowed range."""
    return IntegerField(
        label,
        validators=[
            InputRequired(),
            NumberRange(
                min=MIN_DEADLINE_DAYS,
                max=MAX_DEADLINE_DAYS,
                message=_l("Enter a number from %(min)s to %(max)s."),
            ),
        ],
    )


class SettingsForm(PortalForm):
    """Working-day deadlines per status and the retention period."""

    received = _days_field(_l("Received: working days to verify"))
    needs_info = _days_field(_l("Waiting for the reporter: working days to answer"))
    verified = _days_field(_l("Verified: working days to the first follow-up"))
    in_progress = _days_field(_l("Being handled: working days to complete"))
    retention_months = IntegerField(
        _l("Months to keep closed reports"),
        validators=[
            InputRequired(),
            NumberRange(
                min=MIN_RETENTION_MONTHS,
                max=MAX_RETENTION_MONTHS,
                message=_l("Enter a number from %(min)s to %(max)s."),
            ),
        ],
    )


# --- Case forms ---------------------------------------------------------------------

# A public note is shown to the reporter and on the public status page: a few
# sentences, not a second report. Internal notes may say more; both are bounded so
# one form cannot fill the database.
PUBLIC_NOTE_MAX = 1000
INTERNAL_NOTE_MAX = 5000
REFERENCE_MAX = 80  # the column's width: outside bodies' numbers are short
CASE_MESSAGE_MAX = 5000  # the same bound as the reporter's own messages

PRIORITY_LABELS = {
    Priority.LOW: _l("Low"),
    Priority.NORMAL: _l("Normal"),
    Priority.HIGH: _l("High"),
    Priority.URGENT: _l("Urgent"),
}
CHANNEL_LABELS = {
    Channel.WEB: _l("Web form"),
    Channel.API: _l("API"),
    Channel.WALK_IN: _l("In person (walk-in)"),
    Channel.PHONE: _l("Phone call"),
    Channel.SMS: _l("SMS"),
    Channel.WHATSAPP: _l("WhatsApp"),
}
OUTSIDE_BODY_LABELS = {
    OutsideBody.OMBUDSMAN_BANTEN: _l("Ombudsman RI Perwakilan Banten"),
    OutsideBody.POLICE: _l("Police (Polri)"),
    OutsideBody.PROSECUTOR: _l("Prosecutor (Kejaksaan)"),
    OutsideBody.KPK: _l("Corruption Eradication Commission (KPK)"),
    OutsideBody.SP4N_LAPOR: _l("SP4N-LAPOR!"),
    OutsideBody.OWN_AGENCY: _l("The service's own agency (instansi terkait)"),
}
OUTCOME_LABELS = {
    Outcome.PROVEN: _l("Proven"),
    Outcome.NOT_PROVEN: _l("Not proven"),
}
SANCTION_LABELS = {
    Sanction.NONE: _l("None"),
    Sanction.VERBAL_WARNING: _l("Verbal warning"),
    Sanction.WRITTEN_WARNING: _l("Written warning"),
    Sanction.DISCIPLINARY: _l("Disciplinary sanction"),
    Sanction.DISMISSAL: _l("Dismissal"),
    Sanction.CRIMINAL_REFERRAL: _l("Referred for criminal prosecution"),
    Sanction.OTHER: _l("Other"),
}
# What a duplicate's reporter and the public read. It deliberately does not name the
# other report (see services.cases.mark_duplicate).
DUPLICATE_NOTE = _l(
    "This report is about the same matter as another report that the inspectorate is"
    " already handling. It is followed up together with that report."
)
OPERATOR_CHANNELS = (Channel.WALK_IN, Channel.PHONE, Channel.SMS, Channel.WHATSAPP)


def _trimmed(value: Any) -> Any:
    """Trim surrounding whitespace so length limits count what is kept."""
    return value.strip() if isinstance(value, str) else value


def _public_note(default: Any = None) -> TextAreaField:
    """The required public note of a status change."""
    return TextAreaField(
        _l("Public note"),
        default=default,
        filters=[_trimmed],
        validators=[
            DataRequired(_l("Write a public note: the reporter and the status page show it.")),
            Length(max=PUBLIC_NOTE_MAX, message=max_length_message()),
        ],
    )


def _internal_note() -> TextAreaField:
    """The optional internal note of a status change, encrypted and for staff only."""
    return TextAreaField(
        _l("Internal note"),
        filters=[_trimmed],
        validators=[Optional(), Length(max=INTERNAL_NOTE_MAX, message=max_length_message())],
    )


def _known_status(form: PortalForm, field: Field) -> None:
    """Any lifecycle status passes here; the lifecycle itself is checked by the service."""
    if field.data not in Status._value2member_map_:
        raise ValidationError(_l("Not a valid choice."))


class AssignForm(PortalForm):
    """Give the report to a member, or to nobody."""

    assignee = SelectField(_l("Assigned to"))

    def __init__(self, *args: Any, members: Sequence[Staff] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assignee.choices = [
            SelectChoice("", _l("Nobody")),
            *[SelectChoice(str(member.id), member.email) for member in members],
        ]


class PriorityForm(PortalForm):
    """Set the report's priority."""

    priority = SelectField(
        _l("Priority"),
        choices=[SelectChoice(key.value, label) for key, label in PRIORITY_LABELS.items()],
    )


class StatusForm(PortalForm):
    """Move the report to another status with a public and an optional internal note."""

    status = SelectField(
        _l("New status"),
        validate_choice=False,
        validators=[DataRequired(_l("Choose one.")), _known_status],
    )
    public_note = _public_note()
    internal_note = _internal_note()
    seen_status = HiddenField()

    def __init__(self, *args: Any, current: str = Status.RECEIVED, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = [
            SelectChoice(status.value, status_label(status))
            for status in allowed_next(current)
            if status not in DETAILED_STATUSES
        ]


class ReferForm(PortalForm):
    """Refer the report to an outside body under their reference number."""

    body = SelectField(
        _l("Referred to"),
        choices=[SelectChoice(key.value, label) for key, label in OUTSIDE_BODY_LABELS.items()],
    )
    reference = StringField(
        _l("Their reference number"),
        filters=[_trimmed],
        validators=[
            DataRequired(_l("Enter the reference number the outside body gave.")),
            Length(max=REFERENCE_MAX, message=max_length_message()),
        ],
    )
    public_note = _public_note()
    internal_note = _internal_note()
    seen_status = HiddenField()


class OutcomeForm(PortalForm):
    """Record what the examination found; the report is resolved."""

    outcome = RadioField(
        _l("Finding"),
        choices=[SelectChoice(key.value, label) for key, label in OUTCOME_LABELS.items()],
        validators=[InputRequired(_l("Choose one."))],
    )
    sanction = SelectField(
        _l("Sanction"),
        choices=[SelectChoice(key.value, label) for key, label in SANCTION_LABELS.items()],
        default=Sanction.NONE.value,
    )
    refund = RupiahField(
        _l("Refund to the reporter (Rupiah)"),
        validators=[Length(max=40, message=max_length_message())],
    )
    public_note = _public_note()
    internal_note = _internal_note()
    seen_status = HiddenField()


class DuplicateForm(PortalForm):
    """Link the report as a duplicate of another; it is rejected with a public note."""

    original = StringField(
        _l("Tracking code of the report it duplicates"),
        filters=[_trimmed],
        validators=[
            DataRequired(_l("Enter a tracking code.")),
            Length(max=40, message=max_length_message()),
        ],
    )
    public_note = _public_note(default=lambda: str(DUPLICATE_NOTE))
    internal_note = _internal_note()
    seen_status = HiddenField()


class CaseMessageForm(PortalForm):
    """A message from the inspectorate to the reporter's inbox."""

    body = TextAreaField(
        _l("Message to the reporter"),
        filters=[_trimmed],
        validators=[
            DataRequired(_l("Write a message.")),
            Length(max=CASE_MESSAGE_MAX, message=max_length_message()),
        ],
    )


class OperatorReportForm(ReportForm):
    """The citizen report form, filled in by staff for a reporter, plus the channel."""

    channel = RadioField(
        _l("How did the reporter reach you?"),
        choices=[
            SelectChoice(channel.value, CHANNEL_LABELS[channel]) for channel in OPERATOR_CHANNELS
        ],
        validators=[InputRequired(_l("Choose one."))],
    )
    evidence = MultipleFileField(_l("Evidence files"))
