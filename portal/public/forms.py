"""Forms of the public pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired

from portal.forms import PortalForm, max_length


class StatusForm(PortalForm):
    """Look up a report's status by its tracking code."""

    code = StringField(
        _l("Tracking code"),
        validators=[
            DataRequired(_l("Enter a tracking code.")),
            max_length(40),
        ],
    )
