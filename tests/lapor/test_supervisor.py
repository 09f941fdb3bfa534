"""`lapor run`'s supervisor: stop signals are noted and acted on between steps, and what was
started is stopped, the last first, whatever signals come during the clean-up."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field

import pytest

from lapor.supervisor import Stop, stopping_on_signals


@dataclass
class FakeChild:
    """A child that records its stop, and may receive a signal while stopping."""

    name: str
    stopped: list[str]
    signal_while_stopping: signal.Signals | None = None
    exit_status: int | None = field(default=None)

    def poll(self) -> int | None:
        return self.exit_status

    def stop(self) -> None:
        if self.signal_while_stopping is not None:
            # What make does: pass its own SIGTERM on while `lapor run` cleans up.
            os.kill(os.getpid(), self.signal_while_stopping)
        self.stopped.append(self.name)


def test_a_signal_is_noted_and_acted_on_at_the_next_step() -> None:
    stopped: list[str] = []
    children: list[FakeChild] = []
    with pytest.raises(Stop), stopping_on_signals(children) as stopping:  # type: ignore[arg-type]
        children.append(FakeChild("redis", stopped))
        os.kill(os.getpid(), signal.SIGTERM)  # lands mid-step: nothing is raised there
        children.append(FakeChild("postgres", stopped))
        stopping.check()
        children.append(FakeChild("api", stopped))  # never reached
    assert stopped == ["postgres", "redis"]


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_during_the_clean_up_cannot_abandon_a_child(second: signal.Signals) -> None:
    stopped: list[str] = []
    children = [
        FakeChild("redis", stopped),
        FakeChild("postgres", stopped),
        FakeChild("worker", stopped, signal_while_stopping=second),
        FakeChild("api", stopped, signal_while_stopping=signal.SIGTERM),
    ]
    with pytest.raises(Stop), stopping_on_signals(children) as stopping:  # type: ignore[arg-type]
        os.kill(os.getpid(), signal.SIGTERM)
        stopping.check()
    assert stopped == ["api", "worker", "postgres", "redis"]


def test_the_handlers_before_are_put_back() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with stopping_on_signals([]):
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
    assert {sig: signal.getsignal(sig) for sig in before} == before
