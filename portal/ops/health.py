"""`GET /healthz`: whether this app server can serve, for load balancers and monitoring."""

from __future__ import annotations

from flask import Response, jsonify

from portal.extensions import limiter
from portal.ops import bp
from portal.services import health


@bp.get("/healthz")
@limiter.exempt  # probed every few seconds by every balancer; it reveals nothing
def healthz() -> tuple[Response, int]:
    """200 when every check passes, 503 naming the failed ones; JSON, no cookie, no-store."""
    result = health.check()
    body = {"status": "ok" if result.healthy else "fail", "checks": result.checks}
    return jsonify(body), 200 if result.healthy else 503
