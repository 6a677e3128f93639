"""Forms of the staff side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from enum import StrEnum
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    HiddenField,
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

from portal.citizens.forms import ReportForm, message_body
from portal.forms import IntegerField, PortalForm, RupiahField, max_length, strip_whitespace
from portal.labels import (
    CHANNEL_LABELS,
    OUTCOME_LABELS,
    OUTSIDE_BODY_LABELS,
    PRIORITY_LABELS,
    ROLE_LABELS,
    SANCTION_LABELS,
    status_label,
)
from portal.models import Channel, Role, Sanction, Staff, Status
from portal.services.cases import DETAILED_STATUSES, allowed_next
from portal.services.intake import CHOOSE_ONE
from portal.services.settings import (
    MAX_DEADLINE_DAYS,
    MAX_RETENTION_MONTHS,
    MIN_DEADLINE_DAYS,
    MIN_RETENTION_MONTHS,
)


class LoginForm(PortalForm):
    """Email, password and authenticator code."""

    email = EmailField(_l("Email"), validators=[DataRequired(), max_length(254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), max_length(256)])
    code = StringField(_l("Authenticator code"), validators=[max_length(10)])


def _new_password() -> PasswordField:
    """The new password of enrolment or a password change: 12 to 256 characters."""
    return PasswordField(
        _l("New password"),
        validators=[
            DataRequired(),
            Length(min=12, max=256, message=_l("Use 12 to 256 characters.")),
        ],
    )


def _password_again() -> PasswordField:
    """The new password once more, to catch a typo."""
    return PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )


class EnrolForm(PortalForm):
    """First login: a new password and a confirmed authenticator."""

    new_password = _new_password()
    confirm = _password_again()
    secret = HiddenField()
    code = StringField(
        _l("Code from your authenticator app"), validators=[DataRequired(), max_length(10)]
    )


class PasswordForm(PortalForm):
    """Change one's password."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(), max_length(256)])
    new_password = _new_password()
    confirm = _password_again()


class ConfirmForm(PortalForm):
    """A bare form for POST-only buttons (logout, revoke ...): CSRF only."""


# --- Admin forms ----------------------------------------------------------------------


class RotateKeysForm(PortalForm):
    """Key rotation signs everyone out: it needs a ticked confirmation, not just a click."""

    confirm = BooleanField(
        _l("I understand: every staff member, me included, must sign in again."),
        validators=[DataRequired(message=_l("Tick the box to confirm the rotation."))],
    )


# WTForms raises this itself for IntegerField; listed so extraction catalogues it.
ADMIN_WTFORMS_MESSAGES = (_l("Not a valid integer value."),)

ROLE_CHOICES = [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]
# One address, no spaces: the full RFC grammar is not worth its corner cases here.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class NewMemberForm(PortalForm):
    """An admin adds a staff member."""

    email = EmailField(
        _l("Email"),
        validators=[
            DataRequired(),
            max_length(254),
            Regexp(EMAIL_PATTERN, message=_l("Enter an email address like name@example.go.id.")),
        ],
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.INVESTIGATOR.value)


class RoleForm(PortalForm):
    """An admin changes a member's role."""

    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


def _whole_number(label: Any, low: int, high: int) -> IntegerField:
    """A required whole number from `low` to `high`."""
    return IntegerField(
        label,
        validators=[
            InputRequired(),
            NumberRange(min=low, max=high, message=_l("Enter a number from %(min)s to %(max)s.")),
        ],
    )


def _days_field(label: Any) -> IntegerField:
    """A working-day count within the allowed range."""
    return _whole_number(label, MIN_DEADLINE_DAYS, MAX_DEADLINE_DAYS)


class SettingsForm(PortalForm):
    """Working-day deadlines per status and the retention period."""

    received = _days_field(_l("Received: working days to verify"))
    needs_info = _days_field(_l("Waiting for the reporter: working days to answer"))
    verified = _days_field(_l("Verified: working days to the first follow-up"))
    in_progress = _days_field(_l("Being handled: working days to complete"))
    retention_months = _whole_number(
        _l("Months to keep closed reports"), MIN_RETENTION_MONTHS, MAX_RETENTION_MONTHS
    )


# --- Case forms ---------------------------------------------------------------------

# A public note is shown to the reporter and on the public status page: a few
# sentences, not a second report. Internal notes may say more; both are bounded so
# one form cannot fill the database.
PUBLIC_NOTE_MAX = 1000
INTERNAL_NOTE_MAX = 5000
REFERENCE_MAX = 80  # the column's width: outside bodies' numbers are short
CASE_MESSAGE_MAX = 5000  # the same bound as the reporter's own messages

# What a duplicate's reporter and the public read. It deliberately does not name the
# other report (see services.cases.mark_duplicate).
DUPLICATE_NOTE = _l(
    "This report is about the same matter as another report that the inspectorate is"
    " already handling. It is followed up together with that report."
)
OPERATOR_CHANNELS = (Channel.WALK_IN, Channel.PHONE, Channel.SMS, Channel.WHATSAPP)


def _public_note(default: Any = None) -> TextAreaField:
    """The required public note of a status change."""
    return TextAreaField(
        _l("Public note"),
        default=default,
        filters=[strip_whitespace],
        validators=[
            DataRequired(_l("Write a public note: the reporter and the status page show it.")),
            max_length(PUBLIC_NOTE_MAX),
        ],
    )


def _internal_note() -> TextAreaField:
    """The optional internal note of a status change, encrypted and for staff only."""
    return TextAreaField(
        _l("Internal note"),
        filters=[strip_whitespace],
        validators=[Optional(), max_length(INTERNAL_NOTE_MAX)],
    )


E = TypeVar("E", bound=StrEnum)


def _choices(labels: Mapping[E, Any]) -> list[SelectChoice]:
    """The choices of a select or radio field, in the order of its label table."""
    return [SelectChoice(key.value, label) for key, label in labels.items()]


def _known_status(form: PortalForm, field: Field) -> None:
    """Any lifecycle status passes here; the lifecycle itself is checked by the service."""
    if field.data not in Status._value2member_map_:
        raise ValidationError(_l("Not a valid choice."))


class StatusStepForm(PortalForm):
    """What every status change carries: a public note, an optional internal one.

    `seen_status` is the status the page showed, so that the service can refuse a change
    someone else's action overtook.
    """

    public_note = _public_note()
    internal_note = _internal_note()
    seen_status = HiddenField()

    def notes(self) -> dict[str, Any]:
        """The note and overtaking-check arguments every status-changing service takes."""
        return {
            "public_note": self.public_note.data or "",
            "internal_note": self.internal_note.data or "",
            "seen_status": self.seen_status.data,
        }


class AssignForm(PortalForm):
    """Give the report to a member, or to nobody."""

    assignee = SelectField(_l("Assigned to"))

    def __init__(self, *args: Any, members: Sequence[Staff] = (), **kwargs: Any) -> None:
        """Offer `members` and nobody."""
        super().__init__(*args, **kwargs)
        self.assignee.choices = [
            SelectChoice("", _l("Nobody")),
            *[SelectChoice(str(member.id), member.email) for member in members],
        ]


class PriorityForm(PortalForm):
    """Set the report's priority."""

    priority = SelectField(_l("Priority"), choices=_choices(PRIORITY_LABELS))


class StatusForm(StatusStepForm):
    """Move the report to another status with a public and an optional internal note."""

    status = SelectField(
        _l("New status"),
        validate_choice=False,
        validators=[DataRequired(CHOOSE_ONE), _known_status],
    )

    def __init__(self, *args: Any, current: str = Status.RECEIVED, **kwargs: Any) -> None:
        """Offer the statuses the lifecycle allows after `current`, but for detailed ones."""
        super().__init__(*args, **kwargs)
        self.status.choices = [
            SelectChoice(status.value, status_label(status))
            for status in allowed_next(current)
            if status not in DETAILED_STATUSES
        ]


class ReferForm(StatusStepForm):
    """Refer the report to an outside body under their reference number."""

    body = SelectField(_l("Referred to"), choices=_choices(OUTSIDE_BODY_LABELS))
    reference = StringField(
        _l("Their reference number"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(_l("Enter the reference number the outside body gave.")),
            max_length(REFERENCE_MAX),
        ],
    )


class OutcomeForm(StatusStepForm):
    """Record what the examination found; the report is resolved."""

    outcome = RadioField(
        _l("Finding"), choices=_choices(OUTCOME_LABELS), validators=[InputRequired(CHOOSE_ONE)]
    )
    sanction = SelectField(
        _l("Sanction"), choices=_choices(SANCTION_LABELS), default=Sanction.NONE.value
    )
    refund = RupiahField(_l("Refund to the reporter (Rupiah)"))


class DuplicateForm(StatusStepForm):
    """Link the report as a duplicate of another; it is rejected with a public note."""

    original = StringField(
        _l("Tracking code of the report it duplicates"),
        filters=[strip_whitespace],
        validators=[DataRequired(_l("Enter a tracking code.")), max_length(40)],
    )
    public_note = _public_note(default=lambda: str(DUPLICATE_NOTE))


class CaseMessageForm(PortalForm):
    """A message from the inspectorate to the reporter's inbox."""

    body = message_body(_l("Message to the reporter"), CASE_MESSAGE_MAX)


class OperatorReportForm(ReportForm):
    """The citizen report form, filled in by staff for a reporter, plus the channel."""

    channel = RadioField(
        _l("How did the reporter reach you?"),
        choices=[
            SelectChoice(channel.value, CHANNEL_LABELS[channel]) for channel in OPERATOR_CHANNELS
        ],
        validators=[InputRequired(CHOOSE_ONE)],
    )
    evidence = MultipleFileField(_l("Evidence files"))

    def validate(self, extra_validators: Any = None) -> bool:
        """The report form's checks; the checked report then carries the chosen channel."""
        if not super().validate(extra_validators):
            return False
        self.report = replace(self.checked(), channel=Channel(self.channel.data))
        return True
