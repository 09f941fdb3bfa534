"""What the fuzz tests share: how many cases, from which seed, the edge values of each kind of
input, and what every answer must be (under 500, never INTERNAL, with its request id).

`make test` runs a few hundred cases per target from a fixed seed (the same cases every run).
A longer run is `make fuzz` (FUZZ_EXAMPLES=3000 cases per target, FUZZ_SEED=random), i.e.
LAPOR_FUZZ_EXAMPLES and LAPOR_FUZZ_SEED for pytest; the seed is printed at the end with the
figures, so that a failure can be replayed with FUZZ_SEED=<seed>.
"""

from __future__ import annotations

import base64
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from core.bounds import MAX_ID
from schema.ids import to_global_id

T = TypeVar("T")


@dataclass
class FuzzFigures:
    """Cases sent and seconds spent, by target, for the run's summary (tests/conftest.py)."""

    cases: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    seed: int | None = None

    def add(self, target: str, cases: int, seconds: float) -> None:
        self.cases[target] = self.cases.get(target, 0) + cases
        self.seconds[target] = self.seconds.get(target, 0.0) + seconds

    def lines(self) -> list[str]:
        seeded = f"seed {self.seed}" if self.seed is not None else "the fixed seed"
        rows = [
            f"  {target}: {self.cases[target]:,} cases in {self.seconds[target]:.1f} s"
            for target in sorted(self.cases)
        ]
        total = sum(self.cases.values())
        spent = sum(self.seconds.values())
        return [f"fuzz ({seeded}): {total:,} cases in {spent:.1f} s", *rows]


FIGURES = FuzzFigures()


def _seed() -> int | None:
    """LAPOR_FUZZ_SEED: a number, or "random"; unset: the fixed seed of `make test`."""
    raw = os.environ.get("LAPOR_FUZZ_SEED", "").strip()
    if not raw:
        return None
    return random.SystemRandom().randrange(2**32) if raw == "random" else int(raw)


SEED = _seed()
FIGURES.seed = SEED


def examples(default: int) -> int:
    """How many cases a target runs: LAPOR_FUZZ_EXAMPLES when set, else `default`."""
    return int(os.environ.get("LAPOR_FUZZ_EXAMPLES") or default)


def collect(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` examples of a strategy: the same ones every run, unless LAPOR_FUZZ_SEED."""
    found: list[T] = []

    def keep(example: T) -> None:
        found.append(example)

    run: Callable[[], None] = given(strategy)(keep)
    run = settings(
        max_examples=count,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )(run)
    if SEED is not None:
        run = seed(SEED)(run)
    run()
    return found


class Timed:
    """Counts the cases of one target and the seconds they took, into FIGURES."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.cases = 0

    def __enter__(self) -> Timed:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        FIGURES.add(self.target, self.cases, time.perf_counter() - self.started)


def check_answer(response: httpx.Response, case: object) -> None:
    """Every answer, however bad the request: a status under 500, the request id, and no
    INTERNAL among the errors of a JSON body."""
    described = f"{case!r}"[:1500]
    answer = f"{described}\n-> {response.status_code} {response.text[:800]}"
    assert response.status_code < 500, answer
    assert response.headers.get("x-request-id"), described
    if "json" in response.headers.get("content-type", "") and response.content:
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        codes = [(e.get("extensions") or {}).get("code") for e in errors or ()]
        assert "INTERNAL" not in codes, answer


# ------------------------------------------------------------------------- edge values


def cursor(key: int | str) -> str:
    """A cursor as the service makes them, for any key."""
    return base64.urlsafe_b64encode(f"k:{key}".encode()).decode().rstrip("=")


BEYOND_BIGINT = (0, -1, MAX_ID, MAX_ID + 1, 10**30, -(2**63) - 1)

TEXTS = [
    "",
    " ",
    "\x00",
    "Banjir\x00 di Sumbersari",
    "x" * 20_001,
    "x" * 255,
    "Jalan rusak 🚧 di Sumbersari",
    "مرحبا",  # right to left
    "'; DROP TABLE report; --",
    "%_\\",
    "LPR-AAAA-AAAA",
    "lpr aaaa aaaa",
    "warga@jember.demo",
    "a" * 300 + "@example.org",
    "35.09",
    *(cursor(key) for key in BEYOND_BIGINT),
    cursor("abc"),
    "k:5",
    "!!!",
]
INTS = [0, 1, -1, 5, 100, 101, 2**31 - 1, -(2**31), 2**31, 2**63, -(2**63) - 1, 2**70]
FLOATS = [0.0, -0.0, 90.0, -90.000001, 180.5, 1e308, -1e308, 5e-324]
DATE_TIMES = [
    "2026-01-05T00:00:00Z",
    "2026-03-02T09:00:00+07:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2026-01-05T00:00:00",
    "2026-02-30T00:00:00Z",
    "yesterday",
]
DATES = ["2026-01-05", "2026-08-17", "0001-01-01", "9999-12-31", "2026-02-29", "2026-13-01", "x"]
NODE_TYPES = (
    "Report",
    "Assignment",
    "FollowUp",
    "ReportEvent",
    "Agency",
    "Region",
    "Category",
    "Notification",
    "Delivery",
    "Holiday",
    "User",
)


def _global(type_name: str, key: int) -> str:
    raw = f"{type_name}:{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


IDS = [
    *(to_global_id(t, n) for t in NODE_TYPES for n in (1, 2, 3)),
    *(_global(t, key) for t in ("Report", "Agency", "Region") for key in BEYOND_BIGINT),
    "",
    "garbage",
    "UmVwb3J0OmFiYw",  # Report:abc
    "\x00",
    "x" * 20_001,
]

# Values of the wrong type altogether, for any input.
WRONG = [{"nested": [1, 2]}, [None], True, "7", 7, 1.5]


def any_of(values: list[Any], general: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The edge values mostly, and some of a general strategy."""
    return st.one_of(st.sampled_from(values), st.sampled_from(values), general)


def anything() -> st.SearchStrategy[Any]:
    return st.sampled_from(WRONG)
