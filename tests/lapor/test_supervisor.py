"""`lapor run`'s supervisor. Stop signals are noted and acted on between steps, and what was
started is stopped, the last first, whatever signals come during the clean-up. Tokens are signed
with a random secret it keeps in var/, readable by its owner only (issue 12, finding "tokens can
be forged in `make run`"): a token signed with the constant the code used to carry opens
nothing."""

from __future__ import annotations

import os
import signal
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from core.settings import RETIRED_SECRETS, get_settings
from lapor.supervisor import SECRET_FILE, Stop, run_secret, stopping_on_signals
from tests.app_fixtures import GQL, app_client


def test_the_first_run_makes_a_random_owner_only_secret_and_later_runs_keep_it(
    tmp_path: Path,
) -> None:
    first = run_secret(tmp_path / "var")
    again = run_secret(tmp_path / "var")
    other = run_secret(tmp_path / "elsewhere")

    assert first == again
    assert first != other
    assert len(first) >= 32
    assert first not in RETIRED_SECRETS
    mode = stat.S_IMODE((tmp_path / "var" / SECRET_FILE).stat().st_mode)
    assert mode == 0o600


def test_a_secret_file_others_could_read_is_tightened(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_text("k" * 40)
    (tmp_path / SECRET_FILE).chmod(0o644)

    assert run_secret(tmp_path) == "k" * 40
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600


async def test_a_token_forged_with_the_old_constant_is_refused(db: str, tmp_path: Path) -> None:
    """The audit's probe: an HS256 token {"sub": "1"} signed with the constant -> `me`."""
    (constant,) = RETIRED_SECRETS
    forged = jwt.encode(
        {"sub": "1", "exp": int((datetime.now(UTC) + timedelta(hours=1)).timestamp())},
        constant,
        algorithm="HS256",
    )
    settings = get_settings().model_copy(
        update={"env": "development", "secret_key": run_secret(tmp_path)}
    )
    async with app_client(settings) as client:
        answer = await GQL(client, forged).raw("{ me { name roles } }")

    assert answer.status_code == 401, answer.text
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


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
