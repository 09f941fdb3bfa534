"""`node(id:)`: any object by its global id, loaded by its own type as the viewer may see it."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.common import Ctx, Node, arg
from schema.ids import from_global_id


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object by its global id; null if absent or not yours to see."
    )
    async def node(
        self, info: Ctx, id: Annotated[strawberry.ID, arg("A global id.")]
    ) -> Node | None:
        decoded = from_global_id(id)
        node_type = Node.registry.get(decoded[0]) if decoded else None
        if decoded is None or node_type is None:
            return None
        return await node_type.load(info, decoded[1])
