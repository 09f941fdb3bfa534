"""Webhooks go only where they may (issue 12, finding 8): https to public addresses, the host
resolved at each send and the request sent to the address that was checked, no redirect
followed, nothing of the receiver's answer kept but its status. Real receivers on loopback,
which the settings let through only where a test says so."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from core.settings import Settings, get_settings
from domain.services.deliveries import DeliveryFailed, Webhook
from tests.workers.receivers import WebhookReceiver
from workers.transports import Transports

LOOPBACK = ["127.0.0.0/8", "::1/128"]
BODY = json.dumps({"kind": "assignment.created"}).encode()


def hook(url: str) -> Webhook:
    return Webhook(url, "s" * 40, BODY, 1, "assignment.created")


async def send(settings: Settings, url: str) -> None:
    transports = Transports(settings)
    try:
        await transports.post_webhook(hook(url))
    finally:
        await transports.close()


def settings(**update: Any) -> Settings:
    return get_settings().model_copy(update=update)


def tls(authority: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*names).configure_cert(context)
    return context


@pytest.mark.parametrize(
    "path",
    [
        "http://127.0.0.1:{port}/readyz",
        "https://127.0.0.1:{port}/readyz",
        "https://localhost:{port}/",
    ],
)
async def test_a_webhook_to_loopback_is_refused_before_anything_is_sent(path: str) -> None:
    """The audit: a webhook to http://127.0.0.1:<port>/readyz was sent, and 200 characters of
    the answer landed in lastError."""
    with WebhookReceiver() as receiver:
        with pytest.raises(DeliveryFailed, match="refused") as failed:
            await send(settings(), path.format(port=receiver.port))
    assert receiver.arrived == 0
    assert "https://" in str(failed.value) or "loopback" in str(failed.value)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://[::ffff:127.0.0.1]:9/", "must be an https:// URL"),
        ("https://[::ffff:10.0.0.1]/", "private or reserved"),
        ("https://10.1.2.3/", "private or reserved"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://224.0.0.1/", "multicast"),
        ("https://0.0.0.0/", "private or reserved"),
        ("https://user:pw@example.org/", "credentials"),
        ("https://no-such-host.invalid/", "does not resolve"),
        ("ftp://example.org/", "must be an https:// URL"),
    ],
)
async def test_addresses_that_are_not_public_are_refused(url: str, why: str) -> None:
    with pytest.raises(DeliveryFailed, match=why):
        await send(settings(), url)


async def test_plain_http_goes_only_with_the_development_setting() -> None:
    with WebhookReceiver() as receiver:
        with pytest.raises(DeliveryFailed, match="https"):
            await send(settings(webhook_allowed_networks=LOOPBACK), receiver.url)
        await send(
            settings(webhook_allowed_networks=LOOPBACK, webhook_allow_http=True), receiver.url
        )
    assert [hit.body for hit in receiver.hits] == [BODY]


async def test_https_goes_to_the_checked_address_and_verifies_the_host_name(
    ca: tuple[trustme.CA, Path],
) -> None:
    authority, bundle = ca
    allowed = settings(webhook_allowed_networks=LOOPBACK, webhook_ca_file=str(bundle))
    with WebhookReceiver(tls=tls(authority, "localhost")) as receiver:
        await send(allowed, f"https://localhost:{receiver.port}/lapor-hook")
    with WebhookReceiver(tls=tls(authority, "elsewhere.example")) as impostor:
        with pytest.raises(DeliveryFailed, match=r"SSL|certificate|ConnectError"):
            await send(allowed, f"https://localhost:{impostor.port}/lapor-hook")

    (hit,) = receiver.hits
    assert hit.headers["Host"] == f"localhost:{receiver.port}"
    assert hit.body == BODY
    assert impostor.hits == []


async def test_redirects_are_not_followed_and_no_answer_body_is_kept() -> None:
    allowed = settings(webhook_allowed_networks=LOOPBACK, webhook_allow_http=True)
    with WebhookReceiver() as inside:
        moved = (302, b"", {"Location": inside.url})
        secret = (500, b"SECRET-FROM-THE-RECEIVER " * 20, {})
        with WebhookReceiver(answer=moved) as redirecting, WebhookReceiver(answer=secret) as loud:
            with pytest.raises(DeliveryFailed) as redirected:
                await send(allowed, redirecting.url)
            with pytest.raises(DeliveryFailed) as failed:
                await send(allowed, loud.url)

    assert str(redirected.value) == "HTTP 302"
    assert inside.arrived == 0
    assert str(failed.value) == "HTTP 500"


def test_production_refuses_plain_http_webhooks() -> None:
    with pytest.raises(RuntimeError, match="LAPOR_WEBHOOK_ALLOW_HTTP"):
        Settings(env="production", secret_key="x7" * 20, webhook_allow_http=True).check_production()


def test_an_allowed_network_must_be_a_network() -> None:
    with pytest.raises(ValueError, match="webhook_allowed_networks"):
        Settings(webhook_allowed_networks="10.0.0.0/8, not-a-network")  # type: ignore[arg-type]
