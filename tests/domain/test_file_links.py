"""Signed links to files (domain/file_links.py): a link verifies as issued, and not once any
part of it is changed or it has expired."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from domain.file_links import FileGrant, Variant, file_link, link_key, verified_grant

KEY = link_key("s" * 40)
GRANT = FileGrant(attachment_id=42, variant=Variant.ORIGINAL, expires=1_000, public=False, viewer=7)


def _parts(link: str) -> tuple[str, str, dict[str, str]]:
    split = urlsplit(link)
    _, _, attachment_id, variant = split.path.split("/")
    return attachment_id, variant, dict(parse_qsl(split.query))


def test_a_link_verifies_as_issued_until_it_expires() -> None:
    attachment_id, variant, query = _parts(file_link(KEY, GRANT))
    assert verified_grant(KEY, attachment_id, variant, query, now=999) == GRANT
    assert verified_grant(KEY, attachment_id, variant, query, now=1_000) is None


@pytest.mark.parametrize(
    "change",
    [
        {"attachment_id": "43"},
        {"variant": "thumbnail"},
        {"e": "2000"},
        {"p": "1"},
        {"v": "8"},
        {"v": "0"},
        {"s": "A" * 43},
        {"s": ""},
        {"p": "yes"},
        {"e": "soon"},
    ],
)
def test_a_changed_link_is_refused(change: dict[str, str]) -> None:
    attachment_id, variant, query = _parts(file_link(KEY, GRANT))
    attachment_id = change.pop("attachment_id", attachment_id)
    variant = change.pop("variant", variant)
    assert verified_grant(KEY, attachment_id, variant, {**query, **change}, now=1) is None


def test_a_link_of_another_secret_is_refused() -> None:
    attachment_id, variant, query = _parts(file_link(link_key("t" * 40), GRANT))
    assert verified_grant(KEY, attachment_id, variant, query, now=1) is None
