"""Every kind of event reaches an audience and has its words in every language: a kind added
to EventKind and forgotten in a table fails here, not silently in production."""

from __future__ import annotations

import pytest

from domain.deadlines import Stage
from domain.events import DEADLINE_KINDS, EventKind, event_kind
from domain.fanout import DEADLINE_AUDIENCES, EVENT_AUDIENCES, audiences_for
from domain.messages import LOCALES, has_event_text
from domain.services.deadlines import deadline_rules
from domain.services.sweep import EVENT_OF_LEVEL
from domain.sweep import steps_of


@pytest.mark.parametrize("kind", sorted(set(EventKind) - DEADLINE_KINDS))
def test_every_event_kind_names_its_audiences(kind: EventKind) -> None:
    assert EVENT_AUDIENCES.get(kind), f"{kind} reaches nobody: add it to EVENT_AUDIENCES"


def test_every_deadline_step_the_sweep_takes_has_an_audience() -> None:
    rules = deadline_rules()
    taken = {
        (EVENT_OF_LEVEL[step.level], stage)
        for stage in Stage
        for step in steps_of(stage, rules)
        if step.level in EVENT_OF_LEVEL
    }
    assert taken, "the sweep takes no steps at all?"
    assert {kind for kind, _ in taken} == DEADLINE_KINDS
    missing = [(str(k), str(s)) for k, s in sorted(taken) if not DEADLINE_AUDIENCES.get((k, s))]
    assert missing == []
    for kind, stage in taken:
        assert audiences_for(kind, stage.value, internal=stage is not Stage.REPORTER_WINDOW)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_event_kind_has_its_words_in_every_language(locale: str) -> None:
    assert [k for k in EventKind if not has_event_text(locale, k)] == []


def test_a_stored_kind_this_code_does_not_know_reaches_nobody() -> None:
    assert event_kind("report.teleported") is None
    assert audiences_for(None, None, internal=False) == frozenset()
    assert event_kind("report.escalated") is EventKind.REPORT_HANDED_OVER
