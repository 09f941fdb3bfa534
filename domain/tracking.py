"""Tracking codes: short, unguessable and easy to read aloud (no 0/O, 1/I/L)."""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_PATTERN = re.compile(r"^LPR-[" + ALPHABET + r"]{4}-[" + ALPHABET + r"]{4}$")


def new_tracking_code() -> str:
    """A fresh random code like LPR-7KQ2-9XMD (about 40 bits from a CSPRNG)."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"LPR-{chars[:4]}-{chars[4:]}"


def normalize_tracking_code(code: str) -> str | None:
    """The canonical form of what a person typed, or None when it cannot be a code."""
    cleaned = code.strip().upper().replace(" ", "")
    if not cleaned.startswith("LPR-") and len(cleaned) == 8:
        cleaned = f"LPR-{cleaned[:4]}-{cleaned[4:]}"
    return cleaned if _PATTERN.match(cleaned) else None
