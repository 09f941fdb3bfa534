"""What an uploaded file is, and the copy of it that Lapor stores: evidence attached to a report.

The type is decided by the file's bytes alone (never its name or the client's content type).
Photos are decoded fully, turned upright, bounded in size, converted to sRGB and encoded anew
with no metadata at all, so that an anonymous reporter's location never leaks through a
photo's GPS tags; PDFs are parsed and written anew without their document information, XMP
and active content. Nothing here does I/O; `clean` and `thumbnail` are CPU-bound and their
callers run them in a child process (`returning_refusal`). The same input gives the same bytes
(stored files are content-addressed by sha256).

Importing this module registers pillow-heif's HEIC/HEIF opener with Pillow, process-wide.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, ParamSpec

import pillow_heif
from PIL import Image, ImageCms, ImageFile, ImageOps
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, PdfObject

from domain.errors import DomainError, ErrorCode

P = ParamSpec("P")
# A refusal as plain data (code, message, field): DomainError's __init__ takes arguments its
# pickled form does not give back, so it cannot cross a process boundary as an exception.
Refusal = tuple[ErrorCode, str, list[str] | None]

# Auxiliary pictures (thumbnails, depth maps) are never kept: not decoding them costs nothing.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

JPEG: Final = "image/jpeg"
PNG: Final = "image/png"
WEBP: Final = "image/webp"
HEIC: Final = "image/heic"
HEIF: Final = "image/heif"
PDF: Final = "application/pdf"

# Pillow's name of the decoder for each type: a file is only ever opened by the decoder of the
# type its bytes declare, never by whichever plugin happens to accept it.
_PILLOW_FORMAT: Final = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP", HEIC: "HEIF", HEIF: "HEIF"}
# HEIC/HEIF are stored as JPEG, which every browser shows.
_STORED_AS: Final = {JPEG: JPEG, HEIC: JPEG, HEIF: JPEG, PNG: PNG, WEBP: WEBP}
_PILLOW_ENCODER: Final = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
_EXTENSION: Final = {JPEG: ".jpg", PNG: ".png", WEBP: ".webp", PDF: ".pdf"}

# ISO BMFF brands (the ftyp box): HEVC-coded pictures, and the generic image brands.
_HEIC_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_BRANDS: Final = frozenset({b"mif1", b"msf1"})
# AVIF files carry mif1 too, but this build of libheif cannot decode them.
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})

_WIDE_GREY: Final = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_WHITE: Final = (255, 255, 255)

# Actions a PDF viewer would run on its own or on a click: none is needed to read evidence.
_ACTIVE_ACTIONS: Final = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/ResetForm",
        "/Rendition",
        "/GoToR",
        "/GoToE",
    }
)
_ATTACHMENT_ANNOTATIONS: Final = frozenset(
    {"/FileAttachment", "/Sound", "/Movie", "/Screen", "/RichMedia", "/3D"}
)
# Keys that carry metadata, automatic actions or chained actions wherever they appear.
_DROPPED_KEYS: Final = ("/Metadata", "/PieceInfo", "/AA", "/Next")


@dataclass(frozen=True)
class MediaLimits:
    """How big a stored image may be, and how it is encoded."""

    max_side: int = 2000  # the longest side of a stored image, px (see Settings)
    max_pixels: int = 40_000_000  # refused before decoding beyond this: decompression bombs
    jpeg_quality: int = 85  # also the quality of lossy WebP
    thumbnail_side: int = 320


@dataclass(frozen=True)
class CleanFile:
    """A file as Lapor stores it: its bytes and what they are (sizes for images only)."""

    data: bytes
    content_type: str
    width: int | None
    height: int | None

    @property
    def is_image(self) -> bool:
        return is_image(self.content_type)

    @property
    def sha256(self) -> str:
        """The hex digest that addresses the stored file."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def extension(self) -> str:
        return _EXTENSION[self.content_type]


def is_image(content_type: str) -> bool:
    """Whether a stored file of this content type is a picture (it gets a thumbnail)."""
    return content_type.startswith("image/")


def sniff(data: bytes) -> str | None:
    """The content type the file's magic numbers declare, among those Lapor accepts; None for
    any other file. Only the first bytes are read: it says what a file claims, not that it is
    whole."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    if data[4:8] == b"ftyp":
        return _sniff_heif(data)
    return None


def _sniff_heif(data: bytes) -> str | None:
    box_size = int.from_bytes(data[:4], "big")
    major = data[8:12]
    compatible = {data[i : i + 4] for i in range(16, min(box_size, len(data)) - 3, 4)}
    brands = {major} | compatible
    if major in _AVIF_BRANDS:
        return None
    if brands & _HEIC_BRANDS:
        return HEIC
    if major in _HEIF_BRANDS and not compatible & _AVIF_BRANDS:
        return HEIF
    return None


def returning_refusal(
    work: Callable[P, CleanFile], *args: P.args, **kwargs: P.kwargs
) -> CleanFile | Refusal:
    """`work` (`clean` or `thumbnail`) run in a child process: its file, or its refusal returned
    rather than raised; any other exception is raised as it is."""
    try:
        return work(*args, **kwargs)
    except DomainError as refused:
        return (refused.code, refused.message, refused.field)


def clean(data: bytes, field: list[str], limits: MediaLimits = MediaLimits()) -> CleanFile:
    """The copy of an uploaded photo or PDF that Lapor stores, or DomainError naming `field`:
    UNSUPPORTED_FILE, UNREADABLE_FILE (corrupt, truncated, encrypted) or FILE_TOO_LARGE
    (pixels). Images: see `_clean_image`; PDFs: see `_clean_pdf`."""
    content_type = sniff(data)
    if content_type is None:
        raise DomainError(
            ErrorCode.UNSUPPORTED_FILE,
            "This type of file is not accepted: send a photo (JPEG, PNG, WebP or HEIC) "
            "or a PDF document.",
            field,
        )
    if content_type == PDF:
        return _clean_pdf(data, field)
    return _clean_image(data, content_type, field, limits)


def check_byte_size(size: int, max_bytes: int, field: list[str]) -> None:
    """Refuse with FILE_TOO_LARGE a file of more than `max_bytes` bytes (the caller's limit)."""
    if size > max_bytes:
        raise DomainError(
            ErrorCode.FILE_TOO_LARGE,
            f"The file is too large ({_megabytes(size)}); the largest accepted is "
            f"{_megabytes(max_bytes)}.",
            field,
        )


def thumbnail(data: bytes, side: int, limits: MediaLimits = MediaLimits()) -> CleanFile:
    """A small copy of an image `clean` stored, its longest side at most `side` px (never
    enlarged): JPEG, or lossy WebP when the image has transparency; no metadata."""
    content_type = sniff(data)
    if content_type not in _PILLOW_FORMAT:
        raise DomainError(ErrorCode.UNSUPPORTED_FILE, "Only an image has a thumbnail.")
    image = _decoded(data, content_type, None, limits, side)
    encoded_as = WEBP if image.mode == "RGBA" else JPEG
    return _encoded(image, encoded_as, limits)


def _clean_image(
    data: bytes, content_type: str, field: list[str], limits: MediaLimits
) -> CleanFile:
    """The image decoded fully (a truncated file is refused), turned upright by its EXIF
    orientation, its longest side bounded to `limits.max_side`, its colours converted to sRGB,
    and encoded anew with no metadata (no EXIF, XMP, IPTC, comment, text chunk nor ICC
    profile): JPEG and HEIC/HEIF as JPEG, PNG as PNG and WebP as lossy WebP (both keep
    transparency). Of an animated image only the first frame is kept."""
    image = _decoded(data, content_type, field, limits, limits.max_side)
    stored_as = _STORED_AS[content_type]
    if stored_as == JPEG:
        image = _flattened(image)
    return _encoded(image, stored_as, limits)


def _decoded(
    data: bytes, content_type: str, field: list[str] | None, limits: MediaLimits, bound: int
) -> Image.Image:
    """The first frame, upright, in sRGB as RGB or RGBA (RGBA only if some pixel is not
    opaque), with no metadata left in `info`; at least `bound` px on its longest side when
    the original had as many."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Pillow would then store the grey rest of a truncated file as if it were whole.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    try:
        image = Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[content_type]])
        width, height = image.size
        if width * height > limits.max_pixels:
            raise _too_many_pixels(limits, field, f" ({width:,} by {height:,} pixels)")
        # A JPEG decodes at 1/2, 1/4 or 1/8 of its size for free: peak memory follows the
        # stored size rather than the camera's.
        ratio = bound / max(width, height)
        if ratio < 1:
            image.draft(None, (math.ceil(width * ratio), math.ceil(height * ratio)))
        image.load()
        # Bounded before it is turned: the turn then copies the small picture, not the large.
        upright = _bounded(image, bound)
        ImageOps.exif_transpose(upright, in_place=True)
        srgb = _in_srgb(upright)
    except DomainError:
        raise
    except Image.DecompressionBombError as error:
        # Pillow's own limit, met before ours by the largest bombs (at the header). Its warning,
        # below that, is only met when max_pixels is above Pillow's limit.
        raise _too_many_pixels(limits, field) from error
    except Exception as error:
        # A decoder fed hostile bytes may fail in any way; whichever, the file is unreadable.
        raise DomainError(
            ErrorCode.UNREADABLE_FILE,
            "The image could not be read: the file is damaged or incomplete. Try sending it again.",
            field,
        ) from error
    srgb.info = {}
    return srgb


def _too_many_pixels(limits: MediaLimits, field: list[str] | None, size: str = "") -> DomainError:
    return DomainError(
        ErrorCode.FILE_TOO_LARGE,
        f"The image is too large{size}: the most accepted is {limits.max_pixels:,} pixels.",
        field,
    )


def _in_srgb(image: Image.Image) -> Image.Image:
    """RGB, or RGBA if some pixel is not opaque, converted from the embedded ICC profile to
    sRGB; an unusable profile is ignored (the colours may be off, the photo is still
    evidence)."""
    alpha = image.convert("RGBA").getchannel("A") if image.has_transparency_data else None
    if alpha is not None and alpha.getextrema() == (255, 255):
        alpha = None
    # Bring the colours to the mode the profile describes: grey, CMYK or RGB.
    if image.mode in ("L", "RGB", "CMYK"):
        colours = image
    elif image.mode in _WIDE_GREY:
        # Pillow's own conversion of 16-bit grey to 8 bits clips rather than scales.
        colours = image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    elif image.mode in ("1", "LA", "F"):
        colours = image.convert("L")
    else:
        colours = image.convert("RGB")
    rgb: Image.Image | None = None
    if icc := image.info.get("icc_profile"):
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            # A profile of its own for each call: LittleCMS profiles are not for sharing
            # between threads.
            srgb = ImageCms.createProfile("sRGB")
            rgb = ImageCms.profileToProfile(colours, profile, srgb, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            rgb = None
    if rgb is None:
        rgb = colours if colours.mode == "RGB" else colours.convert("RGB")
    if alpha is not None:
        rgb.putalpha(alpha)
    return rgb


def _flattened(image: Image.Image) -> Image.Image:
    """Transparency laid on white, for the encoders without an alpha channel."""
    if image.mode != "RGBA":
        return image
    background = Image.new("RGB", image.size, _WHITE)
    background.paste(image, mask=image.getchannel("A"))
    return background


def _bounded(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    if max(width, height) <= side:
        return image
    if image.mode in ("1", "P", "PA"):
        # Pillow resizes these by the nearest pixel only.
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    ratio = side / max(width, height)
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    # Reducing by whole factors first, then Lanczos: indistinguishable, and far fewer reads.
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encoded(image: Image.Image, content_type: str, limits: MediaLimits) -> CleanFile:
    # Only what is named here reaches the encoder: `info` was emptied, so no EXIF, XMP, ICC,
    # comment or text chunk can be carried over.
    image.info = {}
    options: dict[str, object] = {}
    if content_type == JPEG:
        options = {"quality": limits.jpeg_quality, "optimize": True}
    elif content_type == WEBP:
        options = {"quality": limits.jpeg_quality, "method": 4}
    buffer = io.BytesIO()
    image.save(buffer, _PILLOW_ENCODER[content_type], **options)
    width, height = image.size
    return CleanFile(buffer.getvalue(), content_type, width, height)


def _clean_pdf(data: bytes, field: list[str]) -> CleanFile:
    """The PDF's pages written into a new document. Everything outside the pages is dropped:
    the document information (/Info: author, creator, producer, title, dates), the catalog's
    XMP, its document JavaScript and OpenAction, embedded files, outlines and the form
    (AcroForm; the fields' appearances stay on the pages). On the pages and everything they
    reach: /Metadata (XMP), /PieceInfo (an application's private data), automatic actions
    (/AA), JavaScript, Launch, SubmitForm and media actions, and file-attachment and media
    annotations. Images inside the PDF keep their own bytes."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise DomainError(
                ErrorCode.UNREADABLE_FILE,
                "The PDF is protected by a password or encrypted: send a copy without protection.",
                field,
            )
        pages = list(reader.pages)
        if not pages:
            raise ValueError("a PDF without pages")
        # Scrubbed in the reader, all before any is copied: the writer copies only what a page
        # still reaches (a link to another page copies that page too), leaving nothing behind.
        scrubbed: set[int] = set()
        for page in pages:
            _scrub(page, scrubbed)
        writer = PdfWriter()
        for page in pages:
            writer.add_page(page)
        # pypdf's fresh /Info names pypdf as the producer: no /Info at all.
        writer.metadata = None
        buffer = io.BytesIO()
        writer.write(buffer)
    except DomainError:
        raise
    except Exception as error:
        raise DomainError(
            ErrorCode.UNREADABLE_FILE,
            "The PDF could not be read: the file is damaged or incomplete. Try sending it again.",
            field,
        ) from error
    return CleanFile(buffer.getvalue(), PDF, None, None)


def _scrub(node: PdfObject, seen: set[int]) -> None:
    """Removes metadata and active content from `node` and all it reaches, except upwards
    (/Parent, an annotation's /P) where the rest of the document is."""
    target = node.get_object()
    if id(target) in seen:
        return
    seen.add(id(target))
    if isinstance(target, DictionaryObject):
        for key in _DROPPED_KEYS:
            target.pop(NameObject(key), None)
        action = target.get("/A")
        if action is not None and action.get_object().get("/S") in _ACTIVE_ACTIONS:
            del target[NameObject("/A")]
        annotations = target.get("/Annots")
        if annotations is not None:
            target[NameObject("/Annots")] = ArrayObject(
                annotation
                for annotation in annotations.get_object()
                if annotation.get_object().get("/Subtype") not in _ATTACHMENT_ANNOTATIONS
            )
        for key, value in list(target.items()):
            if key not in ("/Parent", "/P"):
                _scrub(value, seen)
    elif isinstance(target, ArrayObject):
        for item in target:
            _scrub(item, seen)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
