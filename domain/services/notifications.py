"""Use cases on a user's own notifications."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.actor import Actor
from domain.policy import require_signed_in
from domain.services.common import parse_id
from models import Notification
from models.enums import Channel


async def mark_read(actor: Actor, now: datetime, ids: Sequence[int | str] | None) -> int:
    """Mark the user's notifications read (all when `ids` is None); returns how many changed."""
    require_signed_in(actor)
    qs = Notification.filter(user_id=actor.user_id, channel=Channel.IN_APP, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(id__in=[parse_id(i, "ids") for i in ids])
    return await qs.update(read_at=now)
