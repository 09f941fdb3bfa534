"""The closed vocabularies stored in the database (statuses, kinds, roles)."""

from __future__ import annotations

from enum import StrEnum


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
