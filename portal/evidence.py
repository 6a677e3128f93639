"""Evidence uploads: accept a photo, PDF or text file only as a new copy with no metadata.

Photos are the classic way an "anonymous" reporter is exposed: EXIF GPS coordinates,
camera serial numbers, owner names, thumbnails of the uncropped picture. So nothing the
citizen uploads is stored as sent. The type is decided by the file's content (never its
name or the browser's word), then:

- JPEG, PNG, WebP: decoded with Pillow and re-encoded from the pixels alone into a fresh
  image; the EXIF orientation is applied first, everything else (EXIF, GPS, ICC, XMP,
  comments, text chunks, thumbnails, extra frames, trailing data) is left behind.
- PDF: its pages copied into a new document without document information, XMP, page
  piece info, annotations, forms, scripts, actions or embedded files; JPEG images inside
  lose their EXIF/XMP/ICC/comment segments.
- Plain text: strict UTF-8 without binary control characters, re-encoded.

Anything else is refused with an `EvidenceRejected` carrying a machine code and a
translated message that says what to send instead. This module is pure: no database,
no storage, no logging (neither file content nor file names are ever written anywhere).
One module on purpose: it is one cohesive thing, the scrubber, whose every part (type
detection, the three cleaners, the refusals) is read and reviewed together.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from PIL import ExifTags, Image, ImageFile
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    PdfObject,
    StreamObject,
)

# A PDF's pages are rendered and parsed later by staff tools; beyond this many pages the
# CPU cost of copying is not worth it for evidence, and the citizen can send the pages
# that matter.
MAX_PDF_PAGES = 200

# Longest display name, extension included: long enough for a meaningful name, short
# enough for any file system and any table column.
MAX_NAME_CHARS = 80
FALLBACK_NAME = "bukti"  # "evidence"

TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

# Re-encoding quality: visually faithful for photos of receipts and counters.
JPEG_QUALITY = 85
WEBP_QUALITY = 85

_UTF8_BOM = b"\xef\xbb\xbf"
# C0 controls other than tab, LF, CR, plus DEL: a "text" file containing these is binary.
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# SVG is XML text but an image format that carries editor metadata (export paths, author)
# and script; it is refused rather than passed off as a text file.
_SVG_START = re.compile(
    r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE\s+svg[^>]*>\s*)?<svg[\s>]",
    re.IGNORECASE | re.DOTALL,
)

# PNG modes Pillow writes back unchanged; anything else becomes RGB or RGBA.
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})

# EXIF orientation -> the transposition that shows the photo upright (EXIF 2.32, 4.6.4).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Page keys not copied (pypdf leaves them out at every depth of the copied page):
# annotations (links, attached files, scripts, comments with their authors: dropping all
# of them is simpler and safer than sorting them), page actions, XMP, application data,
# thumbnails, article beads, web-capture ids, associated files.
_PDF_PAGE_KEYS_DROPPED = (
    "/Annots",
    "/AA",
    "/AF",
    "/B",
    "/DPart",
    "/ID",
    "/LastModified",
    "/Metadata",
    "/PieceInfo",
    "/PZ",
    "/SeparationInfo",
    "/Thumb",
)
# Keys removed from every dictionary reachable from a page (resources, images, forms,
# fonts): metadata, modification dates, OPI and reference-XObject links to the author's
# own files, and any action, script, form or embedded file that may hang below.
_PDF_KEYS_DROPPED_ANYWHERE = (
    "/AA",
    "/AcroForm",
    "/AF",
    "/Annots",
    "/EF",
    "/EmbeddedFiles",
    "/JavaScript",
    "/JS",
    "/LastModified",
    "/Metadata",
    "/Names",
    "/OPI",
    "/OpenAction",
    "/PieceInfo",
    "/Ref",
    "/Thumb",
)
_DCT = "/DCTDecode"


class EvidenceRejected(ValueError):
    """An upload refused as evidence: `code` for machines, `message` for the citizen."""

    def __init__(self, code: str, message: LazyString) -> None:
        """Keep only the code in the exception text, so a logged error shows no content."""
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CleanFile:
    """A cleaned upload: new bytes, their type, and a safe name to show and download."""

    data: bytes
    content_type: str
    extension: str
    name: str


@dataclass(frozen=True)
class _Kind:
    """A file type recognised by content."""

    pillow_format: str | None
    content_type: str
    extension: str


_JPEG = _Kind("JPEG", "image/jpeg", ".jpg")
_PNG = _Kind("PNG", "image/png", ".png")
_WEBP = _Kind("WEBP", "image/webp", ".webp")
_PDF = _Kind(None, "application/pdf", ".pdf")
_TEXT = _Kind(None, TEXT_CONTENT_TYPE, ".txt")
# File name extension of each accepted content type.
EXTENSIONS = {kind.content_type: kind.extension for kind in (_JPEG, _PNG, _WEBP, _PDF, _TEXT)}


def clean(
    data: bytes,
    *,
    filename: str,
    max_bytes: int,
    max_pixels: int,
    max_pages: int = MAX_PDF_PAGES,
) -> CleanFile:
    """A metadata-free copy of an uploaded evidence file, or `EvidenceRejected`."""
    if not data:
        raise _empty()
    if len(data) > max_bytes:
        raise EvidenceRejected(
            "too_large",
            _l(
                "This file is too large. Each file may be at most %(megabytes)s MB: "
                "send a smaller photo, or only the pages that matter.",
                megabytes=_megabytes(max_bytes),
            ),
        )
    kind = _detect(data)
    if kind is _PDF:
        cleaned = _clean_pdf(data, max_pages=max_pages)
    elif kind is _TEXT:
        cleaned = _clean_text(data)
    else:
        cleaned = _clean_image(data, kind, max_pixels=max_pixels)
    return CleanFile(
        data=cleaned,
        content_type=kind.content_type,
        extension=kind.extension,
        name=display_name(filename, kind.extension),
    )


def display_name(filename: str, extension: str) -> str:
    """A safe name from the uploaded one: no folders, plain characters, the given extension."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", filename))[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = "".join(char for char in stem if _name_char(char))
    stem = re.sub(r" {2,}", " ", re.sub(r"\.{2,}", ".", stem)).strip(" .-")
    stem = stem[: MAX_NAME_CHARS - len(extension)].rstrip(" .-")
    return (stem or FALLBACK_NAME) + extension


def _name_char(char: str) -> bool:
    """Whether a character may stay in a display name: letters, digits, space, - _ ."""
    return char in " -_." or unicodedata.category(char) in ("Lu", "Ll", "Lt", "Lm", "Lo", "Nd")


def _detect(data: bytes) -> _Kind:
    """The file's type from its first bytes; text is recognised by decoding it later."""
    if data.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    # Readers accept "%PDF-" anywhere in the first 1024 bytes; we want it at the start,
    # so a file cannot be both a PDF and something else (a polyglot).
    if data.startswith(b"%PDF-"):
        return _PDF
    return _TEXT


# --- text ---------------------------------------------------------------------------


def _clean_text(data: bytes) -> bytes:
    """Plain UTF-8 text with LF newlines, or refused as an unsupported (binary) type."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _unsupported() from None
    if _BINARY_CHARS.search(text) or _SVG_START.match(text):
        raise _unsupported()
    if not text.strip():
        raise _empty()
    return text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")


# --- images ---------------------------------------------------------------------------


def _clean_image(data: bytes, kind: _Kind, *, max_pixels: int) -> bytes:
    """The image's pixels, upright, re-encoded in its own format without any metadata."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched Pillow to accept incomplete files; refuse to work half-blind.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    pillow_format = kind.pillow_format or ""
    # Pillow's own bomb limit is process-global; we never raise it, and never lower it
    # either (that would race with other threads): our limit is checked here, Pillow's
    # stays as a ceiling above it.
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    try:
        # Pillow warns (DecompressionBombWarning) between its limit and twice its limit,
        # and raises above; both are refusals here. catch_warnings() is not thread-safe
        # before Python 3.14, which is why the size is also checked against `limit` below.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                # Only the header has been read so far: refuse before decoding any pixel.
                width, height = image.size
                if width * height > limit:
                    raise _too_many_pixels(limit)
                if getattr(image, "n_frames", 1) > 1:
                    image.seek(0)  # animations keep their first frame only
                image.load()  # decodes everything; a truncated file raises here
                orientation = _orientation(image)
                pixels = _pixels_only(image, _output_mode(image, kind))
        if orientation in _ORIENTATION:
            pixels = pixels.transpose(_ORIENTATION[orientation])
        out = io.BytesIO()
        # A fresh image has an empty `info`, and no metadata argument is passed: Pillow
        # writes no EXIF, ICC profile, XMP, comment, text chunk or thumbnail.
        if kind is _JPEG:
            pixels.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        elif kind is _PNG:
            pixels.save(out, format="PNG", optimize=True)
        else:
            pixels.save(out, format="WEBP", quality=WEBP_QUALITY)
    except EvidenceRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(limit) from None
    except Exception as error:
        # Whatever a hostile or damaged file makes the decoder raise is a refusal, not a 500.
        raise _corrupt() from error
    return out.getvalue()


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 = upright); unreadable EXIF counts as upright."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) else 1


def _output_mode(image: Image.Image, kind: _Kind) -> str:
    """The pixel mode to encode in, keeping transparency and grey where the format can."""
    transparent = "A" in image.getbands() or "transparency" in image.info
    if kind is _JPEG:
        return image.mode if image.mode in ("L", "RGB") else "RGB"
    if kind is _PNG:
        if "transparency" in image.info:
            return "RGBA"  # tRNS lives in metadata we drop: move it into an alpha channel
        if image.mode in _PNG_MODES:
            return image.mode
    return "RGBA" if transparent else "RGB"


def _pixels_only(image: Image.Image, mode: str) -> Image.Image:
    """A new image holding only the pixels (and palette) of `image`, in `mode`."""
    source = image if image.mode == mode else image.convert(mode)
    fresh = Image.new(mode, source.size)
    if mode == "P":
        fresh.putpalette(source.getpalette() or [])
    fresh.paste(source, (0, 0))
    return fresh


# --- PDF ------------------------------------------------------------------------------


def _clean_pdf(data: bytes, *, max_pages: int) -> bytes:
    """A new PDF holding only the pages: no document metadata, scripts, forms or files."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise EvidenceRejected(
                "encrypted",
                _l(
                    "Password-protected PDFs cannot be accepted. Remove the password "
                    "(for example by printing the document to a new PDF) and send it again."
                ),
            )
        pages = list(reader.pages)
        if not pages:
            raise _corrupt()
        if len(pages) > max_pages:
            raise EvidenceRejected(
                "too_large",
                _l(
                    "This PDF has too many pages. Send at most %(pages)s pages, "
                    "for example only the pages that matter.",
                    pages=str(max_pages),
                ),
            )
        writer = PdfWriter()
        writer.metadata = None  # no /Info at all, not even pypdf's own /Producer
        for page in pages:
            # Scrub the source first, so nothing dropped is ever copied (no orphans).
            _scrub_pdf_tree(page)
            writer.add_page(page, excluded_keys=_PDF_PAGE_KEYS_DROPPED)
        out = io.BytesIO()
        writer.write(out)
    except EvidenceRejected:
        raise
    except Exception as error:
        # pypdf raises many kinds of errors on hostile input; each one is a refusal.
        raise _corrupt() from error
    return out.getvalue()


def _scrub_pdf_tree(page: DictionaryObject) -> None:
    """Remove metadata and active content from everything a page reaches (not its parents)."""
    seen: set[int] = set()
    stack: list[PdfObject] = [page]
    while stack:
        item = stack.pop()
        node = item.get_object() if isinstance(item, IndirectObject) else item
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, DictionaryObject):
            for key in _PDF_KEYS_DROPPED_ANYWHERE:
                node.pop(key, None)
            if isinstance(node, StreamObject) and node.get("/Subtype") == "/Image":
                _strip_pdf_jpeg(node)
            stack.extend(value for key, value in node.items() if key != "/Parent")
        elif isinstance(node, ArrayObject):
            stack.extend(node)


def _strip_pdf_jpeg(stream: StreamObject) -> None:
    """Remove EXIF, XMP, ICC, comments and trailing data from a JPEG image in a PDF."""
    filters = stream.get("/Filter")
    filters = filters.get_object() if filters is not None else None
    names = list(filters) if isinstance(filters, ArrayObject) else [filters]
    if not names or names[-1] != _DCT:
        return
    jpeg = stream.get_data()  # only undoes filters before DCTDecode; DCT passes through
    if len(names) > 1:
        parms = stream.get("/DecodeParms")
        parms = parms.get_object() if parms is not None else None
        stream[NameObject("/Filter")] = NameObject(_DCT)
        stream.pop("/DecodeParms", None)
        if isinstance(parms, ArrayObject) and isinstance(parms[-1].get_object(), dict):
            stream[NameObject("/DecodeParms")] = parms[-1]
    # EncodedStreamObject.set_data only re-encodes Flate; the base method stores raw
    # (already encoded) bytes, which is what a DCTDecode stream holds.
    StreamObject.set_data(stream, _strip_jpeg_segments(jpeg))
    stream.decoded_self = None


def _strip_jpeg_segments(jpeg: bytes) -> bytes:
    """The JPEG with only the segments needed to decode it: no APPn, COM or trailer."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG stream")
    out, pos, size = bytearray(b"\xff\xd8"), 2, len(jpeg)
    while True:
        if pos >= size or jpeg[pos] != 0xFF:
            raise ValueError("JPEG marker expected")
        while pos < size and jpeg[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            raise ValueError("JPEG ends inside a marker")
        marker = jpeg[pos]
        pos += 1
        if marker == 0xD9:  # end of image: anything after it (MPO, vendor trailers) goes
            return bytes(out + b"\xff\xd9")
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # stand-alone markers
            out += bytes((0xFF, marker))
            continue
        length = int.from_bytes(jpeg[pos : pos + 2], "big")
        end = pos + length
        if length < 2 or end > size:
            raise ValueError("JPEG segment overruns the data")
        if _keep_jpeg_segment(marker, jpeg[pos + 2 : end]):
            out += bytes((0xFF, marker)) + jpeg[pos:end]
        pos = end
        if marker == 0xDA:  # start of scan: copy entropy-coded data up to the next marker
            start = pos
            while True:
                found = jpeg.find(b"\xff", pos)
                if found < 0 or found + 1 >= size:  # no end-of-image marker: close it
                    return bytes(out + jpeg[start:] + b"\xff\xd9")
                following = jpeg[found + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos = found + 2  # stuffed byte or restart marker: still scan data
                elif following == 0xFF:
                    pos = found + 1  # fill byte before a marker
                else:
                    break
            out += jpeg[start:found]
            pos = found


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    """Whether a JPEG segment is needed for decoding (frames, tables, scans, Adobe flag)."""
    if 0xE0 <= marker <= 0xEF:
        # Only Adobe's APP14 (12 bytes: version, flags, colour transform) is needed, to
        # decode CMYK and YCCK; JFIF (with its thumbnail), EXIF, XMP, ICC and the rest go.
        return marker == 0xEE and len(payload) == 12 and payload.startswith(b"Adobe")
    # COM comments, JPG extensions and reserved markers carry no image data.
    return not (marker == 0xFE or marker >= 0xF0 or marker < 0xC0 or marker == 0xC8)


# --- refusals -------------------------------------------------------------------------


def _empty() -> EvidenceRejected:
    """The refusal for a file with nothing in it."""
    return EvidenceRejected(
        "empty", _l("This file is empty. Choose the photo or document again and send it.")
    )


def _unsupported() -> EvidenceRejected:
    """The refusal for a type we do not accept."""
    return EvidenceRejected(
        "unsupported_type",
        _l(
            "This file type is not accepted. Send a JPEG, PNG or WebP photo, a PDF, "
            "or a plain text file."
        ),
    )


def _corrupt() -> EvidenceRejected:
    """The refusal for a damaged or incomplete file."""
    return EvidenceRejected(
        "corrupt",
        _l(
            "This file is damaged or incomplete and cannot be read. Open it on your "
            "device, save or export it again, and send the new copy."
        ),
    )


def _too_many_pixels(limit: int) -> EvidenceRejected:
    """The refusal for an image with more pixels than allowed (or a decompression bomb)."""
    return EvidenceRejected(
        "too_many_pixels",
        _l(
            "This image is too large: at most %(megapixels)s megapixels are accepted. "
            "Send a smaller photo or a screenshot.",
            megapixels=_megapixels(limit),
        ),
    )


def _megapixels(pixels: int) -> str:
    """A pixel count as megapixels for messages: "40", "0.5"."""
    return f"{pixels / 1_000_000:g}"


def _megabytes(size: int) -> str:
    """A byte count as megabytes for messages: "10", "2.5"."""
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")
