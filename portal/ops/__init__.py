"""Operations blueprint: what load balancers and monitoring ask; no page a person reads."""

from flask import Blueprint

bp = Blueprint("ops", __name__)

from portal.ops import health  # noqa: E402,F401  (adds its view to bp)
