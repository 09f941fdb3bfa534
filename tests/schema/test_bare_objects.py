"""Every Strawberry type's `of` sets every field of the object it makes: some make theirs
without the dataclass `__init__` (`schema.common.bare`), which would not refuse a field left out;
a field left out would fail only when a query reads it."""

from __future__ import annotations

import dataclasses
from typing import Any

from schema.assignments import Assignment
from schema.common import Node
from schema.people import User
from schema.reports import Report, ReportEvent


class _Anything:
    """A view whose every attribute is another: readable, iterable, printable."""

    def __getattr__(self, name: str) -> _Anything:
        return _Anything()

    def __iter__(self) -> Any:
        return iter(())


def _types_with_of() -> list[type[Any]]:
    found: dict[str, type[Any]] = {}
    for cls in (*Node.registry.values(), Report, ReportEvent, Assignment, User):
        if dataclasses.is_dataclass(cls) and callable(getattr(cls, "of", None)):
            found[cls.__name__] = cls
    return list(found.values())


def test_every_of_sets_every_field_it_is_given() -> None:
    checked = []
    for cls in _types_with_of():
        try:
            made = cls.of(_Anything())
        except Exception:  # an `of` that computes from its view: not one of these
            continue
        fields = {f.name for f in dataclasses.fields(cls) if f.init}
        assert fields <= set(vars(made)), (cls.__name__, fields - set(vars(made)))
        checked.append(cls.__name__)
    assert {"Report", "ReportEvent", "Assignment", "FollowUp", "User"} <= set(checked), checked


def test_a_connection_sets_every_field_of_its_edges() -> None:
    from domain.services.reading import Page
    from schema.reports import ReportEventConnection

    page = Page(items=[7, 9], has_next=True, has_previous=False)
    made = ReportEventConnection.of(page, node=lambda item: f"node {item}", key=lambda item: item)
    edge_fields = {f.name for f in dataclasses.fields(ReportEventConnection.edge) if f.init}
    assert edge_fields == {"position", "node"}
    for edge, item in zip(made.edges, (7, 9), strict=True):
        assert edge_fields <= set(vars(edge))
        assert (edge.position, edge.node) == ((item, None), f"node {item}")
