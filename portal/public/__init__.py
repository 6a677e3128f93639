"""Public blueprint: home page, status by tracking code, language switch."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from portal.public import routes  # noqa: E402,F401
from portal.public import catalog  # noqa: E402,F401
from portal.public import cases  # noqa: E402,F401
from portal.public import transparency  # noqa: E402,F401
