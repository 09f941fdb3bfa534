"""The safety net for real processes: a test fails if a process it started answered a client
INTERNAL (its log says so), unless it is marked `provokes_internal`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.processes import SPAWNED_LOGS, internal_answers
from tests.safety_net import PROVOKES_INTERNAL


@pytest.fixture(autouse=True)
def no_internal_answers_in_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    SPAWNED_LOGS.clear()
    yield
    found = [line for log in SPAWNED_LOGS if log.exists() for line in internal_answers(log)]
    SPAWNED_LOGS.clear()
    provoked = request.node.get_closest_marker(PROVOKES_INTERNAL) is not None
    if found and not provoked:
        pytest.fail("a process answered a client INTERNAL:\n" + "\n".join(found), pytrace=False)
