"""Evidence cleaning: what comes out carries no metadata; what cannot be cleaned is refused.

Every fixture is generated here (Pillow, a tiny hand-written EXIF/TIFF block, a tiny
hand-written PDF), so the test shows exactly which metadata goes in.
"""

from __future__ import annotations

import io
import struct
import time
import warnings
import zipfile

import pytest
from PIL import ExifTags, Image, ImageFile, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.generic import StreamObject

import portal  # noqa: F401  (the whole app is imported: no module may loosen Pillow)
from portal.evidence import CleanFile, EvidenceRejected, clean, display_name
from tests.helpers.evidence import (
    BLUE,
    MARKER,
    MARKER_BYTES,
    PAGE_TEXT,
    RED,
    build_pdf,
    encoded,
    everything_decoded,
    exif_block,
    halved,
    huge_png,
    icc_profile,
    leaky_pdf,
    phone_jpeg,
    png_chunk,
    stream,
    two_colour_image,
    xmp_packet,
)

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000


def run(data: bytes, filename: str = "foto.jpg", **limits: int) -> CleanFile:
    """clean() with the production limits unless a test overrides one."""
    return clean(
        data,
        filename=filename,
        max_bytes=limits.get("max_bytes", MAX_BYTES),
        max_pixels=limits.get("max_pixels", MAX_PIXELS),
        **{key: value for key, value in limits.items() if key == "max_pages"},
    )


def refused(data: bytes, filename: str = "foto.jpg", **limits: int) -> EvidenceRejected:
    """The refusal clean() raises for `data`."""
    with pytest.raises(EvidenceRejected) as caught:
        run(data, filename, **limits)
    return caught.value


# --- fixture builders -------------------------------------------------------------------


def noise(size: int = 128) -> Image.Image:
    """An image of hard-to-compress pixels, so cutting its file loses pixel data."""
    pixels = bytes((i * 7919 + (i >> 3) * 104729) % 251 for i in range(size * size * 3))
    return Image.frombytes("RGB", (size, size), pixels)


def jpeg_segments(data: bytes) -> list[int]:
    """The markers of a JPEG's header segments, up to the first scan."""
    markers, pos = [], 2
    while True:
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:
            return markers
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")


def png_chunks(data: bytes) -> list[bytes]:
    """The chunk types of a PNG, in order."""
    kinds, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def webp_chunks(data: bytes) -> list[bytes]:
    """The chunk FourCCs of a WebP file."""
    kinds, pos = [], 12
    while pos < len(data):
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        kinds.append(data[pos : pos + 4])
        pos += 8 + length + length % 2
    return kinds


def blank_pdf(pages: int, **encrypt: str) -> bytes:
    """A PDF of blank pages written by pypdf, optionally encrypted."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    if encrypt:
        writer.encrypt(encrypt["password"], algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- JPEG ---------------------------------------------------------------------------------


def test_jpeg_from_a_phone_loses_all_metadata_and_is_turned_upright() -> None:
    source = phone_jpeg()
    with Image.open(io.BytesIO(source)) as original:
        # The fixture really carries what a phone writes; otherwise this test proves nothing.
        exif = original.getexif()
        assert exif[ExifTags.Base.Orientation] == 6
        assert exif[ExifTags.Base.Artist] == MARKER
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "S"
        assert 0x0201 in exif.get_ifd(ExifTags.IFD.IFD1)  # embedded thumbnail
        assert {"icc_profile", "exif", "xmp", "comment"} <= set(original.info)
        assert original.size == (64, 32)
    assert source.count(MARKER_BYTES) >= 5

    result = run(source, "IMG_20260114_093012.jpg")

    assert MARKER_BYTES not in result.data
    assert b"Exif" not in result.data and b"ICC_PROFILE" not in result.data
    assert b"http://ns.adobe.com/xap" not in result.data
    # Only what a decoder needs: JFIF, quantisation and Huffman tables, frame, scan.
    assert set(jpeg_segments(result.data)) <= {0xE0, 0xDB, 0xC0, 0xC4, 0xDA}
    with Image.open(io.BytesIO(result.data)) as cleaned:
        cleaned.load()
        assert cleaned.format == "JPEG"
        assert len(cleaned.getexif()) == 0
        assert not {"icc_profile", "exif", "xmp", "comment"} & set(cleaned.info)
        # Orientation 6 means "turn 90 degrees clockwise": width and height swap...
        assert cleaned.size == (32, 64)
        # ...and the left (red) half of the stored pixels ends up on top.
        red, _green, blue = cleaned.convert("RGB").getpixel((16, 8))  # type: ignore[misc]
        assert red > 200 and blue < 60
        red, _green, blue = cleaned.convert("RGB").getpixel((16, 56))  # type: ignore[misc]
        assert blue > 200 and red < 60
    assert result.content_type == "image/jpeg"
    assert result.extension == ".jpg"
    assert result.name == "IMG_20260114_093012.jpg"


def test_grey_jpeg_stays_grey_and_cmyk_becomes_rgb() -> None:
    grey, cmyk = io.BytesIO(), io.BytesIO()
    two_colour_image("L").save(grey, "JPEG")
    two_colour_image("CMYK").save(cmyk, "JPEG")
    with Image.open(io.BytesIO(run(grey.getvalue()).data)) as image:
        assert image.mode == "L"
    with Image.open(io.BytesIO(run(cmyk.getvalue()).data)) as image:
        assert image.mode == "RGB"
        assert image.size == (64, 32)


# --- PNG and WebP ----------------------------------------------------------------------------


def test_png_loses_text_exif_icc_and_private_chunks_and_keeps_transparency() -> None:
    image = two_colour_image("RGBA")
    image.putpixel((0, 0), (255, 0, 0, 0))  # one see-through pixel
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", MARKER)  # tEXt
    info.add_text("Comment", MARKER, zip=True)  # zTXt
    info.add_itxt("Description", MARKER, lang="id", tkey=MARKER)  # iTXt
    info.add_itxt("XML:com.adobe.xmp", xmp_packet().decode())
    info.add(b"tIME", struct.pack(">HBBBBB", 2026, 1, 14, 9, 30, 12))
    info.add(b"prVt", MARKER_BYTES)  # a private ancillary chunk
    source = io.BytesIO()
    image.save(source, "PNG", pnginfo=info, exif=exif_block(), icc_profile=icc_profile())
    assert b"eXIf" in source.getvalue() and b"iCCP" in source.getvalue()

    result = run(source.getvalue(), "tangkapan layar.png")

    assert MARKER_BYTES not in result.data
    assert set(png_chunks(result.data)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    with Image.open(io.BytesIO(result.data)) as cleaned:
        cleaned.load()
        assert len(cleaned.getexif()) == 0
        assert not {"icc_profile", "exif", "xmp", "Author", "Description"} & set(cleaned.info)
        assert cleaned.size == (32, 64)  # EXIF orientation 6 applied
        assert cleaned.mode == "RGBA"
        # Stored (0, 0) was the top-left corner; turned clockwise it is the top-right one.
        assert cleaned.getpixel((31, 0)) == (255, 0, 0, 0)
    assert (result.content_type, result.name) == ("image/png", "tangkapan layar.png")


def test_palette_png_transparency_survives_as_alpha() -> None:
    image = Image.new("P", (10, 10), 1)
    image.putpalette([0, 0, 0, 255, 255, 255])
    image.putpixel((0, 0), 0)
    source = io.BytesIO()
    image.save(source, "PNG", transparency=0)

    with Image.open(io.BytesIO(run(source.getvalue(), "x.png").data)) as cleaned:
        assert cleaned.mode == "RGBA"
        assert cleaned.getpixel((0, 0))[3] == 0  # type: ignore[index]
        assert cleaned.getpixel((5, 5)) == (255, 255, 255, 255)


def test_webp_loses_exif_xmp_and_icc() -> None:
    source = io.BytesIO()
    two_colour_image().save(
        source, "WEBP", exif=exif_block(), xmp=xmp_packet(), icc_profile=icc_profile()
    )
    assert {b"EXIF", b"XMP ", b"ICCP"} <= set(webp_chunks(source.getvalue()))

    result = run(source.getvalue(), "bukti.webp")

    assert MARKER_BYTES not in result.data
    assert set(webp_chunks(result.data)) <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}
    with Image.open(io.BytesIO(result.data)) as cleaned:
        cleaned.load()
        assert cleaned.format == "WEBP"
        assert len(cleaned.getexif()) == 0
        assert not {"icc_profile", "exif", "xmp"} & set(cleaned.info)
        assert cleaned.size == (32, 64)
    assert (result.content_type, result.extension) == ("image/webp", ".webp")


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_animation_keeps_its_first_frame_only(image_format: str) -> None:
    first, second = Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)
    source = io.BytesIO()
    first.save(source, image_format, save_all=True, append_images=[second], lossless=True)
    with Image.open(io.BytesIO(source.getvalue())) as original:
        assert getattr(original, "n_frames", 1) == 2

    with Image.open(io.BytesIO(run(source.getvalue(), "a.png").data)) as cleaned:
        assert getattr(cleaned, "n_frames", 1) == 1
        red, _green, blue = cleaned.convert("RGB").getpixel((4, 4))  # type: ignore[misc]
        assert red > 200 and blue < 60


# --- PDF ------------------------------------------------------------------------------------


def test_pdf_loses_metadata_scripts_forms_attachments_and_photo_exif() -> None:
    source = leaky_pdf()
    original = PdfReader(io.BytesIO(source))
    assert original.metadata is not None and original.metadata.author == MARKER
    assert {"/Metadata", "/OpenAction", "/Names", "/AcroForm"} <= set(original.root_object)
    assert MARKER_BYTES in everything_decoded(source)

    result = run(source, "laporan.pdf")

    assert MARKER_BYTES not in result.data
    assert MARKER_BYTES not in everything_decoded(result.data)
    assert b"/Producer" not in result.data and b"pypdf" not in result.data
    assert b"/JavaScript" not in result.data and b"/JS" not in result.data
    cleaned = PdfReader(io.BytesIO(result.data))
    assert not cleaned.metadata
    assert "/Info" not in cleaned.trailer
    catalog = cleaned.root_object
    assert not {"/Metadata", "/OpenAction", "/Names", "/AcroForm", "/AA"} & set(catalog)
    assert len(cleaned.pages) == 2
    first, second = cleaned.pages
    for page in cleaned.pages:
        assert not {"/Annots", "/AA", "/Metadata", "/PieceInfo", "/LastModified"} & set(page)
    # The evidence itself is intact: page sizes, text, and the photo (still decodable).
    assert [float(v) for v in first.mediabox] == [0, 0, 300, 400]
    assert [float(v) for v in second.mediabox] == [0, 0, 200, 250]
    assert PAGE_TEXT in first.extract_text()
    for page in cleaned.pages:
        (image_file,) = page.images
        photo = image_file.indirect_reference.get_object()  # type: ignore[union-attr]
        assert isinstance(photo, StreamObject)
        assert not {"/Metadata", "/OPI"} & set(photo)
        assert photo["/Filter"] == "/DCTDecode"
        jpeg = photo.get_data()
        assert set(jpeg_segments(jpeg)) <= {0xDB, 0xC0, 0xC4, 0xDA}
        with Image.open(io.BytesIO(jpeg)) as image:
            image.load()
            assert image.size == (64, 32)
            assert len(image.getexif()) == 0
    assert (result.content_type, result.extension, result.name) == (
        "application/pdf",
        ".pdf",
        "laporan.pdf",
    )


def test_pdf_with_an_unreadable_jpeg_image_is_refused() -> None:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100]"
        b" /Resources << /XObject << /Im0 4 0 R >> >> >>",
        stream(
            b"/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray"
            b" /BitsPerComponent 8 /Filter /DCTDecode",
            b"\xff\xd8\xff\xe1\xff\xff" + MARKER_BYTES,  # EXIF segment longer than the data
        ),
    ]
    assert refused(build_pdf(objects, b"/Root 1 0 R"), "a.pdf").code == "corrupt"


def test_pdf_written_by_pypdf_gets_no_producer_line() -> None:
    result = run(blank_pdf(3), "tiga halaman.pdf")
    cleaned = PdfReader(io.BytesIO(result.data))
    assert len(cleaned.pages) == 3
    assert cleaned.metadata is None
    assert b"pypdf" not in result.data


# --- refusals ---------------------------------------------------------------------------------


def test_refusals_carry_a_code_and_a_message_that_says_what_to_send() -> None:
    error = refused(b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"/lib64/ld-linux", "foto.jpg")
    assert error.code == "unsupported_type"
    assert str(error) == "unsupported_type"  # the exception text never holds content
    assert str(error.message) == (
        "This file type is not accepted. Send a JPEG, PNG or WebP photo, a PDF, "
        "or a plain text file."
    )


def test_zip_named_pdf_is_refused() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("laporan.pdf", b"%PDF-1.7 " + MARKER_BYTES)
    assert refused(archive.getvalue(), "laporan.pdf").code == "unsupported_type"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04", "a.gif"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "IMG_0001.HEIC"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "bukti.pdf"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "peta.txt"),
        (b"  <SVG onload='alert(1)'></SVG>", "x.svg"),
        (b"\x00\x00\x00%PDF-1.4\n", "x.pdf"),  # PDF magic must be at the very start
        (b"\xff\xfeh\x00a\x00l\x00o\x00", "utf16.txt"),
        (b"catatan\x00biner", "catatan.txt"),
        (b"warna \x1b[31mmerah", "catatan.txt"),
    ],
)
def test_other_types_are_refused(data: bytes, filename: str) -> None:
    assert refused(data, filename).code == "unsupported_type"


def test_gif_made_by_pillow_is_refused() -> None:
    gif = io.BytesIO()
    two_colour_image().save(gif, "GIF")
    assert refused(gif.getvalue(), "foto.gif").code == "unsupported_type"


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b" \r\n\t "])
def test_empty_files_are_refused(data: bytes) -> None:
    error = refused(data, "kosong.txt")
    assert error.code == "empty"
    assert "empty" in str(error.message)


def test_size_is_checked_first() -> None:
    error = refused(b"\x7fELF" + bytes(200), max_bytes=100)
    assert error.code == "too_large"
    assert str(error.message).startswith("This file is too large.")
    too_big = refused(b"a" * (2 * 1024 * 1024 + 1), "a.txt", max_bytes=2 * 1024 * 1024)
    assert "at most 2 MB" in str(too_big.message)
    assert run(b"a" * 100, "a.txt", max_bytes=100).data == b"a" * 100


@pytest.mark.parametrize(
    ("width", "height", "max_pixels"),
    [
        (8_000, 8_000, MAX_PIXELS),  # 64 Mpx: above our limit
        (10_000, 10_000, 10**9),  # 100 Mpx: Pillow's bomb warning, turned into a refusal
        (20_000, 20_000, 10**9),  # 400 Mpx: Pillow's bomb error
        (65_535, 65_535, MAX_PIXELS),
    ],
)
def test_pixel_bombs_are_refused_from_the_header(width: int, height: int, max_pixels: int) -> None:
    bomb = huge_png(width, height)
    assert len(bomb) < 100
    started = time.perf_counter()
    error = refused(bomb, "bom.png", max_pixels=max_pixels)
    assert error.code == "too_many_pixels"
    assert time.perf_counter() - started < 0.5  # nothing was decoded or allocated
    assert "megapixels" in str(error.message)


def test_pixel_limit_is_inclusive() -> None:
    square = io.BytesIO()
    Image.new("L", (100, 100)).save(square, "PNG")
    assert run(square.getvalue(), "a.png", max_pixels=10_000).content_type == "image/png"
    assert refused(square.getvalue(), "a.png", max_pixels=9_999).code == "too_many_pixels"


def test_cleaning_leaves_pillow_and_warnings_as_they_were() -> None:
    limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        refused(huge_png(10_000, 10_000), "bom.png", max_pixels=10**9)
        run(phone_jpeg())
    assert caught == []  # Pillow's bomb warning became a refusal, not log noise
    assert limit == Image.MAX_IMAGE_PIXELS
    assert warnings.filters == filters
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (halved(encoded(noise(), "JPEG", quality=95)), "potong.jpg"),
        (halved(encoded(noise(), "PNG")), "potong.png"),
        (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, "rusak.jpg"),
        (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", bytes(13)), "rusak.png"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00abcd", "rusak.webp"),
    ],
)
def test_broken_images_are_refused(data: bytes, filename: str) -> None:
    error = refused(data, filename)
    assert error.code == "corrupt"
    assert "damaged" in str(error.message)


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + bytes(range(256)) * 8,
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>",
        b"%PDF-",
    ],
)
def test_corrupt_pdfs_are_refused(data: bytes) -> None:
    assert refused(data, "laporan.pdf").code == "corrupt"


def test_encrypted_pdf_is_refused() -> None:
    error = refused(blank_pdf(1, password="rahasia"), "laporan.pdf")
    assert error.code == "encrypted"
    assert str(error.message).startswith("Password-protected PDFs cannot be accepted.")


def test_pdf_with_too_many_pages_is_refused() -> None:
    error = refused(blank_pdf(3), "laporan.pdf", max_pages=2)
    assert error.code == "too_large"
    assert "at most 2 pages" in str(error.message)
    assert len(PdfReader(io.BytesIO(run(blank_pdf(2), "a.pdf", max_pages=2).data)).pages) == 2


# --- text ---------------------------------------------------------------------------------------


def test_text_is_normalised_utf8() -> None:
    source = "\ufeffCalo minta Rp150.000\r\nuntuk KTP-el\rdi loket 3\tMPP\n".encode()
    result = run(source, "catatan.TXT")
    assert result.data == b"Calo minta Rp150.000\nuntuk KTP-el\ndi loket 3\tMPP\n"
    assert (result.content_type, result.extension, result.name) == (
        "text/plain; charset=utf-8",
        ".txt",
        "catatan.txt",
    )


def test_html_is_accepted_as_plain_text() -> None:
    result = run(b"<html><script>alert(1)</script></html>", "halaman.html")
    assert result.content_type == "text/plain; charset=utf-8"
    assert result.name == "halaman.txt"


# --- display names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "extension", "expected"),
    [
        ("../../etc/passwd.jpg", ".png", "passwd.png"),
        ("C:\\Users\\Budi\\Desktop\\kuitansi pungli.pdf", ".pdf", "kuitansi pungli.pdf"),
        ("foto.jpg.exe", ".jpg", "foto.jpg.jpg"),
        ("laporan.v2.pdf", ".pdf", "laporan.v2.pdf"),
        ("README", ".txt", "README.txt"),
        ("..", ".jpg", "bukti.jpg"),
        ("", ".webp", "bukti.webp"),
        (".bashrc", ".txt", "bukti.txt"),
        ("-rf  now!?.jpg", ".jpg", "rf now.jpg"),
        ("\u202egpj.exe", ".jpg", "gpj.jpg"),  # right-to-left override removed
        ("a<b>c:d|e*f\"g'h\x00.png", ".png", "abcdefgh.png"),
        ("Bukti_Pembayaran_Dinas.jpeg", ".jpg", "Bukti_Pembayaran_Dinas.jpg"),
        ("cafe\u0301 bukti.jpg", ".jpg", "caf\u00e9 bukti.jpg"),
    ],
)
def test_display_name(filename: str, extension: str, expected: str) -> None:
    assert display_name(filename, extension) == expected


def test_display_name_is_at_most_80_characters() -> None:
    name = display_name("x" * 300 + ".jpg", ".jpeg")
    assert len(name) == 80
    assert name.endswith("x.jpeg")


def test_name_takes_the_extension_of_the_detected_type() -> None:
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    result = run(png.getvalue(), "../../etc/passwd.jpg")
    assert (result.name, result.extension, result.content_type) == (
        "passwd.png",
        ".png",
        "image/png",
    )
