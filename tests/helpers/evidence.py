"""Files a reporter attaches: photos with metadata, PDFs that leak, images too big."""

from __future__ import annotations

import io
import re
import struct
import zlib

from PIL import Image, ImageCms
from pypdf import PdfReader

import portal  # noqa: F401  (the whole app is imported: no module may loosen Pillow)

# Letters and digits only: PDF writers escape other characters inside strings ("-" may
# become "\055"), which would hide a leak from a plain byte search.
MARKER = "LEAKMARKERBudiSantoso7f3a9c"


MARKER_BYTES = MARKER.encode()


RED = (255, 0, 0)


BLUE = (0, 0, 255)


def two_colour_image(mode: str = "RGB", size: tuple[int, int] = (64, 32)) -> Image.Image:
    """Left half red, right half blue: shows which way a photo was turned."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return image.convert(mode)


def _ifd(entries: list[tuple[int, int, int, bytes]], offset: int, next_ifd: int) -> bytes:
    """One little-endian TIFF IFD at `offset`, with its out-of-line values after it."""
    data_at = offset + 2 + 12 * len(entries) + 4
    table, data = struct.pack("<H", len(entries)), b""
    for tag, kind, count, value in sorted(entries):
        if len(value) <= 4:
            table += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            table += struct.pack("<HHII", tag, kind, count, data_at + len(data))
            data += value.ljust(_padded(value), b"\0")
    return table + struct.pack("<I", next_ifd) + data


def _padded(value: bytes) -> int:
    """TIFF values start on even offsets."""
    return len(value) + len(value) % 2


def _ifd_size(entries: list[tuple[int, int, int, bytes]]) -> int:
    """Bytes an IFD takes, its out-of-line values included."""
    return 2 + 12 * len(entries) + 4 + sum(_padded(e[3]) for e in entries if len(e[3]) > 4)


def _rationals(*pairs: int) -> bytes:
    """TIFF RATIONAL values from numerator, denominator pairs."""
    return struct.pack(f"<{len(pairs)}I", *pairs)


def exif_block(orientation: int = 6) -> bytes:
    """EXIF as a phone writes it: orientation, owner (Artist), GPS position, a thumbnail."""
    thumbnail = io.BytesIO()
    Image.new("RGB", (16, 8), BLUE).save(thumbnail, "JPEG", comment=MARKER)
    thumb = thumbnail.getvalue()
    artist = MARKER_BYTES + b"\0"
    gps = [
        (0x0000, 1, 4, bytes([2, 3, 0, 0])),  # GPSVersionID
        (0x0001, 2, 2, b"S\0"),  # latitude south: Kota Serang, Banten
        (0x0002, 5, 3, _rationals(6, 1, 7, 1, 3012, 100)),
        (0x0003, 2, 2, b"E\0"),
        (0x0004, 5, 3, _rationals(106, 1, 9, 1, 1530, 100)),
    ]

    def ifd0(gps_at: int) -> list[tuple[int, int, int, bytes]]:
        return [
            (0x0112, 3, 1, struct.pack("<H", orientation)),
            (0x013B, 2, len(artist), artist),  # Artist
            (0x8825, 4, 1, struct.pack("<I", gps_at)),  # GPSInfo IFD pointer
        ]

    def ifd1(thumb_at: int) -> list[tuple[int, int, int, bytes]]:
        return [
            (0x0103, 3, 1, struct.pack("<H", 6)),  # Compression: JPEG
            (0x0201, 4, 1, struct.pack("<I", thumb_at)),  # JPEGInterchangeFormat
            (0x0202, 4, 1, struct.pack("<I", len(thumb))),
        ]

    gps_at = 8 + _ifd_size(ifd0(0))
    ifd1_at = gps_at + _ifd_size(gps)
    thumb_at = ifd1_at + _ifd_size(ifd1(0))
    tiff = (
        b"II*\0"
        + struct.pack("<I", 8)
        + _ifd(ifd0(gps_at), 8, ifd1_at)
        + _ifd(gps, gps_at, 0)
        + _ifd(ifd1(thumb_at), ifd1_at, 0)
        + thumb
    )
    return b"Exif\0\0" + tiff


def xmp_packet() -> bytes:
    """An XMP packet naming the author and the place, as editing apps write it."""
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'dc:creator="{MARKER}" dc:description="Kantor Disdukcapil {MARKER}"/>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def icc_profile() -> bytes:
    """A real sRGB profile with the marker appended (readers keep ICC bytes as they are)."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile + MARKER_BYTES


def phone_jpeg() -> bytes:
    """A JPEG carrying every kind of metadata a phone or editor leaves behind."""
    out = io.BytesIO()
    two_colour_image().save(
        out,
        "JPEG",
        quality=95,
        exif=exif_block(orientation=6),
        icc_profile=icc_profile(),
        xmp=xmp_packet(),
        comment=MARKER,
    )
    return out.getvalue()


def encoded(image: Image.Image, image_format: str, **params: object) -> bytes:
    """`image` saved in `image_format`."""
    out = io.BytesIO()
    image.save(out, image_format, **params)
    return out.getvalue()


def halved(data: bytes) -> bytes:
    """The first half of a file, as an interrupted upload or copy leaves it."""
    return data[: len(data) // 2]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_png(width: int, height: int) -> bytes:
    """A few dozen bytes claiming a gigantic 1-bit image: a decompression bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def build_pdf(objects: list[bytes], trailer: bytes) -> bytes:
    """A PDF from numbered object bodies (1-based), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d " % (len(objects) + 1) + trailer + b" >>\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    """A PDF stream object body."""
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


PAGE_TEXT = "Pungli 150rb di loket 3"


def leaky_pdf() -> bytes:
    """Two pages with text and a phone photo, plus every metadata and active-content slot."""
    m = MARKER_BYTES
    photo = phone_jpeg()
    content = b"BT /F1 18 Tf 40 300 Td (%s) Tj ET q 64 0 0 32 40 100 cm /Im0 Do Q" % (
        PAGE_TEXT.encode()
    )
    xmp = zlib.compress(xmp_packet())
    objects = [
        # 1 catalog: XMP, open action, scripts and attachments, a form, catalog actions
        b"<< /Type /Catalog /Pages 2 0 R /Metadata 3 0 R /OpenAction 4 0 R"
        b" /Names << /JavaScript << /Names [(init) 4 0 R] >>"
        b" /EmbeddedFiles << /Names [(kontak.txt) 5 0 R] >> >>"
        b" /AcroForm << /Fields [] /DA (/Helv 0 Tf %s) >> /AA << /WC 4 0 R >> >>" % m,
        b"<< /Type /Pages /Kids [7 0 R 12 0 R] /Count 2 >>",
        stream(b"/Type /Metadata /Subtype /XML /Filter /FlateDecode", xmp),
        b"<< /S /JavaScript /JS (app.alert('%s')) >>" % m,
        b"<< /Type /Filespec /F (kontak.txt) /EF << /F 6 0 R >> >>",
        stream(b"/Type /EmbeddedFile", b"Nama saya " + m),
        # 7 first page: annotations, page actions, page XMP, piece info, a date
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] /Contents 8 0 R"
        b" /Resources << /Font << /F1 9 0 R >> /XObject << /Im0 10 0 R >> >>"
        b" /Annots [11 0 R] /AA << /O 4 0 R >> /Metadata 3 0 R"
        b" /PieceInfo << /Editor << /Private (%s) /LastModified (D:20260114093012) >> >>"
        b" /LastModified (D:20260114093012+07'00') /ID (%s) /Thumb 10 0 R >>" % (m, m),
        stream(b"", content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        stream(
            b"/Type /XObject /Subtype /Image /Width 64 /Height 32 /ColorSpace /DeviceRGB"
            b" /BitsPerComponent 8 /Filter /DCTDecode /Metadata 3 0 R"
            b" /OPI << /2.0 << /Type /OPI /Version 2.0 /F (C:/Users/%s/foto.tif) >> >>" % m,
            photo,
        ),
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 100 100] /T (%s)"
        b" /A << /S /URI /URI (https://example.test/%s) >> >>" % (m, m),
        # 12 second page: the same photo, its JPEG wrapped in Flate as some tools write it
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 250] /Contents 13 0 R"
        b" /Resources << /XObject << /Im1 15 0 R >> >> >>",
        stream(b"/Filter /FlateDecode", zlib.compress(b"q 64 0 0 32 0 0 cm /Im1 Do Q")),
        b"<< /Author (%s) /Title (%s) /Producer (%s) /Creator (%s) >>" % (m, m, m, m),
        stream(
            b"/Type /XObject /Subtype /Image /Width 64 /Height 32 /ColorSpace /DeviceRGB"
            b" /BitsPerComponent 8 /Filter [/FlateDecode /DCTDecode] /DecodeParms [null null]",
            zlib.compress(photo),
        ),
    ]
    return build_pdf(objects, b"/Root 1 0 R /Info 14 0 R")


def everything_decoded(pdf: bytes) -> bytes:
    """A PDF's raw bytes, its decompressed streams, and every object as pypdf decodes it."""
    parts = [pdf]
    for body in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            parts.append(zlib.decompress(body))
        except zlib.error:
            parts.append(body)
    reader = PdfReader(io.BytesIO(pdf))
    for number in range(1, int(reader.trailer["/Size"])):
        # Strings come out unescaped, whether written as (\055...) or <hex>.
        parts.append(repr(reader.get_object(number)).encode())
    return b"\n".join(parts)
