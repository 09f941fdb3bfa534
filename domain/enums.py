"""The domain's closed vocabularies, as the outer layers should import them."""

from models.enums import (
    AssignmentStatus,
    Channel,
    DeliveryStatus,
    ReportKind,
    ReportStatus,
    ResolutionCode,
    ResolutionTier,
    Role,
)

__all__ = [
    "AssignmentStatus",
    "Channel",
    "DeliveryStatus",
    "ReportKind",
    "ReportStatus",
    "ResolutionCode",
    "ResolutionTier",
    "Role",
]
