"""Global ids and cursors: URL-safe base64 of their text without padding, read back as written."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from schema.ids import from_global_id, keyset_position, to_cursor, to_global_id

PKS = st.integers(min_value=1, max_value=2**53)


def _standard(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@given(st.sampled_from(["Report", "Assignment", "Agency", "FollowUp"]), PKS)
def test_a_global_id_is_url_safe_base64_of_type_and_id_and_reads_back(name: str, pk: int) -> None:
    encoded = to_global_id(name, pk)
    assert encoded == _standard(f"{name}:{pk}")
    assert from_global_id(encoded) == (name, pk)


@given(PKS, st.none() | st.integers(min_value=0, max_value=1000))
def test_a_cursor_is_url_safe_base64_of_its_position_and_reads_back(
    pk: int, rank: int | None
) -> None:
    encoded = to_cursor(pk, rank)
    assert encoded == _standard(f"k:{pk}" if rank is None else f"r:{rank}:{pk}")
    assert keyset_position(encoded) == (pk, rank)


@given(st.text(min_size=1, max_size=40), PKS)
def test_any_type_name_is_encoded_as_url_safe_base64(name: str, pk: int) -> None:
    # Our own names and ids never give '+' or '/' in base64; other text does.
    assert to_global_id(name, pk) == _standard(f"{name}:{pk}")
