"""Where agencies' webhooks may go, checked the same way when a superadmin sets one and every
time one is sent (docs/adr/0021): https (plain http only with the development setting
`LAPOR_WEBHOOK_ALLOW_HTTP`), no credentials in the URL, and a host whose every address is a
public one. Loopback, link-local, private, shared, reserved and multicast addresses are
refused unless `LAPOR_WEBHOOK_ALLOWED_NETWORKS` names them. The host is resolved again at each
send, and the request goes to the address that was checked, so a name cannot be pointed at
the inside between the check and the connection."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import SplitResult, urlsplit

from core.settings import Settings
from domain.actor import Actor
from domain.errors import DomainError, ErrorCode, invalid, not_found
from domain.ids import parse_id
from domain.policy import require_signed_in
from domain.services import caching
from domain.services.common import require_aware
from models import Agency

URL_MAX_LENGTH = 2000
SECRET_MIN_LENGTH = 32
SECRET_MAX_LENGTH = 256
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """A webhook URL checked for sending: its parts, and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host (the Host header and TLS's
        server name still say the host)."""
        parts = urlsplit(self.url)
        address = f"[{self.address}]" if ":" in self.address else self.address
        return parts._replace(netloc=f"{address}:{self.port}").geturl()

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def check_url(url: str, settings: Settings) -> SplitResult:
    """The parts of a webhook URL that may be used; VALIDATION (field "url") otherwise."""
    if len(url) > URL_MAX_LENGTH:
        raise invalid("url", f"must be at most {URL_MAX_LENGTH} characters")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        raise invalid("url", "is not a URL") from None
    allowed = ("https", "http") if settings.webhook_allow_http else ("https",)
    if parts.scheme not in allowed:
        raise invalid("url", "must be an https:// URL")
    if not parts.hostname:
        raise invalid("url", "must name a host")
    if parts.username is not None or parts.password is not None:
        raise invalid("url", "must not carry credentials: the signature authenticates us")
    if parts.fragment:
        raise invalid("url", "must not have a #fragment")
    return parts


def address_refusal(address: IPAddress, settings: Settings) -> str | None:
    """Why a webhook may not go to this address (None when it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network in settings.webhook_allowed_networks:
        if address in ipaddress.ip_network(network, strict=False):
            return None
    if address.is_multicast:
        return "a multicast address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if not address.is_global:
        return "a private or reserved address"
    return None


async def resolve_target(url: str, settings: Settings) -> Target:
    """A webhook URL checked and its host resolved now: VALIDATION (field "url") when the URL
    may not be used, the host does not resolve, or any of its addresses is refused."""
    parts = check_url(url, settings)
    host = parts.hostname
    assert host is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError):
        raise invalid("url", f"the host {host} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise invalid("url", f"the host {host} does not resolve")
    for text in addresses:
        why = address_refusal(ipaddress.ip_address(text.split("%")[0]), settings)
        if why is not None:
            raise invalid("url", f"the host {host} resolves to {why}: refused")
    return Target(parts.geturl(), parts.scheme, host, port, addresses[0])


@dataclass(frozen=True)
class WebhookSet:
    """An agency's webhook after a superadmin set (or removed) it."""

    agency: Agency
    url: str | None


async def set_agency_webhook(
    actor: Actor,
    now: datetime,
    agency_id: int | str,
    url: str | None,
    secret: str | None,
    settings: Settings,
) -> WebhookSet:
    """A superadmin sets where an agency's webhooks go and the secret that signs them, checked
    as every send checks it (`resolve_target`); a null URL removes the webhook."""
    require_aware(now)
    require_signed_in(actor)
    if not actor.is_superadmin:
        raise DomainError(ErrorCode.FORBIDDEN, "only a superadmin sets an agency's webhook")
    agency = await Agency.get_or_none(id=parse_id(agency_id, "agencyId"))
    if agency is None:
        raise not_found("agency", "agencyId")
    if url is None:
        agency.webhook_url, agency.webhook_secret = None, None
    else:
        target = await resolve_target(url, settings)
        if secret is None or not SECRET_MIN_LENGTH <= len(secret) <= SECRET_MAX_LENGTH:
            raise invalid(
                "secret",
                f"must be {SECRET_MIN_LENGTH} to {SECRET_MAX_LENGTH} characters "
                "(a random value the receiver checks signatures with)",
            )
        agency.webhook_url, agency.webhook_secret = target.url, secret
    await agency.save(update_fields=["webhook_url", "webhook_secret"])
    caching.changed("agency")  # the feed announces it to the other processes
    return WebhookSet(agency, agency.webhook_url)
