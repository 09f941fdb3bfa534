"""`lapor run` signs its tokens with a random secret it keeps in var/, readable by its owner
only (issue 12, finding "tokens can be forged in `make run`"): a token signed with the
constant the code used to carry opens nothing."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from core.settings import RETIRED_SECRETS, get_settings
from lapor.supervisor import SECRET_FILE, run_secret
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
