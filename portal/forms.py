"""The base form: WTForms' own messages translated through our catalogue."""

from __future__ import annotations

import re
from typing import Any

import wtforms
from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import Length

from portal.rupiah import MAX_AMOUNT, parse_rupiah
from portal.signing import csrf_token

# WTForms raises these itself; listed here so extraction puts them in our catalogue.
WTFORMS_MESSAGES = (
    _l("Not a valid choice."),
    _l("Invalid Choice: could not coerce."),
    _l("Not a valid date value."),
    _l("This field is required."),
)


# Characters no one types on purpose in a report or a catalogue text: C0 and C1 controls
# (tab and line breaks excepted), zero-width spaces and joiners' look-alikes, the BOM, and
# the bidirectional overrides that make text display in another order than it is stored
# ("Trojan source"). PostgreSQL refuses NUL in text outright. ZWJ/ZWNJ stay: emoji and
# some scripts need them inside words.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\u00ad\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
# What is left of a text made only of these, ZWJ/ZWNJ and whitespace is nothing.
_BLANK = re.compile("^[\\s\u200c\u200d]*$")


def has_invisible(value: str) -> bool:
    """Whether `value` holds any character clean_text would remove."""
    return _INVISIBLE.search(value) is not None


def clean_text(value: Any) -> Any:
    """Drop invisible and control characters from submitted text; blank text becomes ""."""
    if not isinstance(value, str):
        return value
    value = _INVISIBLE.sub("", value)
    return "" if _BLANK.match(value) else value


class _KeptCSRF(FlaskForm.Meta.csrf_class):
    """Flask-WTF's form CSRF, its token made by the kept serializer (signing.csrf_token)."""

    def generate_csrf_token(self, csrf_token_field: Any) -> str:
        """This request's token: the same value Flask-WTF's `generate_csrf` would give."""
        return csrf_token()


class PortalForm(FlaskForm):
    """Every form of the portal derives from this, so no message escapes translation."""

    class Meta(FlaskForm.Meta):
        """Use the app's translations (Indonesian first) for built-in messages."""

        csrf_class = _KeptCSRF

        def get_translations(self, form: Any) -> Any:
            """The active Flask-Babel translations."""
            return get_translations()

        # Forms whose readers must be told instead (a public summary) set this False and
        # refuse invisible characters with a message (see has_invisible).
        clean_text = True

        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            """Clean every text field (passwords aside: they are checked as typed)."""
            if self.clean_text and not issubclass(unbound_field.field_class, PasswordField):
                # Passed per binding: the unbound field is shared by every form instance.
                filters = unbound_field.kwargs.get("filters") or ()
                options = {**options, "filters": [clean_text, *filters]}
            return super().bind_field(form, unbound_field, options)


# Digits of the longest whole number any form takes: a BIGINT row id has 19.
MAX_INTEGER_DIGITS = 19


class IntegerField(wtforms.IntegerField):
    """WTForms' IntegerField, refusing numbers too long to be meant before converting them.

    WTForms' NumberRange calls math.isnan() on the value, which raises OverflowError
    on an integer of 309+ digits: a crash, not a message.
    """

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse as WTForms does, after the length check."""
        if valuelist and len(str(valuelist[0]).strip().lstrip("+-")) > MAX_INTEGER_DIGITS:
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value."))
        super().process_formdata(valuelist)


def max_length_message() -> Any:
    """'At most N characters' for Length validators, translated."""
    return _l("At most %(max)d characters.")


def strip_whitespace(value: Any) -> Any:
    """Trim surrounding whitespace so length limits count what is kept."""
    return value.strip() if isinstance(value, str) else value


def max_length(limit: int) -> Length:
    """A Length validator for at most `limit` characters, with the translated message."""
    return Length(max=limit, message=max_length_message())


# --- Rupiah -----------------------------------------------------------------------------


class RupiahField(wtforms.StringField):
    """A text box for whole Rupiah, forgiving of how it is written; `data` is the int.

    The one Rupiah input of the portal (the reporter's amount, a refund, a catalogue fee).
    `data` is None when left blank; the typed text is kept to show back when refused.
    Each form may word its messages; a refused amount gets exactly one.
    """

    def __init__(
        self,
        label: Any = None,
        validators: Any = None,
        *,
        maximum: int = MAX_AMOUNT,
        invalid: Any = None,
        negative: Any = None,
        too_large: Any = None,
        **kwargs: Any,
    ) -> None:
        """A field refusing text that is no amount, negative amounts and ones above `maximum`."""
        super().__init__(label, validators, **kwargs)
        self.maximum = maximum
        self.invalid = invalid or _l(
            "Write the amount in Rupiah using digits, for example 150000 or 150rb."
        )
        self.negative = negative or _l("That amount is not plausible.")
        self.too_large = too_large or _l("That amount is not plausible.")
        self.raw_text = ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse into `data`; keep the raw text for redisplay."""
        self.raw_text = str(valuelist[0]) if valuelist else ""
        self.data = None
        try:
            amount = parse_rupiah(self.raw_text)
        except ValueError:
            self.process_errors.append(self.invalid)
            return
        if amount is not None and amount < 0:
            self.process_errors.append(self.negative)
        elif amount is not None and amount > self.maximum:
            self.process_errors.append(str(self.too_large) % {"max": self.maximum})
        else:
            self.data = amount

    def _value(self) -> str:
        """The typed text, or the amount as digits when none was typed."""
        if self.raw_text:
            return self.raw_text
        return str(self.data) if self.data is not None else ""

    def pre_validate(self, form: Any) -> None:
        """Stop after a parse or range error, so one message explains the problem."""
        if self.process_errors:
            raise wtforms.validators.StopValidation()
