"""The evidence files of an HTML form request, refused whole when a part is not as sent.

A browser sends chosen files as file parts of one field. Anything else (a file under
another name, a file name broken by CR/LF that turns the part into text) means a file
would be silently left out, so the whole upload is refused with a message instead,
as the API does.
"""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from portal.evidence import EvidenceRejected

EVIDENCE_FIELD = "evidence"


def evidence_uploads(field: str = EVIDENCE_FIELD) -> list[FileStorage]:
    """The file parts of `field`; EvidenceRejected if any file part is elsewhere or broken."""
    stray = set(request.files) - {field}
    if stray or field in request.form:
        raise EvidenceRejected(
            "broken_upload",
            _l(
                "A file could not be read as sent. Rename it with plain letters and"
                " digits and choose it again."
            ),
        )
    return request.files.getlist(field)
