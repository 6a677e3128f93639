"""The base form: WTForms' own messages translated through our catalogue."""

from __future__ import annotations

from typing import Any

from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.validators import Length

# WTForms raises these itself; listed here so extraction puts them in our catalogue.
WTFORMS_MESSAGES = (
    _l("Not a valid choice."),
    _l("Invalid Choice: could not coerce."),
    _l("Not a valid date value."),
    _l("This field is required."),
)


class PortalForm(FlaskForm):
    """Every form of the portal derives from this, so no message escapes translation."""

    class Meta(FlaskForm.Meta):
        """Use the app's translations (Indonesian first) for built-in messages."""

        def get_translations(self, form: Any) -> Any:
            """The active Flask-Babel translations."""
            return get_translations()


def max_length_message() -> Any:
    """'At most N characters' for Length validators, translated."""
    return _l("At most %(max)d characters.")


def strip_whitespace(value: Any) -> Any:
    """Trim surrounding whitespace so length limits count what is kept."""
    return value.strip() if isinstance(value, str) else value


def max_length(limit: int) -> Length:
    """A Length validator for at most `limit` characters, with the translated message."""
    return Length(max=limit, message=max_length_message())
