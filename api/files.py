"""Serving files (docs/adr/0029): `/files/<id>/<variant>` answers a signed link that the API
issued after the access policy let its viewer see the file (`Attachment.url`), never a path
anyone could guess. An altered or expired link is a 403; a link given to the public is checked
again (a file hidden since, or a report no longer public, is a 404)."""

from __future__ import annotations

import logging
import time

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.errors import graphql_errors
from core.settings import Settings
from domain.file_links import link_key, verified_grant
from domain.services import attachments
from models.storage import FileMissing

log = logging.getLogger("lapor.files")

_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "application/pdf": "pdf",
}
# A file is shown, never run: no script, no plugin, no sniffing another type into it.
_SAFE = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "sandbox",
    "Referrer-Policy": "no-referrer",
}


class Files:
    """The route that serves files through signed links."""

    def __init__(self, settings: Settings) -> None:
        self.key = link_key(settings.secret_key)

    def routes(self) -> list[Route]:
        return [Route("/files/{attachment_id}/{variant}", self.serve, methods=["GET", "HEAD"])]

    async def serve(self, request: Request) -> Response:
        now = int(time.time())
        grant = verified_grant(
            self.key,
            request.path_params["attachment_id"],
            request.path_params["variant"],
            dict(request.query_params),
            now,
        )
        if grant is None:
            return _refusal(
                403, "FORBIDDEN", "this link is altered or has expired: ask for the file again"
            )
        try:
            found = await attachments.served(grant)
        except FileMissing:
            log.error("file %s is in the database but not in the file store", grant.attachment_id)
            found = None
        if found is None:
            return _refusal(404, "NOT_FOUND", "no such file")
        extension = _EXTENSIONS.get(found.content_type, "bin")
        name = f"lampiran-{found.attachment_id}-{found.variant}.{extension}"
        headers = {
            **_SAFE,
            # The link is the viewer's own and short-lived: no shared cache keeps the bytes.
            "Cache-Control": f"private, max-age={max(0, grant.expires - now)}",
            "Content-Disposition": f'inline; filename="{name}"',
        }
        return Response(found.data, media_type=found.content_type, headers=headers)


def _refusal(status: int, code: str, message: str) -> Response:
    return Response(
        orjson.dumps(graphql_errors(code, message)),
        status_code=status,
        media_type="application/json",
        headers=_SAFE,
    )
