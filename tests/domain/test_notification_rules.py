"""The pure rules behind notifications and the sweep: audiences, channels, words, backoff,
signatures, and when each deadline step falls."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from domain.calendar import WorkingCalendar
from domain.deadlines import Stage
from domain.events import EventKind, event_kind
from domain.fanout import Audience, audiences_for, user_channels
from domain.messages import MessageFacts, email_for, event_text, render
from domain.services.deadlines import deadline_rules
from domain.services.deliveries import RetryPolicy
from domain.sweep import Level, due_steps, first_sweep_at, is_stale_reminder, steps_of
from models.enums import Channel
from workers.transports import signature

JEMBER = WorkingCalendar("Asia/Jakarta")
RULES = deadline_rules()  # the defaults of settings


def test_staff_only_lines_never_reach_citizens() -> None:
    public = audiences_for(EventKind.ASSIGNMENT_FOLLOW_UP, None, internal=False)
    assert {Audience.REPORTER, Audience.FOLLOWERS} <= public
    assert not audiences_for(EventKind.ASSIGNMENT_FOLLOW_UP, None, internal=True) & {
        Audience.REPORTER,
        Audience.FOLLOWERS,
    }


def test_deadline_audiences_depend_on_the_stage() -> None:
    assert audiences_for(EventKind.DEADLINE_BREACHED, "verify", True) == {Audience.COORDINATORS}
    assert audiences_for(EventKind.DEADLINE_BREACHED, "resolution", True) == {
        Audience.OFFICERS,
        Audience.HEADS,
    }
    reminded = audiences_for(EventKind.DEADLINE_REMINDER, "reporter_window", False)
    assert reminded == {Audience.REPORTER}
    assert audiences_for(event_kind("no.such.kind"), None, False) == frozenset()


def test_followers_alone_are_not_mailed() -> None:
    assert user_channels(frozenset({Audience.FOLLOWERS}), True) == (Channel.IN_APP,)
    both = frozenset({Audience.FOLLOWERS, Audience.REPORTER})
    assert user_channels(both, True) == (Channel.IN_APP, Channel.EMAIL)
    assert user_channels(both, False) == (Channel.IN_APP,)


def test_words_are_indonesian_with_english_for_the_rest() -> None:
    facts = MessageFacts("report.closed", "LPR-AAAA-BBBB", "Jalan rusak")
    assert render(facts, "id") == 'Laporan LPR-AAAA-BBBB "Jalan rusak" ditutup.'
    assert render(facts, "en") == 'Report LPR-AAAA-BBBB "Jalan rusak" was closed.'
    assert render(facts, "jv") == render(facts, "en")  # a language we lack: English
    assert event_text(None, EventKind.REPORT_CLOSED) == event_text("id", EventKind.REPORT_CLOSED)
    unknown = MessageFacts("something.new", "LPR-AAAA-BBBB", None)
    assert render(unknown, "id") == "Ada pembaruan pada laporan LPR-AAAA-BBBB."


def test_a_confidential_report_is_never_named_and_html_is_escaped() -> None:
    secret = MessageFacts("report.responded", "LPR-AAAA-BBBB", None)
    assert "None" not in render(secret, "id")
    tricky = MessageFacts("report.closed", "LPR-AAAA-BBBB", "<b>Banjir</b> & longsor")
    mail = email_for(tricky, "id", "warga@example.org")
    assert "&lt;b&gt;Banjir&lt;/b&gt; &amp; longsor" in mail.html
    assert "<b>Banjir</b>" in mail.text


def test_deadline_words_show_the_local_day() -> None:
    due = datetime(2026, 3, 27, 16, 59, 59, tzinfo=UTC)
    facts = MessageFacts("deadline.reminder", "LPR-X", None, stage="verify", due_at=due)
    assert "2026-03-27 23:59 WIB" in render(facts, "id")
    wit = MessageFacts("deadline.reminder", "LPR-X", None, "A", "verify", due, "Asia/Jayapura")
    assert "2026-03-28 01:59 WIT" in render(wit, "en")


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=5, max_seconds=60)
    assert policy.delay(1, 0.0) == 2.5 and policy.delay(1, 0.999999) < 5
    assert policy.delay(3, 0.0) == 10
    assert policy.delay(10, 0.999999) < 60 and policy.delay(10, 0.0) == 30


def test_the_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"kind":"assignment.created"}'
    expected = hmac.new(b"k" * 32, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("k" * 32, 1700000000, body) == f"v1={expected}"
    assert signature("k" * 32, 1700000001, body) != f"v1={expected}"


def test_resolution_steps_hand_over_after_the_breach() -> None:
    levels = [s.level for s in steps_of(Stage.RESOLUTION, RULES)]
    assert levels == [Level.REMINDER, Level.BREACH, Level.HANDOVER, Level.ESCALATION]
    assert [s.level for s in steps_of(Stage.REPORTER_WINDOW, RULES)] == [
        Level.REMINDER,
        Level.CLOSE,
    ]


@pytest.mark.parametrize(
    ("now", "levels", "next_at"),
    [
        # Due Friday 27 March 2026, 23:59:59 WIB; the reminder falls at the end of Thursday.
        (
            datetime(2026, 3, 26, 16, 0, tzinfo=UTC),
            [],
            datetime(2026, 3, 26, 16, 59, 59, tzinfo=UTC),
        ),
        (
            datetime(2026, 3, 27, 0, 0, tzinfo=UTC),
            [Level.REMINDER],
            datetime(2026, 3, 27, 16, 59, 59, tzinfo=UTC),
        ),
        # Escalation five working days later: 30, 31 March, 1, 2 April, Good Friday off, 6 April.
        (
            datetime(2026, 3, 28, 0, 0, tzinfo=UTC),
            [Level.REMINDER, Level.BREACH],
            datetime(2026, 4, 6, 16, 59, 59, tzinfo=UTC),
        ),
        (
            datetime(2026, 4, 7, 0, 0, tzinfo=UTC),
            [Level.REMINDER, Level.BREACH, Level.ESCALATION],
            None,
        ),
    ],
)
def test_steps_fall_on_working_days(
    now: datetime, levels: list[Level], next_at: datetime | None
) -> None:
    due = datetime(2026, 3, 27, 16, 59, 59, tzinfo=UTC)
    cuti = WorkingCalendar("Asia/Jakarta", extra_holidays=frozenset())
    reached, upcoming = due_steps(due, Stage.VERIFY, now, cuti, RULES)
    assert [s.level for s in reached] == levels
    assert upcoming == next_at
    assert first_sweep_at(due, Stage.VERIFY, cuti, RULES) == datetime(
        2026, 3, 26, 16, 59, 59, tzinfo=UTC
    )
    assert first_sweep_at(due, None, cuti, RULES) is None


def test_a_reminder_after_its_deadline_is_stale() -> None:
    due = datetime(2026, 3, 27, 16, 59, 59, tzinfo=UTC)
    reminder = steps_of(Stage.VERIFY, RULES)[0]
    assert not is_stale_reminder(reminder, due, due)
    assert is_stale_reminder(reminder, due, datetime(2026, 3, 27, 17, 0, tzinfo=UTC))
