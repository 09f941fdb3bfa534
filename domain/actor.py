"""Who is acting: a signed-in user with their scoped roles, the public, or the system."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from models.enums import Role


@dataclass(frozen=True)
class Actor:
    """The identity the access policy decides on; built once per request or job."""

    user_id: int | None = None
    roles: frozenset[Role] = frozenset()
    coordinator_regions: frozenset[int] = frozenset()
    officer_agencies: frozenset[int] = frozenset()
    head_agencies: frozenset[int] = frozenset()
    system: bool = False
    name: str = field(default="", compare=False)

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None or self.system

    @cached_property
    def agencies(self) -> frozenset[int]:
        """The agencies whose desk this actor works at (officer or head); worked out once (the
        policy asks it of every report a page reads)."""
        return self.officer_agencies | self.head_agencies

    @property
    def is_superadmin(self) -> bool:
        return Role.SUPERADMIN in self.roles

    @property
    def is_ombudsman(self) -> bool:
        return Role.OMBUDSMAN in self.roles


PUBLIC = Actor()
SYSTEM = Actor(system=True, name="system")
