"""Files as phones and scanners make them, with the metadata Lapor must never keep: a photo's
GPS position, camera and comment, a PDF's author. Shared by the tests of uploads, serving and
the privacy crawl; `leaked` says which of those secrets a stored or served file still has."""

from __future__ import annotations

import io

from PIL import Image
from pypdf import PdfWriter

MAKER = "KameraMaker Nusantara"
MODEL = "PhoneModel-XZ9"
COMMENT = b"rumah pelapor di belakang masjid"
AUTHOR = "Siti Rahayu"
# -8.1725, 113.6989: a house in Jember.
GPS = {1: "S", 2: (8.0, 10.0, 21.0), 3: "E", 4: (113.0, 41.0, 56.0)}
SECRETS = (b"Exif\x00\x00", MODEL.encode(), MAKER.encode(), COMMENT, AUTHOR.encode())
RED = (255, 0, 0)
BLUE = (0, 0, 255)


def phone_jpeg(size: tuple[int, int] = (80, 40), orientation: int = 6) -> bytes:
    """A JPEG as a phone writes it: GPS, maker, model, a comment, and an orientation tag (6:
    turn 90 degrees clockwise to view). Blue, red in the stored top-left corner."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x010F] = MAKER
    exif[0x0110] = MODEL
    exif[0x0112] = orientation
    exif[0x8825] = GPS
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, comment=COMMENT, quality=90)
    return buffer.getvalue()


def authored_pdf() -> bytes:
    """A one-page PDF whose document information names its author."""
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Author": AUTHOR, "/Creator": MODEL})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def leaked(data: bytes) -> list[bytes]:
    """The secrets of the files above still in `data`, and any EXIF an image parser finds."""
    found = [secret for secret in SECRETS if secret in data]
    if data[:3] == b"\xff\xd8\xff" or data[:4] == b"\x89PNG" or data[8:12] == b"WEBP":
        if dict(Image.open(io.BytesIO(data)).getexif()):
            found.append(b"<exif tags>")
    return found


def image_size(data: bytes) -> tuple[int, int]:
    """An image's (width, height) as stored."""
    return Image.open(io.BytesIO(data)).size
