"""The transports of deliveries: e-mail over SMTP, and webhooks signed with HMAC-SHA256.

Webhook signature (for receivers): the headers carry `X-Lapor-Timestamp` (Unix seconds) and
`X-Lapor-Signature: v1=<hex>`, where hex is HMAC-SHA256(secret, "<timestamp>." + raw body).
Receivers recompute it, compare in constant time, refuse old timestamps, and dedupe on
`X-Lapor-Delivery` (deliveries are at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
import time
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import httpx

from core.settings import Settings
from domain.errors import DomainError
from domain.messages import Email
from domain.services.deliveries import DeliveryFailed, Outgoing, Send, Webhook
from domain.services.webhooks import resolve_target

SIGNATURE_VERSION = "v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Lapor-Signature` value of a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def email_message(email: Email, sender: str) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML as the richer part."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain="lapor")
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class Transports:
    """Sends deliveries over one shared HTTP client and the configured SMTP server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # No redirects: a receiver cannot send our signed body somewhere we did not check.
        self.http = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            verify=(
                ssl.create_default_context(cafile=settings.webhook_ca_file)
                if settings.webhook_ca_file
                else True
            ),
        )

    async def close(self) -> None:
        await self.http.aclose()

    @property
    def send(self) -> Send:
        return self._send

    async def _send(self, outgoing: Outgoing) -> None:
        if isinstance(outgoing, Webhook):
            await self.post_webhook(outgoing)
        else:
            await self.send_email(outgoing)

    async def post_webhook(self, hook: Webhook) -> None:
        """POST the signed body to the address the URL's host resolves to now, if it may go
        there (domain/services/webhooks.py); any answer but 2xx, or none in time, is a failure,
        and only its status is kept (never what the receiver wrote)."""
        try:
            target = await resolve_target(hook.url, self.settings)
        except DomainError as refusal:
            raise DeliveryFailed(f"refused: {refusal.message}") from None
        timestamp = int(time.time())
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": "Lapor-Webhooks/1",
            "X-Lapor-Event": hook.event_kind,
            "X-Lapor-Delivery": str(hook.delivery_id),
            "X-Lapor-Timestamp": str(timestamp),
            "X-Lapor-Signature": signature(hook.secret, timestamp, hook.body),
        }
        try:
            response = await self.http.post(
                target.connect_url,
                content=hook.body,
                headers=headers,
                # TLS verifies the certificate against the host, not the address.
                extensions={"sni_hostname": target.host},
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}")

    async def send_email(self, email: Email) -> None:
        """Hand the message to the SMTP server; a refusal or a timeout is a failure."""
        s = self.settings
        try:
            await aiosmtplib.send(
                email_message(email, s.mail_from),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                cert_bundle=s.smtp_ca_file or None,
                timeout=s.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
