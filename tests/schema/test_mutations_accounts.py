"""The mutations of accounts over HTTP: signing up (authRegister) and in (authLogin), and a
signed-out caller asked to sign in by every mutation that acts on a report.

A refused mutation changes nothing: each refusal test compares `state` before and after.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from core.settings import get_settings
from domain.services.deliveries import RetryPolicy, attempt_delivery
from models import Notification, User
from models.enums import Channel, DeliveryStatus
from tests.app_fixtures import GQL, PASSWORD, People, agency_gid, app_client
from tests.factories import (
    ACCEPT,
    ADD_INFO,
    ASSIGN,
    DISPUTE,
    ESCALATE,
    FOLLOW_UP,
    HOLD,
    LOGIN,
    RATE,
    REGISTER,
    VERIFY,
    call,
    refused,
    responded,
    state,
)
from tests.workers.receivers import SmtpServer
from workers.transports import Transports


async def register(gql: GQL, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """The authRegister payload for a new citizen."""
    return await call(
        gql, REGISTER, input={"name": "Tetangga", "email": email, "password": password}
    )


# ------------------------------------------------------------------------- authRegister


async def test_auth_register_makes_a_citizen_who_then_signs_in(gql: GQL) -> None:
    email = f"baru-{uuid.uuid4().hex[:8]}@example.org"

    payload = await register(gql, email.upper())

    assert payload == {"token": None, "user": None, "errors": []}
    signed = await gql.sign_in(email)
    me = await signed("{ me { name email roles } }")
    assert me["me"] == {"name": "Tetangga", "email": email, "roles": ["CITIZEN"]}


@pytest.mark.parametrize("email", ["warga@jember.demo", "  Warga@Jember.DEMO "])
async def test_auth_register_answers_a_taken_email_as_a_new_one(gql: GQL, email: str) -> None:
    """Issue 12, finding 6 (low): authRegister said EMAIL_TAKEN, telling anyone whether an
    address has an account. It now answers alike; nothing is created or changed."""
    fresh = f"baru-{uuid.uuid4().hex[:8]}@example.org"
    users = await User.all().count()

    taken = await call(gql, REGISTER, input={"name": "X", "email": email, "password": "p" * 12})
    new = await call(gql, REGISTER, input={"name": "X", "email": fresh, "password": "p" * 12})

    assert taken == new == {"token": None, "user": None, "errors": []}
    assert await User.all().count() == users + 1
    # The existing account still signs in with its own password, and only with it.
    await gql.sign_in("warga@jember.demo", PASSWORD)
    await refused(gql, LOGIN, "INVALID_CREDENTIALS", email="warga@jember.demo", password="p" * 12)


async def test_the_owner_of_a_taken_email_is_told_by_mail(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With e-mail on, registering a taken address mails its owner, through the deliveries'
    own books (retried, dead-lettered like any other); a new address gets nothing."""
    with SmtpServer() as smtp:
        monkeypatch.setenv("LAPOR_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("LAPOR_SMTP_PORT", str(smtp.port))
        get_settings.cache_clear()
        settings = get_settings()
        try:
            async with app_client(settings) as client:
                await register(GQL(client), "warga@jember.demo")
                await register(GQL(client), f"baru-{uuid.uuid4().hex[:8]}@example.org")
            (row,) = await Notification.filter(channel=Channel.EMAIL)
            transports = Transports(settings)
            try:
                done = await attempt_delivery(
                    row.id, datetime.now(UTC), transports.send, RetryPolicy.from_settings(settings)
                )
            finally:
                await transports.close()
        finally:
            get_settings.cache_clear()

    assert done is not None and done.status is DeliveryStatus.SENT
    (mail,) = smtp.mails
    assert mail.recipients == ["warga@jember.demo"]
    assert "mendaftar" in mail.part("text/plain")
    assert row.kind == "account.registration_attempt"


async def test_auth_register_refuses_a_short_password(gql: GQL) -> None:
    email = f"pendek-{uuid.uuid4().hex[:8]}@example.org"

    await refused(
        gql,
        REGISTER,
        "VALIDATION",
        ["password"],
        input={"name": "X", "email": email, "password": "1234567"},
    )

    # No account was made: signing in fails, and the address is still free.
    await refused(gql, LOGIN, "INVALID_CREDENTIALS", email=email, password="1234567")
    assert (await register(gql, email))["errors"] == []
    await gql.sign_in(email)


async def test_auth_register_refuses_a_malformed_email(gql: GQL) -> None:
    await refused(
        gql,
        REGISTER,
        "VALIDATION",
        ["email"],
        input={"name": "X", "email": "warga@", "password": "p" * 12},
    )


# ---------------------------------------------------------------------------- authLogin


async def test_auth_login_returns_a_working_token(gql: GQL) -> None:
    payload = await call(gql, LOGIN, email="koordinator@jember.demo", password=PASSWORD)

    assert payload["errors"] == []
    assert payload["user"] == {"email": "koordinator@jember.demo", "roles": ["COORDINATOR"]}
    me = await GQL(gql.client, payload["token"])("{ me { email } }")
    assert me["me"] == {"email": "koordinator@jember.demo"}


@pytest.mark.parametrize(
    ("email", "password"),
    [("warga@jember.demo", "lapor-demo-salah"), ("tidak-ada@jember.demo", PASSWORD)],
    ids=["wrong password", "unknown email"],
)
async def test_auth_login_refuses_wrong_credentials(gql: GQL, email: str, password: str) -> None:
    error = await refused(gql, LOGIN, "INVALID_CREDENTIALS", email=email, password=password)
    assert error["field"] is None  # the same answer whether the e-mail exists or not


# ------------------------------------------------------------------------------ the public


async def test_the_public_is_asked_to_sign_in(people: People) -> None:
    """On a report anyone may read, a signed-out caller is told to sign in (UNAUTHENTICATED,
    as reportSubmit and reportSupport do), not that the act is forbidden."""
    report_id, assignment_id = await responded(people)
    dlh = await agency_gid("DLH")
    attempts = {
        "reportAddInfo": (ADD_INFO, {"id": report_id, "message": "Tambahan"}),
        "reportRate": (RATE, {"id": report_id, "rating": 5}),
        "reportDispute": (DISPUTE, {"id": report_id}),
        "reportVerify": (VERIFY, {"id": report_id, "agencies": [dlh]}),
        "reportHold": (HOLD, {"id": report_id, "reason": "Tunggu"}),
        "reportAssign": (ASSIGN, {"id": report_id, "agency": dlh}),
        "reportEscalate": (ESCALATE, {"id": report_id}),
        "assignmentAccept": (ACCEPT, {"id": assignment_id, "tier": "SIMPLE"}),
        "assignmentFollowUp": (
            FOLLOW_UP,
            {"id": assignment_id, "final": False, "resolution": None},
        ),
    }
    before = await state(people, report_id)

    codes: dict[str, list[str]] = {}
    for name, (mutation, variables) in attempts.items():
        payload = await call(people["public"], mutation, **variables)
        codes[name] = [e["code"] for e in payload["errors"]]

    assert await state(people, report_id) == before
    assert codes == {name: ["UNAUTHENTICATED"] for name in attempts}
