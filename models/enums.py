"""The closed vocabularies stored in the database (statuses, kinds, roles)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

E = TypeVar("E", bound=StrEnum)


def decoder(enum: type[E]) -> Callable[[Any], E]:
    """The member of `enum` for a stored value, by one dict lookup (calling the enum costs
    about ten times as much, on every row of a page); ValueError for any other value, as the
    call raises."""
    members = members_by_value(enum)

    def decode(value: Any) -> E:
        try:
            return members[value]
        except (KeyError, TypeError):
            raise not_a_member(enum, value) from None

    return decode


def members_by_value(enum: type[E]) -> dict[Any, E]:
    """`enum`'s members by their stored values: what `decoder` looks a value up in, for a
    caller that looks up many at once (`models.rows.Shape`)."""
    return dict(enum._value2member_map_)  # type: ignore[arg-type]


def not_a_member(enum: type[StrEnum], value: Any) -> ValueError:
    """The error of a stored value that is none of `enum`'s, as calling the enum raises it."""
    return ValueError(f"{value!r} is not a valid {enum.__name__}")


class ReportKind(StrEnum):
    COMPLAINT = "COMPLAINT"
    ASPIRATION = "ASPIRATION"
    INFORMATION_REQUEST = "INFORMATION_REQUEST"


class ReportStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    ON_HOLD = "ON_HOLD"
    IN_PROGRESS = "IN_PROGRESS"
    RESPONDED = "RESPONDED"
    CLOSED = "CLOSED"
    ARCHIVED = "ARCHIVED"
    ESCALATED = "ESCALATED"


class AssignmentStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    RESPONDED = "RESPONDED"
    RETURNED = "RETURNED"
    FORWARDED = "FORWARDED"


class ResolutionTier(StrEnum):
    SIMPLE = "SIMPLE"
    STANDARD = "STANDARD"
    FIELD = "FIELD"


class ResolutionCode(StrEnum):
    RESOLVED = "RESOLVED"
    INFORMATION_GIVEN = "INFORMATION_GIVEN"
    NO_ACTION_POSSIBLE = "NO_ACTION_POSSIBLE"
    NOT_OUR_REMIT = "NOT_OUR_REMIT"
    DUPLICATE = "DUPLICATE"


class Role(StrEnum):
    CITIZEN = "CITIZEN"
    COORDINATOR = "COORDINATOR"
    OFFICER = "OFFICER"
    AGENCY_HEAD = "AGENCY_HEAD"
    OMBUDSMAN = "OMBUDSMAN"
    SUPERADMIN = "SUPERADMIN"


class RegionLevel(StrEnum):
    PROVINCE = "PROVINCE"
    REGENCY = "REGENCY"
    CITY = "CITY"


class Channel(StrEnum):
    IN_APP = "IN_APP"
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    DEAD = "DEAD"


class AttachmentSource(StrEnum):
    """Which desk a file came from: the reporter's own, or evidence of an agency's answer."""

    REPORTER = "REPORTER"
    AGENCY = "AGENCY"
