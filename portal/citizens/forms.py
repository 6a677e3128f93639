"""The citizen's forms: the report (its answers checked by services/intake.py), the inbox's."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
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
from wtforms.validators import DataRequired, ValidationError

from portal.forms import PortalForm, max_length, strip_whitespace
from portal.models import Category, Service, Unit
from portal.services import catalog, intake
from portal.services.reports import ReportInput

# An account shorter than this gets the "tell it in order" hint: two plain sentences
# (who, where, what was asked) already run longer.
CHRONOLOGY_HINT_BELOW = 100

WHO_ASKED = [
    SelectChoice("officer", _l("An officer or staff member")),
    SelectChoice("broker", _l("A broker (calo)")),
    SelectChoice("other", _l("Someone else")),
]
PAID = [
    SelectChoice("yes", _l("Yes")),
    SelectChoice("no", _l("No")),
    SelectChoice("unknown", _l("I prefer not to say")),
]


# The mark the review step hands out: secrets.token_urlsafe(16), 22 characters.
_SUBMISSION_MARK = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


def bounded_submission(value: Any) -> str:
    """The hidden submission mark if it is one we could have issued, else "".

    The mark is remembered in the visitor's cookie, so a forged 8,000-character value
    must never be copied there.
    """
    return value if isinstance(value, str) and _SUBMISSION_MARK.match(value) else ""


def _honeypot_empty(form: PortalForm, field: Field) -> None:
    """Refuse the form when the hidden honeypot field was filled in (a bot)."""
    if field.data:
        raise ValidationError(_l("This form could not be sent."))


class ReportForm(PortalForm):
    """Structured 5W+1H questions about one incident; never about the reporter.

    The fields only carry the answers as typed (and CSRF, the honeypot, the review
    mark); `validate()` hands them to `intake.report_input`, the rules every channel
    shares, and puts its messages on the fields. `report` is the checked result.
    """

    category = SelectField(_l("What kind of problem was it?"), validate_choice=False)
    service = SelectField(_l("Which service were you using?"), validate_choice=False)
    unit = SelectField(_l("Where?"), validate_choice=False)
    incident_date = StringField(_l("When did it happen?"))
    who_asked = RadioField(_l("Who asked?"), choices=WHO_ASKED, validate_choice=False)
    amount_demanded = StringField(_l("How much was asked (Rupiah)?"))
    paid = RadioField(_l("Was it paid?"), choices=PAID, default="unknown", validate_choice=False)
    promised = StringField(_l("What was promised in return?"))
    person_description = TextAreaField(_l("Describe the person who asked (not yourself)"))
    chronology = TextAreaField(_l("What happened, in order?"))
    contact = TextAreaField(_l("Contact details"))
    # Honeypot: hidden from people by CSS; bots fill it.
    website = StringField(_l("Leave this field empty"), validators=[_honeypot_empty])
    # Marks one review so a reloaded "send" does not file the report twice.
    submission = HiddenField(filters=[bounded_submission])

    report: ReportInput | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Offer the current catalogue's categories, services and units."""
        super().__init__(*args, **kwargs)
        blank = SelectChoice("", _l("— choose —"))
        self.category.choices = [blank, *catalog.choices(Category)]
        self.service.choices = [blank, *catalog.choices(Service)]
        self.unit.choices = [blank, *catalog.choices(Unit)]

    def answers(self) -> dict[str, str | None]:
        """The answers as typed, by the names intake knows."""
        return {name: self[name].data for name in intake.FIELDS}

    def validate(self, extra_validators: Any = None) -> bool:
        """The form's own checks (CSRF, honeypot), then the rules of every channel."""
        valid = super().validate(extra_validators)
        self.report = None
        try:
            report = intake.report_input(self.answers())
        except intake.InvalidReport as invalid:
            self.show(invalid.fields)
            return False
        if valid:
            self.report = report
        return valid

    def show(self, fields: dict[str, list[str]]) -> None:
        """Put intake's messages on the fields they name."""
        for name, messages in fields.items():
            if name in self:
                self[name].errors = [*self[name].errors, *messages]

    def checked(self) -> ReportInput:
        """The report of a form that validated."""
        if self.report is None:
            raise RuntimeError("the report form was not validated")
        return self.report

    def hints(self) -> list[str]:
        """Non-blocking prompts for 5W+1H facts that are missing or thin."""
        content = self.checked().content
        hints = []
        if content.amount_demanded is None:
            hints.append(_l("How much was asked? Even an estimate helps the inspectorate."))
        # "I prefer not to say" is an answer: asking again would press the reporter.
        if self.paid.data in (None, ""):
            hints.append(_l("Say whether money was paid, if you can."))
        if not content.promised:
            hints.append(_l("What was promised in return, for example a faster KTP-el?"))
        if not content.person_description:
            hints.append(
                _l("Describe who asked: role, uniform, counter number. Never describe yourself.")
            )
        if len(content.chronology) < CHRONOLOGY_HINT_BELOW:
            hints.append(
                _l("Tell what happened in order: when, where, who said what, what was handed over.")
            )
        if self.unit.data == "lainnya":
            hints.append(_l("Name the place in your account, since you chose another place."))
        return [str(hint) for hint in hints]


MAX_MESSAGE = 5000


class InboxLoginForm(PortalForm):
    """Open the inbox of one report with its tracking code and receipt."""

    code = StringField(
        _l("Tracking code"),
        validators=[DataRequired(_l("Enter a tracking code.")), max_length(40)],
    )
    receipt = PasswordField(
        _l("Secret receipt"),
        validators=[DataRequired(_l("Enter your receipt.")), max_length(60)],
    )


def message_body(label: Any, limit: int) -> TextAreaField:
    """A required message text box, trimmed, of at most `limit` characters."""
    return TextAreaField(
        label,
        filters=[strip_whitespace],
        validators=[DataRequired(_l("Write a message.")), max_length(limit)],
    )


class ReplyForm(PortalForm):
    """A reporter's message to the inspectorate."""

    body = message_body(_l("Your message"), MAX_MESSAGE)


class EvidenceForm(PortalForm):
    """Add evidence files to a report."""

    evidence = MultipleFileField(_l("Evidence files"))


class NewReceiptForm(PortalForm):
    """Ask for a new receipt (nothing to fill in: the CSRF token is the whole form)."""
