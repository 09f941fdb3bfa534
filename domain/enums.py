"""The domain's closed vocabularies, as the outer layers should import them."""

from models.enums import (
    AssignmentStatus,
    ReportKind,
    ReportStatus,
    ResolutionCode,
    ResolutionTier,
    Role,
)

__all__ = [
    "AssignmentStatus",
    "ReportKind",
    "ReportStatus",
    "ResolutionCode",
    "ResolutionTier",
    "Role",
]
