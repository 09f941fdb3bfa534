"""Objects made of views, declared once for each type: how each field comes from its view.

A Strawberry type whose objects are copies of a masked view (`domain/services/views.py`), field
for field, says so with `made_of`. From that one declaration come its `of` (an object of one
view) and `all_of` (of many, in one loop), and a compiled query's builder reads a view's fields
by it directly, with no object made (schema/compiled/builders.py). The declaration must name
every field the type's dataclass sets, and only attributes the view has: a type that would
leave a field unset, or read what its view does not hold, is refused when it is defined.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final, TypeVar

from schema.common import Node, bare
from schema.compiled.hints import ViewMade, made_of_view

N = TypeVar("N", bound=type[Node])


class _Whole:
    """The view itself, as a field's value (`WHOLE`)."""

    def __repr__(self) -> str:
        return "WHOLE"


# A field holding the view itself (no GraphQL field shows it: its resolvers read it).
WHOLE: Final = _Whole()


def made_of(kind: type, /, *copied: str, **named: str | _Whole) -> Callable[[N], N]:
    """Declare a Node type's objects made of views of exactly the class `kind` (a named tuple):
    `id` the global id of the view's `id`, each of `copied` the view's attribute of the same
    name, each of `named` the attribute it names, or the view itself (`WHOLE`)."""

    def declare(cls: N) -> N:
        copies = {name: name for name in copied}
        copies.update({f: a for f, a in named.items() if isinstance(a, str)})
        whole = tuple(f for f, a in named.items() if a is WHOLE)
        fields = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
        declared = {"id", *copies, *whole}
        held = set(getattr(kind, "_fields", ()))
        if fields != declared or not set(copies.values()) <= held or "id" not in held:
            raise TypeError(
                f"{cls.__name__} made of {kind.__name__}: fields not declared "
                f"{sorted(fields - declared)}, not fields {sorted(declared - fields)}, "
                f"not in the view {sorted(set(copies.values()) - held)}"
            )
        made = ViewMade(kind, cls.global_id, copies, whole)
        of, all_of = _makers(cls, made)
        setattr(cls, "of", staticmethod(of))  # noqa: B010 (the class declares their types)
        setattr(cls, "all_of", staticmethod(all_of))  # noqa: B010
        return made_of_view(cls, made)

    return declare


def _makers(cls: type, made: ViewMade) -> tuple[Callable[[Any], Any], Callable[[Any], list[Any]]]:
    """`of` and `all_of`, written for the declaration: every field set without the dataclass
    `__init__` (`bare`), as a hand-written one would (no loop over the fields at run time)."""
    sets = [
        "o = new(cls)",
        "o.id = global_id(v.id)",
        *(f"o.{field} = v.{attribute}" for field, attribute in made.copies.items()),
        *(f"o.{field} = v" for field in made.whole),
    ]
    source = "\n".join(
        [
            "def of(v):",
            *(f"    {line}" for line in sets),
            "    return o",
            "",
            "def all_of(views):",
            "    made = []",
            "    append = made.append",
            "    for v in views:",
            *(f"        {line}" for line in sets),
            "        append(o)",
            "    return made",
        ]
    )
    namespace: dict[str, Any] = {"new": bare, "cls": cls, "global_id": made.global_id}
    exec(compile(source, f"<made of {made.view.__name__}: {cls.__name__}>", "exec"), namespace)
    return namespace["of"], namespace["all_of"]
