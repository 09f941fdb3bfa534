"""The domain's closed vocabularies, as the outer layers should import them."""

from models.enums import (
    AssignmentStatus,
    AttachmentSource,
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
    "AttachmentSource",
    "Channel",
    "DeliveryStatus",
    "ReportKind",
    "ReportStatus",
    "ResolutionCode",
    "ResolutionTier",
    "Role",
]
