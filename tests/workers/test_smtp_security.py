"""E-mail over TLS, both ways a relay offers it (implicit TLS, STARTTLS), against a real SMTP
server on loopback with a certificate from a throwaway CA; a server whose certificate the
client cannot verify is a failed delivery, never a message sent in the clear."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from core.settings import get_settings
from domain.messages import MessageFacts, email_for
from domain.services.deliveries import DeliveryFailed
from tests.workers.receivers import SmtpServer
from workers.transports import Transports

MAIL = email_for(MessageFacts("report.closed", "LPR-TLS0-0001", "Jalan"), "id", "warga@x.org")


def _server_context(authority: trustme.CA):  # type: ignore[no-untyped-def]
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def _server(authority: trustme.CA, security: str) -> SmtpServer:
    """An SMTP server on implicit TLS ("tls") or requiring STARTTLS, its cert by `authority`."""
    context = _server_context(authority)
    return SmtpServer(tls=context) if security == "tls" else SmtpServer(starttls=context)


async def _send(server: SmtpServer, security: str, ca_file: str) -> None:
    settings = get_settings().model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": server.port,
            "smtp_security": security,
            "smtp_ca_file": ca_file,
            "smtp_timeout_seconds": 10.0,
        }
    )
    transports = Transports(settings)
    try:
        await transports.send(MAIL)
    finally:
        await transports.close()


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_mail_goes_over_tls_to_a_server_the_ca_vouches_for(
    ca: tuple[trustme.CA, Path], security: str
) -> None:
    authority, bundle = ca
    with _server(authority, security) as server:
        await _send(server, security, str(bundle))
        assert [m.recipients for m in server.mails] == [["warga@x.org"]]
        assert "LPR-TLS0-0001" in server.mails[0].part("text/plain")


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_an_unverifiable_certificate_is_a_failed_delivery(
    ca: tuple[trustme.CA, Path], security: str
) -> None:
    authority, _ = ca
    with _server(authority, security) as server:
        with pytest.raises(DeliveryFailed):
            await _send(server, security, "")  # the system's CAs do not know ours
        assert server.mails == []


async def test_a_server_that_demands_starttls_refuses_plain_mail(
    ca: tuple[trustme.CA, Path],
) -> None:
    authority, _ = ca
    with SmtpServer(starttls=_server_context(authority)) as server:
        with pytest.raises(DeliveryFailed):
            await _send(server, "none", "")
        assert server.mails == []
