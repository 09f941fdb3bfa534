"""Use cases on a user's own notifications."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.actor import Actor
from domain.ids import parse_id
from domain.policy import (
    require_signed_in,
)
from domain.services.reading import Page, PageRequest, newest_first
from models import (
    Notification,
)
from models.enums import Channel


async def mark_read(actor: Actor, now: datetime, ids: Sequence[int | str] | None) -> int:
    """Mark the user's notifications read (all when `ids` is None); returns how many changed."""
    require_signed_in(actor)
    qs = Notification.filter(user_id=actor.user_id, channel=Channel.IN_APP, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(id__in=[parse_id(i, "ids") for i in ids])
    return await qs.update(read_at=now)


async def notifications(
    actor: Actor,
    unread_only: bool,
    page: PageRequest,
) -> Page[Notification]:
    """The signed-in user's in-app notifications, newest first."""
    require_signed_in(actor)
    qs = Notification.filter(user_id=actor.user_id, channel=Channel.IN_APP)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return await newest_first(qs, page)


async def notification_by_id(actor: Actor, nid: int) -> Notification | None:
    """One of the actor's own in-app notifications (the list's rule); None for anything else."""
    if actor.user_id is None:
        return None
    return await Notification.get_or_none(id=nid, user_id=actor.user_id, channel=Channel.IN_APP)
