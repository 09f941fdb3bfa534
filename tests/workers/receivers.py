"""Real receivers on loopback for the workers' deliveries: an SMTP server (aiosmtpd) and an
HTTP server that records webhook POSTs and answers as a test tells it to."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.harness import free_port


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode(part.get_content_charset() or "utf-8")
        raise AssertionError(f"no {content_type} part")


class _Sink:
    def __init__(self, box: list[Mail]) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.box.append(
            Mail(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on a free loopback port, keeping every message it accepts; with `tls`, over
    implicit TLS, with `starttls`, requiring STARTTLS before anything else."""

    def __init__(
        self, *, tls: ssl.SSLContext | None = None, starttls: ssl.SSLContext | None = None
    ) -> None:
        self.mails: list[Mail] = []
        self.port = free_port()
        options: dict[str, Any] = {}
        if starttls is not None:
            options = {"tls_context": starttls, "require_starttls": True}
        self.controller = Controller(
            _Sink(self.mails), hostname="127.0.0.1", port=self.port, ssl_context=tls, **options
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.recipients]


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class WebhookReceiver:
    """An HTTP server that fails the first `fail_first` POSTs (500), or all of them with
    `always_fail`, after waiting `delay` seconds; it records every POST. With `tls` it speaks
    https; `answer` replaces its answers (status, body, extra headers)."""

    fail_first: int = 0
    always_fail: bool = False
    delay: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    arrived: int = 0  # POSTs received so far, counted before answering
    port: int = 0
    tls: ssl.SSLContext | None = None
    answer: tuple[int, bytes, dict[str, str]] | None = None

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.arrived += 1
                time.sleep(receiver.delay)
                failing = receiver.always_fail or len(receiver.hits) < receiver.fail_first
                status, text, extra = (500, b"no", {}) if failing else (200, b"ok", {})
                if receiver.answer is not None:
                    status, text, extra = receiver.answer
                receiver.hits.append(Hit(dict(self.headers.items()), body, status))
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/lapor-hook"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
