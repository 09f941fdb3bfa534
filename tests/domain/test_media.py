"""Uploaded evidence (domain/media.py): the type is decided by the bytes, a stored photo or PDF
carries no metadata (an anonymous reporter's GPS above all), photos are upright and bounded,
and each unreadable, unsupported or oversized file is refused with its code and field. Every
fixture is made here, with the metadata a phone or a scanner would write."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Link
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, TextStringObject

from domain.errors import DomainError, ErrorCode
from domain.media import CleanFile, MediaLimits, clean, sniff, thumbnail

FIELD = ["evidence", "0"]
MAKER = "KameraMaker Nusantara"
MODEL = "PhoneModel-XZ9"
COMMENT = b"rumah pelapor di belakang masjid"
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    b'xmp:CreatorTool="SecretScanner 3.1"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
RED = (255, 0, 0)
BLUE = (0, 0, 255)
# -8.1725, 113.6989: a house in Jember.
GPS = {1: "S", 2: (8.0, 10.0, 21.0), 3: "E", 4: (113.0, 41.0, 56.0)}
SECRETS = (b"Exif\x00\x00", b"http://ns.adobe.com/xap", MODEL.encode(), MAKER.encode(), COMMENT)


def _camera_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = MAKER
    exif[0x0110] = MODEL
    exif[0x0112] = orientation
    exif[0x8825] = GPS
    return exif


def _marked(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Blue, with a red 10 px square in the top-left corner: where it ends up tells the turn."""
    image = Image.new(mode, size, BLUE)
    image.paste(RED, (0, 0, 10, 10))
    return image


def _encoded(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def _opened(file: CleanFile) -> Image.Image:
    image = Image.open(io.BytesIO(file.data))
    assert image.size == (file.width, file.height)
    return image


def _pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel


def _close(image: Image.Image, xy: tuple[int, int], colour: tuple[int, int, int]) -> bool:
    """Within JPEG's error of `colour` at `xy`."""
    return all(abs(a - b) <= 24 for a, b in zip(_pixel(image, xy)[:3], colour, strict=True))


def _assert_no_secret(data: bytes) -> None:
    leaked = [secret for secret in SECRETS if secret in data]
    assert leaked == []


def _refused(data: bytes, code: ErrorCode, limits: MediaLimits = MediaLimits()) -> DomainError:
    with pytest.raises(DomainError) as refused:
        clean(data, FIELD, limits)
    assert refused.value.code == code
    assert refused.value.field == FIELD
    return refused.value


def test_a_phone_jpeg_is_stored_upright_without_exif_gps_xmp_or_comment() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = _encoded(
        _marked((60, 40)),
        "JPEG",
        exif=_camera_exif(orientation=6),
        xmp=XMP,
        comment=COMMENT,
        icc_profile=srgb,
    )
    # The fixture does carry what must go.
    assert all(secret in original for secret in (*SECRETS, b"ICC_PROFILE"))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)

    cleaned = clean(original, FIELD)

    assert cleaned.content_type == "image/jpeg" and cleaned.is_image
    _assert_no_secret(cleaned.data)
    assert b"ICC_PROFILE" not in cleaned.data
    image = _opened(cleaned)
    assert dict(image.getexif()) == {}
    assert not {"exif", "xmp", "comment", "icc_profile"} & image.info.keys()
    # Orientation 6 is a quarter turn clockwise: the top-left corner goes to the top right.
    assert image.size == (40, 60)
    assert _close(image, (35, 4), RED)
    assert _close(image, (4, 4), BLUE)


def test_cleaning_is_deterministic_for_content_addressing() -> None:
    original = _encoded(_marked((300, 200)), "JPEG", exif=_camera_exif())
    first, second = clean(original, FIELD), clean(original, FIELD)
    assert first.data == second.data and first.sha256 == second.sha256
    assert first.extension == ".jpg"


def test_a_png_keeps_its_transparency_and_loses_its_text_chunks_exif_and_profile() -> None:
    image = _marked((64, 48), "RGBA")
    image.paste((0, 0, 0, 0), (32, 0, 64, 48))
    chunks = PngInfo()
    chunks.add_text("Author", MAKER)
    chunks.add_itxt("Comment", COMMENT.decode(), zip=False)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = _encoded(image, "PNG", pnginfo=chunks, exif=_camera_exif(), icc_profile=srgb)
    assert b"tEXt" in original and b"iTXt" in original and b"iCCP" in original

    cleaned = clean(original, FIELD)

    assert cleaned.content_type == "image/png" and cleaned.extension == ".png"
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"iCCP", b"eXIf"):
        assert chunk not in cleaned.data
    _assert_no_secret(cleaned.data)
    stored = _opened(cleaned)
    assert stored.mode == "RGBA"
    assert stored.getpixel((50, 20)) == (0, 0, 0, 0)
    assert stored.getpixel((2, 2)) == (*RED, 255)
    assert dict(stored.getexif()) == {}


def test_an_opaque_png_is_stored_without_an_alpha_channel() -> None:
    cleaned = clean(_encoded(_marked((20, 20), "RGBA"), "PNG"), FIELD)
    assert _opened(cleaned).mode == "RGB"


def test_a_webp_stays_webp_without_exif_or_xmp() -> None:
    original = _encoded(_marked((60, 40)), "WEBP", exif=_camera_exif(), xmp=XMP, quality=90)
    assert MODEL.encode() in original

    cleaned = clean(original, FIELD)

    assert cleaned.content_type == "image/webp" and cleaned.extension == ".webp"
    for chunk in (b"EXIF", b"XMP ", b"ICCP"):
        assert chunk not in cleaned.data
    _assert_no_secret(cleaned.data)
    stored = _opened(cleaned)
    assert dict(stored.getexif()) == {}
    assert _close(stored.convert("RGB"), (4, 4), RED)


def test_a_transparent_webp_keeps_its_transparency() -> None:
    image = _marked((40, 40), "RGBA")
    image.paste((0, 0, 0, 0), (20, 0, 40, 40))
    stored = _opened(clean(_encoded(image, "WEBP", lossless=True), FIELD))
    assert stored.mode == "RGBA"
    assert _pixel(stored, (35, 20))[3] == 0 and _pixel(stored, (4, 4))[3] == 255


def test_a_heic_photo_becomes_an_upright_jpeg_without_its_exif() -> None:
    original = _encoded(_marked((60, 40)), "HEIF", exif=_camera_exif(orientation=6).tobytes())
    assert sniff(original) == "image/heic"
    assert MODEL.encode() in original

    cleaned = clean(original, FIELD)

    assert cleaned.content_type == "image/jpeg"
    _assert_no_secret(cleaned.data)
    stored = _opened(cleaned)
    assert stored.size == (40, 60)
    assert _close(stored, (35, 4), RED)
    assert dict(stored.getexif()) == {}
    # libheif turns the picture as it decodes it: bounding it must not turn it twice.
    halved = _opened(clean(original, FIELD, MediaLimits(max_side=30)))
    assert halved.size == (20, 30) and _close(halved, (18, 1), RED)


def test_a_cmyk_jpeg_is_stored_as_rgb() -> None:
    cleaned = clean(_encoded(_marked((40, 40)).convert("CMYK"), "JPEG"), FIELD)
    stored = _opened(cleaned)
    assert stored.mode == "RGB" and _close(stored, (4, 4), RED)


def test_a_sixteen_bit_grey_png_is_scaled_to_eight_bits_not_clipped() -> None:
    cleaned = clean(_encoded(Image.new("I;16", (8, 8), 40_000), "PNG"), FIELD)
    assert _pixel(_opened(cleaned), (2, 2)) == (155, 155, 155)


def test_a_palette_png_is_reduced_smoothly_not_by_nearest_pixel() -> None:
    stripes = Image.new("P", (400, 100))
    stripes.putpalette([0, 0, 0, 255, 255, 255])
    stripes.putdata([x % 2 for _ in range(100) for x in range(400)])
    cleaned = clean(_encoded(stripes, "PNG"), FIELD, MediaLimits(max_side=200))
    grey = _pixel(_opened(cleaned), (100, 25))
    assert all(100 < channel < 155 for channel in grey)


def test_an_animated_png_keeps_its_first_frame_only() -> None:
    first, second = _marked((40, 40)), Image.new("RGB", (40, 40), (0, 255, 0))
    animated = _encoded(first, "PNG", save_all=True, append_images=[second])
    assert getattr(Image.open(io.BytesIO(animated)), "n_frames", 1) == 2

    stored = _opened(clean(animated, FIELD))

    assert not getattr(stored, "is_animated", False)
    assert _close(stored, (4, 4), RED) and _close(stored, (30, 30), BLUE)


def test_a_large_photo_is_bounded_to_max_side_keeping_its_aspect() -> None:
    jpeg = clean(_encoded(_marked((4000, 3000)), "JPEG", exif=_camera_exif(6)), FIELD)
    assert (jpeg.width, jpeg.height) == (1500, 2000)
    # Bounded, then turned: the corner still ends up top right.
    assert _close(_opened(jpeg), (1499, 0), RED)
    png = clean(_encoded(_marked((5000, 1000)), "PNG"), FIELD, MediaLimits(max_side=1000))
    assert (png.width, png.height) == (1000, 200)
    assert _close(_opened(png), (0, 0), RED)


def test_a_small_photo_is_not_enlarged() -> None:
    cleaned = clean(_encoded(_marked((30, 20)), "PNG"), FIELD)
    assert (cleaned.width, cleaned.height) == (30, 20)


def test_a_thumbnail_is_a_small_jpeg_without_metadata() -> None:
    stored = clean(_encoded(_marked((4000, 3000)), "JPEG", exif=_camera_exif()), FIELD)

    small = thumbnail(stored.data, 320)

    assert small.content_type == "image/jpeg"
    assert (small.width, small.height) == (320, 240)
    assert b"Exif\x00\x00" not in small.data and dict(_opened(small).getexif()) == {}
    assert len(small.data) < 20_000
    # Never enlarged.
    tiny = clean(_encoded(_marked((50, 40)), "PNG"), FIELD)
    assert (thumbnail(tiny.data, 320).width, thumbnail(tiny.data, 320).height) == (50, 40)


def test_a_thumbnail_keeps_transparency_as_webp() -> None:
    image = Image.new("RGBA", (800, 400), (0, 0, 0, 0))
    image.paste((*RED, 255), (0, 0, 400, 400))
    stored = clean(_encoded(image, "PNG"), FIELD)

    small = thumbnail(stored.data, 320)

    assert small.content_type == "image/webp" and (small.width, small.height) == (320, 160)
    opened = _opened(small)
    assert opened.mode == "RGBA" and _pixel(opened, (300, 80))[3] == 0


def test_only_an_image_has_a_thumbnail() -> None:
    with pytest.raises(DomainError) as refused:
        thumbnail(_pdf_with_metadata(), 320)
    assert refused.value.code == ErrorCode.UNSUPPORTED_FILE


def _pdf_with_metadata() -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    writer.add_metadata(
        {"/Author": "Siti Rahayu", "/Creator": "ScanApp Rahasia", "/Producer": "ProducerCorp"}
    )
    writer.xmp_metadata = XMP
    # The second page, reached from the first by a link, carries its own XMP.
    second = writer.add_blank_page(200, 200)
    page_xmp = DecodedStreamObject()
    page_xmp.set_data(XMP)
    second[NameObject("/Metadata")] = writer._add_object(page_xmp)
    writer.add_annotation(0, Link(rect=(10, 10, 50, 50), target_page_index=1))
    script = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('lokasi pelapor');"),
        }
    )
    writer.root_object[NameObject("/OpenAction")] = writer._add_object(script)
    page[NameObject("/AA")] = DictionaryObject({NameObject("/O"): script.clone(writer)})
    writer.add_attachment("lokasi.txt", b"-8.1725,113.6989")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


PDF_SECRETS = (
    b"Siti Rahayu",
    b"ScanApp Rahasia",
    b"ProducerCorp",
    b"http://ns.adobe.com/xap",
    b"/JavaScript",
    b"lokasi pelapor",
    b"/EmbeddedFile",
    b"113.6989",
)


def test_a_pdf_loses_its_document_information_xmp_javascript_and_attachments() -> None:
    original = _pdf_with_metadata()
    assert all(secret in original for secret in PDF_SECRETS)

    cleaned = clean(original, FIELD)

    assert cleaned.content_type == "application/pdf" and not cleaned.is_image
    assert (cleaned.width, cleaned.height, cleaned.extension) == (None, None, ".pdf")
    # pypdf would name itself the producer of what it writes.
    assert [secret for secret in (*PDF_SECRETS, b"pypdf") if secret in cleaned.data] == []
    reader = PdfReader(io.BytesIO(cleaned.data))
    assert len(reader.pages) == 2 and "/Annots" in reader.pages[0]
    assert not reader.metadata
    assert reader.xmp_metadata is None
    assert not {"/OpenAction", "/Names", "/Metadata"} & set(reader.root_object.keys())
    assert [set(page.keys()) & {"/Metadata", "/AA"} for page in reader.pages] == [set(), set()]
    assert clean(original, FIELD).data == cleaned.data


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"Laporan: jalan rusak di depan pasar\n" * 20, id="text named .jpg"),
        pytest.param(b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200), id="windows executable"),
        pytest.param(b"\x7fELF\x02\x01\x01" + bytes(200), id="elf executable"),
        pytest.param(b"GIF89a" + bytes(100), id="gif"),
        pytest.param(b"", id="empty"),
    ],
)
def test_a_file_of_another_type_is_refused_whatever_its_name(data: bytes) -> None:
    error = _refused(data, ErrorCode.UNSUPPORTED_FILE)
    assert "JPEG" in error.message


def test_a_zip_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", _encoded(_marked((20, 20)), "JPEG"))
    _refused(buffer.getvalue(), ErrorCode.UNSUPPORTED_FILE)


def test_a_truncated_jpeg_is_refused_rather_than_stored_half_grey() -> None:
    whole = _encoded(Image.effect_noise((400, 300), 60).convert("RGB"), "JPEG")
    error = _refused(whole[: len(whole) // 2], ErrorCode.UNREADABLE_FILE)
    assert "truncated" not in error.message  # ours, not Pillow's


def test_a_corrupt_png_is_refused() -> None:
    whole = bytearray(_encoded(Image.effect_noise((200, 200), 60), "PNG"))
    start = whole.index(b"IDAT") + 4
    whole[start + 10 : start + 400] = bytes(range(256)) + bytes(134)
    _refused(bytes(whole), ErrorCode.UNREADABLE_FILE)


def test_a_corrupt_pdf_is_refused() -> None:
    _refused(b"%PDF-1.7\n" + b"\x00garbage" * 50, ErrorCode.UNREADABLE_FILE)


def test_an_encrypted_pdf_is_refused() -> None:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt(user_password="rahasia", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    error = _refused(buffer.getvalue(), ErrorCode.UNREADABLE_FILE)
    assert "password" in error.message


def _png_header(width: int, height: int) -> bytes:
    """A PNG of a few bytes that declares a huge picture (its pixels are never there)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes(1000))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("width", "height"),
    [
        pytest.param(50_000, 50_000, id="beyond Pillow's own limit"),
        pytest.param(8_000, 6_000, id="beyond ours only"),
    ],
)
def test_a_pixel_bomb_is_refused_before_it_is_decoded(width: int, height: int) -> None:
    bomb = _png_header(width, height)
    assert len(bomb) < 200
    error = _refused(bomb, ErrorCode.FILE_TOO_LARGE)
    assert "40,000,000 pixels" in error.message


def test_the_pixel_limit_is_the_callers() -> None:
    picture = _encoded(_marked((100, 100)), "PNG")
    _refused(picture, ErrorCode.FILE_TOO_LARGE, MediaLimits(max_pixels=9_999))
    assert clean(picture, FIELD, MediaLimits(max_pixels=10_000)).width == 100


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + bytes(4) + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + bytes(16)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.4\n", "application/pdf"),
        (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"mif1", b"miaf"), "image/heif"),
        (_ftyp(b"avif", b"mif1", b"miaf"), None),
        (_ftyp(b"mif1", b"mif1", b"avif"), None),
        (_ftyp(b"isom", b"mp41"), None),  # a video
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"PK\x03\x04", None),
        (b"\xff\xd8", None),
        (b"", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
    ],
)
def test_sniff_decides_by_magic_numbers(data: bytes, content_type: str | None) -> None:
    assert sniff(data) == content_type
