"""Tortoise models only: the tables and their indexes. Migrations live in models/migrations."""

from models.entities import (
    Agency,
    Assignment,
    Category,
    FollowUp,
    Holiday,
    Notification,
    OutboxMessage,
    Rating,
    Region,
    Report,
    ReportEvent,
    RoleGrant,
    RoutingRule,
    Support,
    SweepMark,
    User,
)

__all__ = [
    "Agency",
    "Assignment",
    "Category",
    "FollowUp",
    "Holiday",
    "Notification",
    "OutboxMessage",
    "Rating",
    "Region",
    "Report",
    "ReportEvent",
    "RoleGrant",
    "RoutingRule",
    "Support",
    "SweepMark",
    "User",
]
