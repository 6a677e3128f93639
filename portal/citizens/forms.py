"""The report form, shared by the HTML form and the JSON API so both validate alike."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
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
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.forms import MAX_AMOUNT as MAX_AMOUNT  # re-exported: the API schema states it
from portal.forms import PortalForm, RupiahField, max_length, strip_whitespace
from portal.models import Category, Service, Unit
from portal.models.base import today
from portal.services import catalog
from portal.services.reports import ReportContent

# Limits on every free-text field: long enough for a full account, short enough
# that one report cannot fill the database.
MAX_PROMISED = 500
MAX_PERSON = 2000
MAX_CHRONOLOGY = 10000
MIN_CHRONOLOGY = 20
# An account shorter than this gets the "tell it in order" hint: two plain sentences
# (who, where, what was asked) already run longer.
CHRONOLOGY_HINT_BELOW = 100
MAX_CONTACT = 500
OLDEST_INCIDENT_YEARS = 10

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

# The message of every required choice.
CHOOSE_ONE = _l("Choose one.")


def _not_in_future(form: PortalForm, field: Field) -> None:
    """Refuse an incident date in the future or too long ago to handle."""
    if field.data and field.data > today():
        raise ValidationError(_l("The date cannot be in the future."))
    if field.data and field.data < today() - timedelta(days=365 * OLDEST_INCIDENT_YEARS):
        raise ValidationError(_l("Reports about events older than ten years cannot be handled."))


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
    """Structured 5W+1H questions about one incident; never about the reporter."""

    category = SelectField(
        _l("What kind of problem was it?"), validators=[DataRequired(CHOOSE_ONE)]
    )
    service = SelectField(
        _l("Which service were you using?"), validators=[DataRequired(CHOOSE_ONE)]
    )
    unit = SelectField(_l("Where?"), validators=[DataRequired(CHOOSE_ONE)])
    incident_date = DateField(
        _l("When did it happen?"),
        format=["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"],
        validators=[DataRequired(_l("Enter the date as dd/mm/yyyy.")), _not_in_future],
    )
    who_asked = RadioField(
        _l("Who asked?"), choices=WHO_ASKED, validators=[InputRequired(CHOOSE_ONE)]
    )
    amount_demanded = RupiahField(_l("How much was asked (Rupiah)?"))
    paid = RadioField(_l("Was it paid?"), choices=PAID, default="unknown", validators=[Optional()])
    promised = StringField(
        _l("What was promised in return?"),
        filters=[strip_whitespace],
        validators=[max_length(MAX_PROMISED)],
    )
    person_description = TextAreaField(
        _l("Describe the person who asked (not yourself)"),
        filters=[strip_whitespace],
        validators=[max_length(MAX_PERSON)],
    )
    chronology = TextAreaField(
        _l("What happened, in order?"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(_l("Tell us what happened.")),
            Length(
                min=MIN_CHRONOLOGY,
                max=MAX_CHRONOLOGY,
                message=_l("Write between %(min)d and %(max)d characters."),
            ),
        ],
    )
    contact = TextAreaField(
        _l("Contact details"), filters=[strip_whitespace], validators=[max_length(MAX_CONTACT)]
    )
    # Honeypot: hidden from people by CSS; bots fill it.
    website = StringField(_l("Leave this field empty"), validators=[_honeypot_empty])
    # Marks one review so a reloaded "send" does not file the report twice.
    submission = HiddenField(filters=[bounded_submission])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Offer the current catalogue's categories, services and units."""
        super().__init__(*args, **kwargs)
        blank = SelectChoice("", _l("— choose —"))
        self.category.choices = [blank, *catalog.choices(Category)]
        self.service.choices = [blank, *catalog.choices(Service)]
        self.unit.choices = [blank, *catalog.choices(Unit)]

    def content(self) -> ReportContent:
        """The encrypted part of the report, from validated data."""
        paid = {"yes": True, "no": False}.get(self.paid.data or "")
        return ReportContent(
            incident_date=self.incident_date.data,
            who_asked=self.who_asked.data,
            amount_demanded=self.amount_demanded.data,
            paid=paid,
            promised=(self.promised.data or "").strip(),
            person_description=(self.person_description.data or "").strip(),
            chronology=(self.chronology.data or "").strip(),
        )

    def hints(self) -> list[str]:
        """Non-blocking prompts for 5W+1H facts that are missing or thin."""
        hints = []
        if self.amount_demanded.data is None:
            hints.append(_l("How much was asked? Even an estimate helps the inspectorate."))
        # "I prefer not to say" is an answer: asking again would press the reporter.
        if self.paid.data in (None, ""):
            hints.append(_l("Say whether money was paid, if you can."))
        if not (self.promised.data or "").strip():
            hints.append(_l("What was promised in return, for example a faster KTP-el?"))
        if not (self.person_description.data or "").strip():
            hints.append(
                _l("Describe who asked: role, uniform, counter number. Never describe yourself.")
            )
        if len((self.chronology.data or "").strip()) < CHRONOLOGY_HINT_BELOW:
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
