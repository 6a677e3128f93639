"""Form bodies that a hostile or broken client sends never lose the citizen's answers.

Werkzeug decodes each multipart part's headers as strict UTF-8 and, when one part's
name or file name is not UTF-8, silently drops the whole form: every answer typed is
lost and the citizen sees only errors. Here undecodable bytes in part headers become
U+FFFD instead, so the rest of the form survives; the odd part is then an unknown
field and the form comes back with a message (see portal/uploads.py).
"""

from __future__ import annotations

from werkzeug import formparser
from werkzeug.datastructures import Headers
from werkzeug.sansio.multipart import HEADER_CONTINUATION_RE, MultipartDecoder


class LenientHeaderDecoder(MultipartDecoder):
    """Werkzeug's multipart decoder, with part headers decoded with replacement."""

    def _parse_headers(self, data: bytes | bytearray) -> Headers:
        headers: list[tuple[str, str]] = []
        for line in HEADER_CONTINUATION_RE.sub(b" ", data).splitlines():
            line = line.strip(b" \t")
            if line:
                name, _, value = line.decode("utf-8", "replace").partition(":")
                headers.append((name.strip(" \t"), value.strip(" \t")))
        return Headers(headers)


def install() -> None:
    """Make Werkzeug's form parser decode part headers leniently (process-wide, idempotent).

    Werkzeug offers no hook for the decoder class: MultiPartParser.parse reads it from
    its module at call time, so that attribute is replaced. Lenient decoding only ever
    keeps more of a form than strict decoding would.
    """
    formparser.MultipartDecoder = LenientHeaderDecoder  # type: ignore[misc]
