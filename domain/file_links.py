"""Signed links to files (docs/adr/0029): a link names one file, one variant and an expiry, and
says whether it was given because the report is public. The API serves a file only through a
link that verifies; it was issued after the access policy let the viewer see the file.

A link is `/files/<id>/<variant>?e=<unix expiry>&p=<0|1>&s=<signature>`, the signature an
HMAC-SHA256 of the rest under a key derived from the service's secret for links alone."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

PATH_PREFIX = "/files/"


class Variant(StrEnum):
    ORIGINAL = "original"
    THUMBNAIL = "thumbnail"


@dataclass(frozen=True)
class FileGrant:
    """What a verified link lets its holder fetch: one variant of one file, until `expires`, as
    long as it is still public (`public`) or still the `viewer`'s to see (the API checks)."""

    attachment_id: int
    variant: Variant
    expires: int
    public: bool
    # The user the link was given to; 0 for a link given because the file is public.
    viewer: int = 0


def link_key(secret: str) -> bytes:
    """The key links are signed with, derived from the service's secret: a link's signature
    can be neither a token's nor used to forge one."""
    return hmac.new(secret.encode(), b"lapor file links v1", hashlib.sha256).digest()


def _signature(key: bytes, grant: FileGrant) -> str:
    signed = (
        f"{grant.attachment_id}:{grant.variant}:{grant.expires}:{int(grant.public)}:{grant.viewer}"
    )
    digest = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def file_link(key: bytes, grant: FileGrant) -> str:
    """The path and query of a link to `grant` (the caller prefixes the API's origin)."""
    return (
        f"{PATH_PREFIX}{grant.attachment_id}/{grant.variant}"
        f"?e={grant.expires}&p={int(grant.public)}&v={grant.viewer}&s={_signature(key, grant)}"
    )


def verified_grant(
    key: bytes, attachment_id: str, variant: str, query: dict[str, str], now: int
) -> FileGrant | None:
    """The grant of a link's parts if its signature holds and it has not expired; None for an
    altered, incomplete or expired link (the caller refuses them alike)."""
    try:
        grant = FileGrant(
            attachment_id=int(attachment_id),
            variant=Variant(variant),
            expires=int(query["e"]),
            public={"0": False, "1": True}[query["p"]],
            viewer=int(query["v"]),
        )
    except (KeyError, ValueError):
        return None
    if not hmac.compare_digest(_signature(key, grant), query.get("s", "")):
        return None
    return grant if grant.expires > now else None
