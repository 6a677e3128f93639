"""Forms of the staff side."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from portal.forms import PortalForm, max_length_message

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
