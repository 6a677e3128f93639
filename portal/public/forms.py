"""Forms of the public pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class StatusForm(FlaskForm):
    """Look up a report's status by its tracking code."""

    code = StringField(
        _l("Tracking code"),
        validators=[DataRequired(_l("Enter a tracking code.")), Length(max=40)],
    )
