"""Schema hygiene: every type, field and argument described; nothing removed, only deprecated."""

from __future__ import annotations

from collections.abc import Iterable

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
)


def missing_descriptions(schema: GraphQLSchema, exempt: Iterable[str] = ()) -> list[str]:
    """Types, fields, arguments and input fields without a description ("Type", "Type.field",
    "Type.field(arg)"); `exempt` names types left out."""
    skipped = set(exempt)
    missing: list[str] = []
    for name, type_ in sorted(schema.type_map.items()):
        if name.startswith("__") or name in skipped:
            continue
        if type_.description is None and name not in {"String", "Int", "Float", "Boolean", "ID"}:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in type_.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg})"
                    for arg, value in field.args.items()
                    if not value.description
                ]
        elif isinstance(type_, GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, value in type_.fields.items() if not value.description]
    return missing


def breaking_changes(old_sdl: str, new_sdl: str) -> list[str]:
    """What `new_sdl` breaks for clients of `old_sdl`: a type, field, argument or enum value
    removed, a type changed, a required argument added. Deprecating is the way to retire."""
    changes = find_breaking_changes(build_schema(old_sdl), build_schema(new_sdl))
    return [f"{change.type.name}: {change.description}" for change in changes]
