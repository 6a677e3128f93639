"""Sending decrypted evidence to a browser safely: always a download, never rendered."""

from __future__ import annotations

import io

from flask import Response, send_file


def attachment_response(name: str, content_type: str, data: bytes) -> Response:
    """A download that browsers save rather than render, in a sandbox if they do."""
    response = send_file(
        io.BytesIO(data),
        mimetype=content_type.split(";")[0],  # werkzeug adds charset=utf-8 to text/
        as_attachment=True,
        download_name=name,
        etag=False,
        last_modified=None,
        max_age=0,
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
