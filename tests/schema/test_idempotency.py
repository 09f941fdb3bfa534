"""Retries are safe: a creating mutation sent again with the same Idempotency-Key and the same
input answers with the first outcome and writes nothing; with another input it is refused
(docs/adr/0025)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.http import GRAPHQL_RESPONSE
from core.settings import get_settings
from domain.services import accounts
from models import (
    FollowUp,
    IdempotencyKey,
    Notification,
    OutboxMessage,
    Report,
    ReportEvent,
    User,
)
from tests.app_fixtures import GQL, JEMBER, People, app_client, pk, region_gid
from tests.factories import (
    ACCEPT,
    ADD_INFO,
    FOLLOW_UP,
    HOLD,
    REGISTER,
    SUBMIT,
    call,
    in_progress,
    ok,
    refused,
    report_input,
    submit,
)


def _key() -> str:
    return str(uuid.uuid4())


async def _counts() -> tuple[int, int, int]:
    return (
        await Report.all().count(),
        await ReportEvent.all().count(),
        await OutboxMessage.all().count(),
    )


async def _submit_input(**fields: Any) -> dict[str, Any]:
    return report_input(await region_gid(JEMBER), **fields)


async def test_a_retried_submit_answers_with_the_first_report_and_writes_nothing(
    people: People,
) -> None:
    keyed = people["reporter"].with_headers(Idempotency_Key=_key())
    first = await ok(keyed, SUBMIT, input=await _submit_input())
    written = await _counts()
    assert written == (1, 1, 1)
    again = await ok(keyed, SUBMIT, input=await _submit_input())
    assert again["id"] == first["id"] and again["trackingCode"] == first["trackingCode"]
    assert await _counts() == written


async def test_the_same_key_with_another_input_is_refused_and_writes_nothing(
    people: People,
) -> None:
    keyed = people["reporter"].with_headers(Idempotency_Key=_key())
    await ok(keyed, SUBMIT, input=await _submit_input())
    written = await _counts()
    await refused(
        keyed,
        SUBMIT,
        "IDEMPOTENCY_KEY_REUSED",
        ["Idempotency-Key"],
        input=await _submit_input(title="Another report"),
    )
    assert await _counts() == written


async def test_without_a_key_a_repeat_is_a_new_report(people: People) -> None:
    await submit(people["reporter"])
    await submit(people["reporter"])
    assert (await _counts())[0] == 2


async def test_keys_are_each_users_own(people: People) -> None:
    key = _key()
    mine = await ok(people["reporter"].with_headers(Idempotency_Key=key), SUBMIT,
                    input=await _submit_input())  # fmt: skip
    theirs = await ok(people["citizen"].with_headers(Idempotency_Key=key), SUBMIT,
                      input=await _submit_input())  # fmt: skip
    assert mine["id"] != theirs["id"]


async def test_a_refused_change_leaves_its_key_unused(people: People) -> None:
    keyed = people["reporter"].with_headers(Idempotency_Key=_key())
    await refused(keyed, SUBMIT, "VALIDATION", ["title"], input=await _submit_input(title=" "))
    assert await IdempotencyKey.all().count() == 0
    await ok(keyed, SUBMIT, input=await _submit_input())


async def test_an_expired_key_is_a_new_key(people: People) -> None:
    keyed = people["reporter"].with_headers(Idempotency_Key=_key())
    first = await ok(keyed, SUBMIT, input=await _submit_input())
    await IdempotencyKey.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    second = await ok(keyed, SUBMIT, input=await _submit_input(title="Lampu jalan padam"))
    assert second["id"] != first["id"]
    assert await IdempotencyKey.all().count() == 1


async def test_a_retried_follow_up_is_written_once(people: People) -> None:
    _, (assignment,) = await in_progress(people)
    await ok(people["officer"], ACCEPT, id=assignment, tier="SIMPLE")
    keyed = people["officer"].with_headers(Idempotency_Key=_key())
    for _ in range(3):
        answer = await ok(keyed, FOLLOW_UP, id=assignment, final=False, resolution=None)
        assert answer["id"] == assignment and len(answer["followUps"]) == 1
    assert await FollowUp.all().count() == 1


async def test_a_retried_add_info_answers_with_the_report_and_adds_nothing(
    people: People,
) -> None:
    report = await submit(people["reporter"])
    await ok(people["coordinator"], HOLD, id=report["id"], reason="Lengkapi alamatnya")
    keyed = people["reporter"].with_headers(Idempotency_Key=_key())
    first = await ok(keyed, ADD_INFO, id=report["id"], message="Jalan Kalimantan 37")
    again = await ok(keyed, ADD_INFO, id=report["id"], message="Jalan Kalimantan 37")
    assert first["status"] == again["status"] == "SUBMITTED"
    infos = await ReportEvent.filter(report_id=pk(report["id"]), kind="report.info_added").count()
    assert infos == 1


async def test_a_retried_registration_makes_and_mails_nothing_again(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """authRegister answers alike for a new and a taken address (and mails a taken one's
    owner); a retry under the same key is neither: it makes no account and sends no mail."""
    monkeypatch.setenv("LAPOR_SMTP_HOST", "127.0.0.1")  # e-mail on: the owner would be told
    get_settings.cache_clear()
    try:
        async with app_client(get_settings()) as client:
            email = f"warga-{uuid.uuid4().hex[:8]}@example.org"
            account = {"name": "Siti Aminah", "email": email, "password": "rahasia-sekali"}
            keyed = GQL(client).with_headers(Idempotency_Key=_key())
            first = await call(keyed, REGISTER, input=account)
            again = await call(keyed, REGISTER, input=account)
            unkeyed = await call(GQL(client), REGISTER, input=account)
    finally:
        get_settings.cache_clear()
    assert first == again == unkeyed == {"token": None, "user": None, "errors": []}
    assert await User.filter(email=email).count() == 1
    # Only the repeat without the key is a new attempt, which the address's owner is told of.
    attempts = await Notification.filter(kind=accounts.REGISTRATION_ATTEMPT).count()
    assert attempts == 1
    # The key's record keeps a keyed hash of what was asked, never the password itself.
    (row,) = await IdempotencyKey.all().values()
    assert "rahasia" not in str(row)


async def test_a_key_covers_one_mutation_of_a_request(people: People) -> None:
    both = (
        "mutation($i: ReportSubmitInput!) { a: reportSubmit(input: $i) { errors { code } } "
        "b: reportSubmit(input: $i) { errors { code field } } }"
    )
    keyed = people["reporter"].with_headers(Idempotency_Key=_key())
    data = await keyed(both, {"i": await _submit_input()})
    assert data["a"]["errors"] == []
    assert data["b"]["errors"] == [{"code": "VALIDATION", "field": ["Idempotency-Key"]}]
    assert (await _counts())[0] == 1


@pytest.mark.parametrize("key", ["", "a key with spaces", "x" * 256, "kunci-\u00e9"])
async def test_a_malformed_key_is_refused_before_anything_runs(people: People, key: str) -> None:
    headers = {
        "Authorization": f"Bearer {people['reporter'].token}",
        "Idempotency-Key": key.encode("latin-1"),  # what a client may put on the wire
        "Accept": GRAPHQL_RESPONSE,
    }
    response = await people["reporter"].client.post(
        "/graphql",
        json={"query": SUBMIT, "variables": {"input": await _submit_input()}},
        headers=headers,
    )
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": ["Idempotency-Key"]}
    assert await _counts() == (0, 0, 0)


async def test_identical_requests_at_once_make_one_report(people: People) -> None:
    """On PostgreSQL: the later requests wait on the first one's claim of the key, then
    answer with its report."""
    keyed = people["reporter"].with_headers(Idempotency_Key=_key())
    variables = {"input": await _submit_input()}
    answers = await asyncio.gather(*(keyed(SUBMIT, variables) for _ in range(8)))
    codes = {a["reportSubmit"]["report"]["trackingCode"] for a in answers}
    assert len(codes) == 1
    assert await _counts() == (1, 1, 1)
