"""Files in GraphQL: the Attachment type, the upload argument, and the desk hiding a file.

Files come with the changes that bring them (`reportSubmit`, `reportAddInfo`,
`assignmentFollowUp`) as `Upload`s of the GraphQL multipart request (api/uploads.py). A file
is never a URL of a public folder: `url` and `thumbnailUrl` are signed links, valid for
`LAPOR_FILE_LINK_TTL_SECONDS`, issued to a viewer the policy let see the file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, NewType, Protocol, cast

import strawberry
from graphql import GraphQLError

from domain.errors import DomainError
from domain.file_links import Variant
from domain.services import attachments
from domain.services.attachments import AttachmentView
from schema.common import AttachmentSource, Ctx, Node, UserError, arg, described, fetchable, refused
from schema.ids import expect_id

__all__ = [
    "UPLOAD",
    "Attachment",
    "Files",
    "Upload",
    "origin_of",
    "uploads_of",
]


class UploadedFile(Protocol):
    """A file part of a multipart request, as api/uploads.py puts it into the variables."""

    size: int | None

    async def read(self, size: int = -1) -> bytes: ...


def _file_part(value: object) -> UploadedFile:
    if not callable(getattr(value, "read", None)):
        raise ValueError("a file is sent as a part of the GraphQL multipart request")
    return value  # type: ignore[return-value]


def _not_in_text(node: object, variables: object = None) -> UploadedFile:
    raise GraphQLError("a file is sent as a variable of the GraphQL multipart request")


# A type of its own for the annotations; what GraphQL knows of it is UPLOAD, which the schema's
# configuration maps it to (schema/schema.py).
Upload = NewType("Upload", object)
UPLOAD = strawberry.scalar(
    name="Upload",
    description="A file, sent as a part of the GraphQL multipart request "
    "(github.com/jaydenseric/graphql-multipart-request-spec); only as a variable.",
    serialize=lambda value: None,
    parse_value=_file_part,
    parse_literal=_not_in_text,
)

Files = Annotated[
    list[Upload] | None,
    arg(
        "Photos (JPEG, PNG, WebP, HEIC) and PDF documents, sent as the GraphQL multipart request "
        "(at most LAPOR_UPLOAD_MAX_FILES at once; their metadata is removed before storage)."
    ),
]


@fetchable
@strawberry.type(
    description=(
        "A photo or document on a report. Stored and served without metadata (no EXIF, GPS, "
        "device or author); shown as its report is: a citizen's photo is public only once the "
        "desk verified a public report, and the desk can hide one."
    )
)
class Attachment(Node):
    source: AttachmentSource = described("The reporter's file, or an agency's evidence.")
    content_type: str = described("image/jpeg, image/png, image/webp or application/pdf.")
    byte_size: int = described("The stored file's size, in bytes (after cleaning).")
    width: int | None = described("An image's width in pixels, upright; null for a document.")
    height: int | None = described("An image's height in pixels, upright; null for a document.")
    created_at: datetime = described("When it was uploaded.")
    hidden: bool = described(
        "Hidden by the desk: shown only to the report's desks and its uploader."
    )
    hidden_reason: str | None = described("Why the desk hid it; null unless hidden.")
    view: strawberry.Private[AttachmentView]

    @classmethod
    def of(cls, v: AttachmentView) -> Attachment:
        return cls(
            id=cls.global_id(v.id),
            source=v.source,
            content_type=v.content_type,
            byte_size=v.byte_size,
            width=v.width,
            height=v.height,
            created_at=v.created_at,
            hidden=v.hidden,
            hidden_reason=v.hidden_reason,
            view=v,
        )

    @classmethod
    async def load(cls, info: Ctx, pk: int) -> Attachment | None:
        found = await attachments.attachment_by_id(info.context.actor, pk)
        return cls.of(found) if found else None

    @strawberry.field(
        description="A signed link to the file, valid a few minutes: fetch it, do not keep it."
    )
    def url(self, info: Ctx) -> str:
        path = attachments.link(self.view, Variant.ORIGINAL, info.context.now, _viewer(info))
        assert path is not None
        return origin(info) + path

    @strawberry.field(
        description="A signed link to a small JPEG (WebP when transparent) of an image (at most "
        "320 pixels a side); null for a document, or until the worker has made it (seconds "
        "after upload)."
    )
    def thumbnail_url(self, info: Ctx) -> str | None:
        path = attachments.link(self.view, Variant.THUMBNAIL, info.context.now, _viewer(info))
        return origin(info) + path if path is not None else None


def _viewer(info: Ctx) -> int | None:
    return info.context.actor.user_id


def origin(info: Ctx) -> str:
    """The API's origin as clients reach it: LAPOR_PUBLIC_URL, else the request's own."""
    return origin_of(info.context.request, info.context.settings.public_url)


def origin_of(request: Any, public_url: str) -> str:
    """The origin links are given under: `public_url` when set, else that of `request` (an
    HTTP request or a WebSocket: the same host over http or https)."""
    if public_url:
        return public_url.rstrip("/")
    if request is None:
        return ""
    url = request.base_url
    scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
    return f"{scheme}://{url.netloc}"


def attachments_of(views: Sequence[AttachmentView]) -> list[Attachment]:
    return [Attachment.of(v) for v in views]


async def uploads_of(
    files: Sequence[Upload] | None, field: str, limit: int
) -> list[attachments.Upload]:
    """The uploaded files' bytes, each read to at most one byte over `limit` (a longer file is
    refused by its size without being read whole)."""
    read = []
    for index, value in enumerate(files or ()):
        file = cast(UploadedFile, value)  # what UPLOAD's parse_value let through
        data = await file.read(limit + 1)
        size = file.size if file.size is not None else len(data)
        read.append(attachments.Upload(data, size, [field, str(index)]))
    return read


@strawberry.type(description="The file after the change, or why nothing changed.")
class AttachmentPayload:
    attachment: Attachment | None = described("The file as it is now; null when refused.")
    errors: list[UserError] = described("Why nothing changed; empty on success.")


AttachmentId = Annotated[strawberry.ID, arg("The file's global id.")]


@strawberry.type
class AttachmentMutation:
    @strawberry.mutation(
        description=(
            "Coordinator: hide a file of a report from everyone but its desks and its uploader "
            "(a face, a number plate, a document sent by mistake). The reason goes on the "
            "report's timeline, which its reporter and, for a public report, the public read."
        )
    )
    async def attachment_hide(
        self,
        info: Ctx,
        attachment_id: AttachmentId,
        reason: Annotated[str, arg("Why, in words the reporter and the public may read.")],
    ) -> AttachmentPayload:
        return await _visibility(info, attachment_id, True, reason)

    @strawberry.mutation(description="Coordinator: show a hidden file again.")
    async def attachment_show(self, info: Ctx, attachment_id: AttachmentId) -> AttachmentPayload:
        return await _visibility(info, attachment_id, False, None)


async def _visibility(
    info: Ctx, attachment_id: str, hidden: bool, reason: str | None
) -> AttachmentPayload:
    ctx = info.context
    try:
        pk = expect_id(attachment_id, "Attachment", "attachmentId")
        changed = await attachments.set_hidden(ctx.actor, ctx.now, pk, hidden, reason)
    except DomainError as e:
        return AttachmentPayload(attachment=None, errors=[refused(info, e)])
    await ctx.dispatcher.dispatch(changed.outcome.outbox)
    found = await attachments.attachment_by_id(ctx.actor, changed.attachment_id)
    return AttachmentPayload(attachment=Attachment.of(found) if found else None, errors=[])
