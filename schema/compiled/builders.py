"""Builders: the fields of an object plan written into each object's dict by one function
generated for the plan, for every object whose values are the common case.

A generated builder reads each field of an object it can build (an attribute, or a synchronous
resolver without variable arguments; for a reference field, the node the request made for it
already, its look-up only when there is none: schema/compiled/hints.py, `refers_to`) and writes
the object's dict in one go, its keys in the selection's order: a string, a boolean or a 32-bit
integer as it is, and so a value its scalar's serializer gives as it is (a UTC datetime:
schema/compiled/hints.py, `output_as_is`); an enum member by its name, a null where the field is
nullable, any other scalar by its own serializer. An object field, or a list of objects, whose
own builder builds every field of it is written out inside this one (that builder's statements,
under names of their own; a list's items in a loop): a whole tree (a page, its edges, their
nodes and what those name) is then one call, with no level-by-level pass and no call for each
object in it. Whatever else it meets (a null in a non-null field, a value of another type, a
serializer's refusal, a resolver's exception, anywhere in the tree) sends that object down the
general path of `run.py`, which completes every field of it and locates the error as the spec
says, so the answer is the same either way. A field whose resolver reads what is fetched for the
whole level first is built once that is fetched (`run.py`). The object's other fields (abstract
types, asynchronous resolvers, those reading variables, objects it cannot build whole) are left
as nulls in the dict for the general path to fill in.

A field whose resolver's answer is made of views the request holds (a list of them, or a page
for a connection: schema/compiled/hints.py, `answered_by_views`) is written from the views
themselves, each field read as its type's declaration says (schema/made_of.py), when every
field its selection asks of the objects can be: no object, edge or connection is made for it.
Views not at hand (the function gives None), a view of another class or a value out of the
common case send the object down the general path, which calls the resolver.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import CoroutineType
from typing import Any

from schema.compiled.hints import PageMade, ViewMade, page_made, referred_by, view_made, views_of
from schema.compiled.plan import DEFINITION, Abstract, FieldPlan, How, Leaf, ListOf, Obj, Out, Plan

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
# A GraphQL name, as the lexer reads one: only such a response key is written in the code.
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
# In a builder's namespace while it is written: some field reads the request's made nodes.
_MADE = "_reads_made_nodes"

# One object's dict, or None where the general path must complete the object.
Build = Callable[[list[Any], Any], list[dict[str, Any] | None]]


class _Slow(Exception):
    """This object needs the general path."""


def _unstarted(value: Any) -> _Slow:
    """_Slow, for a resolver's value that is not of its field's type. A resolver that will
    answer later (schema/reference.py) gave a coroutine: the general path calls it again and
    awaits that, and this one is let go unstarted."""
    if type(value) is CoroutineType:
        value.close()
    return _Slow()


@dataclass(eq=False, slots=True)
class Builder:
    """An object plan's generated builder, and the fields it leaves to the general path."""

    build: Build
    rest: list[FieldPlan]
    source: str  # the generated code, for reading when something goes wrong
    # Fields it builds whose resolvers read what is fetched for a whole level first
    # (schema/compiled/hints.py): `run.py` fetches it for the level's objects before building
    # them.
    prefetched: list[FieldPlan]
    # The same for objects it builds inside its own (`Hoisted`): `run.py` reaches them through
    # their attributes and fetches for all of them before building.
    hoisted: list[Hoisted]
    # The class whose objects it builds whole with nothing fetched first, a value of it passing
    # Strawberry's type check (`_whole_class`): `run.py` builds a root field's object of it at
    # once. None when it leaves fields to the general path, fetches first, or the check needs
    # more.
    whole: type | None = None


@dataclass(frozen=True, slots=True)
class Hoisted:
    """Objects built inside another builder's whose fields need a level's fetch first: reached
    from the outer builder's objects through `path` (fields read as attributes, a list's items
    each), of exactly the class `kind` (the only ones built inside), fetched for by `fields`."""

    path: tuple[FieldPlan, ...]
    kind: type
    fields: list[FieldPlan]


def with_builders(plan: Plan) -> Plan:
    """The plan, each object plan below its root given its builder."""
    for field in plan.root.fields:
        _attach(field.out)
    return plan


def _attach(out: Out) -> None:
    """Builders from the leaves up: an object's builder calls those of the objects it names."""
    if type(out) is ListOf:
        _attach(out.item)
    elif type(out) is Abstract:
        for obj in out.objects.values():
            _attach(obj)
    elif type(out) is Obj:
        for field in out.fields:
            _attach(field.out)
        builder = out.builder = builder_of(out)
        if builder is not None:
            builder.whole = _whole_class(out)


def builder_of(obj: Obj) -> Builder | None:
    """The builder of an object plan's leaf fields; None when it has none to build."""
    namespace: dict[str, Any] = {
        "_Slow": _Slow,
        "_MIN": _INT_MIN,
        "_MAX": _INT_MAX,
        "_Coroutine": CoroutineType,
        "_unstarted": _unstarted,
    }
    hoisted: list[Hoisted] = []
    lines, entries, rest = _statements(obj, "", "s", namespace, hoisted)
    if len(rest) == len(obj.fields):
        return None
    if namespace.pop(_MADE, False):
        lines.insert(0, "made = info.context.loaders.made")
    source = "\n".join(
        [
            "def one(s, info):",
            *(f"    {line}" for line in lines),
            f"    return {{{', '.join(entries)}}}",
            "",
            "def build(sources, info):",
            "    built = []",
            "    append = built.append",
            "    for s in sources:",
            "        try:",
            "            append(one(s, info))",
            "        except Exception:",
            "            append(None)",
            "    return built",
        ]
    )
    exec(compile(source, f"<builder of {obj.type.name}>", "exec"), namespace)
    prefetched = [f for f in obj.fields if f.prefetch is not None and f not in rest]
    return Builder(namespace["build"], rest, source, prefetched, hoisted)


def _statements(
    obj: Obj,
    at: str,
    source: str,
    namespace: dict[str, Any],
    hoisted: list[Hoisted],
    view: ViewMade | None = None,
) -> tuple[list[str], list[str], list[FieldPlan]]:
    """The statements reading and writing the fields of `obj` from `source` (`at` names an
    object written out inside another's builder: every name of its fields has it), the entries
    of its dict, and the fields left to the general path. Each field's value is read into a
    name of its own, `v<n>`: a value written as it is goes into the dict under that name.
    With `view`, `source` is the view the object would be made of (`_made_of_views`), and its
    fields are read from the view as the object would have them."""
    lines: list[str] = []
    entries: list[str] = []
    rest: list[FieldPlan] = []
    for index, plan in enumerate(obj.fields):
        n = f"{at}{index}"
        key = _key(plan.key, n, namespace)
        views = _views_answering(plan) if view is None else None
        written = None
        if view is not None:
            read: str | None = _read_view(plan, n, source, namespace, view)
            written = _write(plan, n, namespace, hoisted, "raise _Slow")
        elif views is not None:
            read = _read(plan, n, source, namespace, views)
            written = _write_views(plan, n, namespace) if read is not None else None
            if written is None:
                views = None  # its selection asks for more than views give: the resolver's
        if view is None and views is None:
            read = _read(plan, n, source, namespace)
            # A resolver's value is tested as any other: what fails the first test may be a
            # coroutine, which `_unstarted` closes (no test of its own in the common case).
            refusal = f"raise _unstarted(v{n})" if plan.how is How.CALL else "raise _Slow"
            written = _write(plan, n, namespace, hoisted, refusal) if read is not None else None
        if read is None or written is None:
            rest.append(plan)
            entries.append(f"{key}: None")
            continue
        statements, output = written
        refers = (
            referred_by(plan.resolver)
            if plan.how is How.CALL and plan.resolver is not None and views is None
            else None
        )
        if refers is None:
            lines.append(f"v{n} = {read}")
        else:
            # A reference the request made a node for already (`made`, bound once by `one`):
            # that node, as its resolver would answer; its look-up when there is none.
            namespace[f"K{n}"], namespace[f"g{n}"], namespace[f"L{n}"] = refers
            namespace[_MADE] = True
            lines += [
                f"p{n} = g{n}({source})",
                f"v{n} = made.get((K{n}, p{n}))",
                f"if v{n} is None: v{n} = L{n}(info, K{n}, p{n})",
            ]
        lines.extend(statements)
        entries.append(f"{key}: {output}")
    return lines, entries, rest


def _key(key: str, n: str, namespace: dict[str, Any]) -> str:
    """The expression of a response key (a field's name or the client's alias) in the code: a
    string literal, so that a dict of literal keys is made in one step (BUILD_CONST_KEY_MAP),
    when it is a GraphQL name, as every key of a parsed document is; anything else is never
    written into the code, only named (`k<n>`)."""
    if _NAME.fullmatch(key):
        return repr(key)
    namespace[f"k{n}"] = key
    return f"k{n}"


def _read(
    plan: FieldPlan,
    n: str,
    source: str,
    namespace: dict[str, Any],
    resolver: Callable[..., Any] | None = None,
) -> str | None:
    """The expression reading the field's value from `source` (with `resolver`, calling that
    instead of the field's own, as it would be called), or None when it is left to the
    general path."""
    if plan.how is How.TYPENAME:
        return _typename(plan, n, namespace)
    if plan.how is How.ATTRIBUTE:
        assert plan.get is not None
        name = plan.strawberry_field.python_name if plan.strawberry_field else None
        if name is not None and name.isidentifier() and not keyword.iskeyword(name):
            return f"{source}.{name}"
        namespace[f"g{n}"] = plan.get
        return f"g{n}({source})"
    if plan.how is not How.CALL or plan.is_async:
        return None
    known = plan.known_arguments
    if known is None:
        return None  # its arguments read the request's variables
    namespace[f"r{n}"] = plan.resolver if resolver is None else resolver
    arguments = [source] if plan.takes_self else []
    if known:
        namespace[f"a{n}"] = known
        arguments.append(f"**a{n}")
    if plan.info_name is not None:
        arguments.append(f"{plan.info_name}=info")
    return f"r{n}({', '.join(arguments)})"


def _typename(plan: FieldPlan, n: str, namespace: dict[str, Any]) -> str:
    """The name `__typename` is read from: the type's name, bound once."""
    namespace[f"t{n}"] = plan.parent.name
    return f"t{n}"


def _read_view(
    plan: FieldPlan, n: str, source: str, namespace: dict[str, Any], view: ViewMade
) -> str:
    """The expression reading the field's value from the view `source`, as the object made of
    it would have it (`_readable_of_view` said it can be)."""
    if plan.how is How.TYPENAME:
        return _typename(plan, n, namespace)
    assert plan.strawberry_field is not None
    name = plan.strawberry_field.python_name
    if name == "id":
        namespace[f"i{n}"] = view.global_id
        return f"i{n}({source}.id)"
    return f"{source}.{view.copies[name]}"


def _write(
    plan: FieldPlan, n: str, namespace: dict[str, Any], hoisted: list[Hoisted], refusal: str
) -> tuple[list[str], str] | None:
    """Statements checking the value `v<n>` (`refusal` where it fails its first test, raising
    _Slow for anything but the common case) and the expression of its output value, or None
    when the field is left to the general path."""
    out = plan.out
    if type(out) is Obj or type(out) is ListOf:
        return _write_objects(plan, out, n, namespace, hoisted, refusal)
    if type(out) is not Leaf:
        return None
    v, x = f"v{n}", f"x{n}"
    as_is = _as_is_test(out, v, n, namespace)
    if as_is is not None:
        # Written as it is once it passes its test; a null passes where the field allows it.
        check = as_is if out.nonnull else f"{v} is not None and ({as_is})"
        return [f"if {check}: {refusal}"], v
    if out.members is not None:
        # A member missing from `names` (its enum refused it) raises KeyError: the general path.
        namespace[f"n{n}"] = out.names
        namespace[f"m{n}"] = out.members
        statements = [f"if type({v}) is not m{n}: {refusal}", f"{x} = n{n}[{v}]"]
    else:
        # A serializer is given no coroutine: it is tested for first.
        namespace[f"c{n}"] = out.type.coerce_output_value  # type: ignore[attr-defined]
        statements = [f"{x} = c{n}({v})", f"if {x} is None: raise _Slow"]
        if refusal != "raise _Slow":
            statements.insert(0, f"if type({v}) is _Coroutine: {refusal}")
    return (statements if out.nonnull else _unless_null(v, statements, f"{x} = None")), x


def _as_is_test(out: Leaf, v: str, n: str, namespace: dict[str, Any]) -> str | None:
    """The test true of a value `v` that is not its own output, for a leaf written as it is
    (`Leaf.same`, `Leaf.as_is`); None for any other leaf. A value that fails it is the general
    path's: another zone's datetime, say, which its serializer writes."""
    if out.same is not None:
        kind = out.same.__name__
        namespace[kind] = out.same
        tests = [f"type({v}) is not {kind}"]
        if out.same is int:
            tests.append(f"not _MIN <= {v} <= _MAX")
    elif out.as_is is not None:
        made, attributes = out.as_is
        namespace[f"d{n}"] = made
        tests = [f"type({v}) is not d{n}"]
        for index, (attribute, expected) in enumerate(attributes):
            namespace[f"e{n}_{index}"] = expected
            tests.append(f"{v}.{attribute} is not e{n}_{index}")
    else:
        return None
    return " or ".join(tests)


def _whole(
    via: FieldPlan, obj: Obj, namespace: dict[str, Any], name: str, hoisted: list[Hoisted]
) -> str | None:
    """`name`, when `obj`'s builder builds all of the object, for a value of the field `via`
    to be written out inside another builder, its class under `<name>_type`; None otherwise.
    Only a value of exactly that class is written out there: Strawberry's own type check (an
    instance of the class) holds for it, as it does on the general path, which checks the first
    of each class. Any other value, and a type with its own `is_type_of` or a generic one, is
    the general path's.
    An object whose fields need a level's fetch first is written out there when `via` reads an
    attribute: the fetch is hoisted to the outer builder's level (`hoisted`)."""
    builder = obj.builder
    origin = _origin(obj)
    fetches = builder is not None and bool(builder.prefetched or builder.hoisted)
    if (
        builder is None
        or builder.rest
        or (fetches and via.how is not How.ATTRIBUTE)
        or origin is None
    ):
        return None
    if builder.prefetched:
        hoisted.append(Hoisted((via,), origin, builder.prefetched))
    hoisted.extend(Hoisted((via, *h.path), h.kind, h.fields) for h in builder.hoisted)
    namespace[f"{name}_type"] = origin
    return name


def _origin(obj: Obj) -> type | None:
    """The Python class of an object plan's type, when a value of exactly that class passes
    Strawberry's type check (no `is_type_of` of its own, not a generic type); None otherwise."""
    definition = obj.type.extensions.get(DEFINITION)
    origin = getattr(definition, "origin", None)
    if (
        not isinstance(origin, type)
        or getattr(definition, "is_type_of", None) is not None
        or getattr(definition, "concrete_of", None) is not None
    ):
        return None
    return origin


def _whole_class(obj: Obj) -> type | None:
    """The class of the objects the object plan's own builder builds every field of, with
    nothing to fetch first, a value of it passing Strawberry's type check (`_origin`); None
    when the builder does not build them whole."""
    builder = obj.builder
    if builder is None or builder.rest or builder.prefetched or builder.hoisted:
        return None
    return _origin(obj)


def _write_objects(
    plan: FieldPlan,
    out: Obj | ListOf,
    n: str,
    namespace: dict[str, Any],
    hoisted: list[Hoisted],
    refusal: str,
) -> tuple[list[str], str] | None:
    """An object, or a list of objects, each built whole as its own builder builds it; None
    otherwise. An object is written out here (its builder's statements, under names of its
    own), a list's items by calls of their builder. `refusal` is for the value's own test."""
    v, x = f"v{n}", f"x{n}"
    item = out.item if type(out) is ListOf else out
    if type(item) is not Obj:
        return None
    build = _whole(plan, item, namespace, f"o{n}", hoisted)
    if build is None:
        return None
    # (Its fetches were hoisted by `_whole`, with their paths from here.)
    each = v if type(out) is Obj else f"s{n}_"
    inner, entries, rest = _statements(item, f"{n}_", each, namespace, [])
    assert not rest  # a whole builder leaves nothing to the general path
    # The class check refuses a null too: a nullable object's null is written before it.
    own = refusal if each == v else "raise _Slow"
    checked = [f"if type({each}) is not {build}_type: {own}", *inner]
    written = f"{{{', '.join(entries)}}}"
    if type(out) is Obj:
        if out.nonnull:
            return checked, written  # the dict written where its parent's entry is
        statements = [*checked, f"{x} = {written}"]
    else:
        one = [*checked, f"append{n}({written})"]
        if not item.nonnull:
            one = _unless_null(each, one, f"append{n}(None)")
        # A list the resolver gave as anything but a list is the general path's.
        statements = [
            f"if type({v}) is not list: {refusal}",
            f"{x} = []",
            f"append{n} = {x}.append",
            f"for {each} in {v}:",
            *(f"    {line}" for line in one),
        ]
    return (statements if out.nonnull else _unless_null(v, statements, f"{x} = None")), x


def _unless_null(value: str, statements: list[str], null: str) -> list[str]:
    """`statements` for a nullable `value`: a null runs `null` (writes it as null), and is
    never looked at."""
    return [
        f"if {value} is None:",
        f"    {null}",
        "else:",
        *(f"    {statement}" for statement in statements),
    ]


def _views_answering(plan: FieldPlan) -> Callable[..., Any] | None:
    """The function giving the views a field's answer is made of (`hints.answered_by_views`),
    for a resolver's field that has one; None otherwise."""
    if plan.how is not How.CALL or plan.resolver is None or plan.is_async:
        return None
    return views_of(plan.resolver)


def _python_name(plan: FieldPlan) -> str | None:
    return plan.strawberry_field.python_name if plan.strawberry_field else None


def _readable_of_view(out: Out) -> ViewMade | None:
    """How the objects of `out` are made of views, when it is an object plan every field of
    which can be read from the view (its type name, its id, a leaf the view holds); None
    otherwise."""
    made = view_made(_origin(out)) if type(out) is Obj else None
    if made is None or type(out) is not Obj:
        return None
    for plan in out.fields:
        name = _python_name(plan)
        if plan.how is not How.TYPENAME and (
            plan.how is not How.ATTRIBUTE
            or type(plan.out) is not Leaf
            or (name != "id" and name not in made.copies)
        ):
            return None
    return made


def _write_views(
    plan: FieldPlan, n: str, namespace: dict[str, Any]
) -> tuple[list[str], str] | None:
    """Statements writing a field's answer from the views it is made of, `v<n>` (a list of
    views, or a page of them: `hints.answered_by_views`), and the expression of its output;
    None when its selection asks for what the views alone cannot give. Anything but a list or
    a page (None: the views are not at hand) and a view of any other class send the object to
    the general path, which calls the field's resolver."""
    out = plan.out
    v, x = f"v{n}", f"x{n}"
    if type(out) is ListOf:
        made = _readable_of_view(out.item)
        if made is None or type(out.item) is not Obj:
            return None
        item = f"s{n}_"
        inner, entries, _ = _statements(out.item, f"{n}_", item, namespace, [], made)
        each = _for_each_view(made, v, item, n, inner, f"{{{', '.join(entries)}}}", namespace)
        return [f"if type({v}) is not list: raise _Slow", f"{x} = []", *each], x
    pages = page_made(_origin(out)) if type(out) is Obj else None
    if pages is None or type(out) is not Obj:
        return None
    namespace[f"P{n}"] = pages

    def write(field_plan: FieldPlan, name: str | None, m: str) -> Written | None:
        if name == "edges":
            edges = _write_edges(field_plan.out, pages, v, m, namespace)
            return None if edges is None else (edges, f"x{m}")
        if name == "page_info":
            info = _write_page_info(field_plan.out, v, f"P{n}", m, namespace)
            return None if info is None else (info, f"x{m}")
        return None

    written = _fields_written(out, n, namespace, write)
    if written is None:
        return None
    return [f"if {v} is None: raise _Slow", *written[0], f"{x} = {written[1]}"], x


def _write_edges(
    out: Out, pages: PageMade, page: str, n: str, namespace: dict[str, Any]
) -> list[str] | None:
    """Statements writing a connection's edges into `x<n>`, one for each of the views of the
    page `page`, for an edge's selection of its type name, its cursor and its node (each field
    of it readable of the view); None for any other."""
    made = view_made(pages.node)
    edge = out.item if type(out) is ListOf else None
    if made is None or type(edge) is not Obj:
        return None
    item = f"s{n}_"
    namespace[f"P{n}"] = pages

    def write(field_plan: FieldPlan, name: str | None, m: str) -> Written | None:
        if name == "cursor" and field_plan.how is How.CALL:
            return [f"c{m} = P{n}.cursor({page}, {item})"], f"c{m}"
        node = field_plan.out
        if name == "node" and type(node) is Obj and _readable_of_view(node) is made:
            inner, fields, _ = _statements(node, f"{m}_", item, namespace, [], made)
            return inner, f"{{{', '.join(fields)}}}"
        return None

    written = _fields_written(edge, n, namespace, write)
    if written is None:
        return None
    lines, entry = written
    return [f"x{n} = []", *_for_each_view(made, f"{page}.items", item, n, lines, entry, namespace)]


# Statements writing a field's value, and the expression of it.
Written = tuple[list[str], str]


def _fields_written(
    obj: Obj,
    n: str,
    namespace: dict[str, Any],
    write: Callable[[FieldPlan, str | None, str], Written | None],
) -> Written | None:
    """Statements writing each field of `obj` selected, and the expression of its dict: its
    type name as it is, any other field as `write` says (given the field, its Python name and
    `m`, which every name it writes has); None when `write` refuses one."""
    lines: list[str] = []
    entries = []
    for index, field_plan in enumerate(obj.fields):
        m = f"{n}_{index}"
        key = _key(field_plan.key, m, namespace)
        if field_plan.how is How.TYPENAME:
            entries.append(f"{key}: {_typename(field_plan, m, namespace)}")
            continue
        written = write(field_plan, _python_name(field_plan), m)
        if written is None:
            return None
        lines += written[0]
        entries.append(f"{key}: {written[1]}")
    return lines, f"{{{', '.join(entries)}}}"


def _write_page_info(
    out: Out, page: str, pages: str, n: str, namespace: dict[str, Any]
) -> list[str] | None:
    """Statements writing a connection's page info into `x<n>`, of the page `page` (an object
    its own builder builds whole, made by `<pages>.page_info`); None for any other."""
    whole = _whole_class(out) if type(out) is Obj else None
    if whole is None or type(out) is not Obj:
        return None
    namespace[f"o{n}_type"] = whole
    inner, fields, _ = _statements(out, f"{n}_", f"v{n}", namespace, [])
    return [
        f"v{n} = {pages}.page_info({page})",
        f"if type(v{n}) is not o{n}_type: raise _Slow",
        *inner,
        f"x{n} = {{{', '.join(fields)}}}",
    ]


def _for_each_view(
    made: ViewMade,
    views: str,
    item: str,
    n: str,
    body: list[str],
    entry: str,
    namespace: dict[str, Any],
) -> list[str]:
    """A loop appending `entry` to the list `x<n>` after `body`, for each `item` of `views`:
    any but a view of exactly the class the objects are made of is the general path's."""
    namespace[f"V{n}"] = made.view
    return [
        f"append{n} = x{n}.append",
        f"for {item} in {views}:",
        f"    if type({item}) is not V{n}: raise _Slow",
        *(f"    {line}" for line in body),
        f"    append{n}({entry})",
    ]
