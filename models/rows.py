"""Rows for the read path: SQL sent straight over the current connection, each row a named
tuple of the columns a view needs (enums as their members), and no model objects.

The ORM costs about four times the database's own time on a page of fifty rows (building and
filling model objects, converting every field); these reads are what every page sends. Rows
are read-only: changes still go through the models. A filtered query is still written with
the ORM's filters (the access rules' SQL twin among them, domain/services/reports.py) and only
its SQL is taken (`ids_of`, `rows_of_with`), so no rule is written twice.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Sequence
from contextvars import ContextVar, Token
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, NamedTuple
from uuid import UUID

from asyncpg import Connection, Record
from tortoise import connections
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from models.connection import read_records
from models.enums import (
    AssignmentStatus,
    ReportKind,
    ReportStatus,
    ResolutionCode,
    ResolutionTier,
    members_by_value,
    not_a_member,
)


class ReportRow(NamedTuple):
    id: int
    tracking_code: str
    kind: ReportKind
    title: str
    body: str
    anonymous: bool
    confidential: bool
    status: ReportStatus
    region_id: int
    category_id: int | None
    reporter_id: int
    duplicate_of_id: int | None
    latitude: float | None
    longitude: float | None
    address: str | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    escalated_at: datetime | None
    reopen_count: int
    transfer_count: int
    support_count: int


class AssignmentRow(NamedTuple):
    """The columns a view of an assignment shows or decides by; its stage deadlines, notes
    and timestamps are read by the sweep and the writers, through the models."""

    id: int
    report_id: int
    agency_id: int
    parent_id: int | None
    status: AssignmentStatus
    tier: ResolutionTier | None
    assigned_at: datetime
    due_at: datetime | None
    escalation_level: int
    return_reason: str | None
    suggested_agency_id: int | None


class FollowUpRow(NamedTuple):
    id: int
    assignment_id: int
    author_id: int | None
    message: str
    final: bool
    resolution: ResolutionCode | None
    created_at: datetime


class EventRow(NamedTuple):
    id: int
    report_id: int
    kind: str
    message: str | None
    actor_id: int | None
    visibility: str
    at: datetime
    assignment_id: int | None


# A timeline line as the read path holds it: an EventRow, or the record of `event_row`'s
# columns it would be made from (the same values, in the same order). A report's page holds its
# first lines as read: making a row of each was 4 % of what the detail page cost
# (docs/adr/0049-lines-held-as-read.md).
EventLine = EventRow | Record


class NotRead:
    """The value of a column a read left out (`Shape.as_shown`): it refuses to be shown or
    looked at, so a field that needed it fails loudly rather than showing nothing."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_READ"

    def _refuse(self, *_: Any) -> Any:
        raise TypeError("a column the read left out was used (models/rows.py, Shape.as_shown)")

    __bool__ = __str__ = __format__ = __len__ = __iter__ = __getitem__ = _refuse
    __float__ = __int__ = __lt__ = __gt__ = __le__ = __ge__ = __add__ = __sub__ = _refuse


NOT_READ = NotRead()

# The shown-only columns ("report.body") the running operation shows none of: a compiled query
# names them (schema/compiled/executor.py), and the reads made only to show rows leave them
# out (`Shape.as_shown`).
_left_out: ContextVar[frozenset[str]] = ContextVar("lapor_left_out", default=frozenset())


class leaving_out:
    """Until the block ends, reads `as_shown` leave out these shown-only columns. (A class, not
    a generator's context manager: every query enters one, and the generator's costs twice.)"""

    __slots__ = ("columns", "token")

    def __init__(self, columns: frozenset[str]) -> None:
        self.columns = columns
        self.token: Token[frozenset[str]] | None = None

    def __enter__(self) -> None:
        self.token = _left_out.set(self.columns)

    def __exit__(self, *exc_info: object) -> None:
        if self.token is not None:
            _left_out.reset(self.token)
            self.token = None


class Shape:
    """How one row type is read: its columns, and the enum each enum column holds. Its
    shown-only columns are those no rule or decision reads, only fields that show them: a read
    that makes rows only to show them may leave those out (`as_shown`). Rows read inside
    another's (an array column) are of its `row_type` in the database (`typed_row`)."""

    def __init__(
        self,
        row: type[Any],
        enums: dict[str, type[StrEnum]],
        table: str,
        shown_only: Sequence[str] = (),
        left_out: frozenset[str] = frozenset(),
        row_type: str | None = None,
    ) -> None:
        self.row = row
        self.enums = enums
        self.table = table
        self.row_type = row_type
        self.shown_only = frozenset(f"{table}.{name}" for name in shown_only)
        self._left_out = [name for name in row._fields if f"{table}.{name}" in left_out]
        self._columns_of: dict[str, str] = {}
        self._typed_rows: dict[tuple[str, tuple[str, ...]], str] = {}  # made once each
        self.columns = self.columns_of("")
        self._enums = [
            (row._fields.index(name), members_by_value(enum), enum) for name, enum in enums.items()
        ]
        self._not_read = [row._fields.index(name) for name in self._left_out]
        self._variants: dict[frozenset[str], Shape] = {}
        self._width = len(row._fields)
        # The row of a record of this shape's columns, the rows of a list of them, and each
        # row of a list of records with more columns after the shape's, with those columns.
        written = self._written()
        self.make: Callable[[Record | Sequence[Any]], Any] = written["make"]
        self.make_all: Callable[[Iterable[Record | Sequence[Any]]], list[Any]] = written["make_all"]
        self.take_all: Callable[
            [Iterable[Record | Sequence[Any]]], list[tuple[Any, tuple[Any, ...]]]
        ] = written["take_all"]

    def columns_of(self, alias: str) -> str:
        """The columns, each qualified by a table alias (a column left out is a NULL); made
        once per alias (the pages' statements ask for them on every request)."""
        found = self._columns_of.get(alias)
        if found is None:
            prefix = f"{alias}." if alias else ""
            found = self._columns_of[alias] = ", ".join(
                f"NULL AS {name}" if name in self._left_out else f"{prefix}{name}"
                for name in self.row._fields
            )
        return found

    def typed_row(self, alias: str, *more: str) -> str:
        """The columns (as `alias`) and the values `more` after them, as a row of the shape's
        row type (models/migrations/0010_row_types.py): asyncpg decodes a typed row with the
        codec of each of its columns found once, an anonymous ROW(...) by looking up the
        codec of every value it holds (docs/adr/0046-typed-rows.md)."""
        found = self._typed_rows.get((alias, more))
        if found is None:
            if self.row_type is None:
                raise TypeError(f"{self.row.__name__} has no row type in the database")
            prefix = f"{alias}." if alias else ""
            values = [
                "NULL" if name in self._left_out else f"{prefix}{name}" for name in self.row._fields
            ]
            found = f"ROW({', '.join([*values, *more])})::{self.row_type}"
            self._typed_rows[alias, more] = found
        return found

    def as_shown(self) -> Shape:
        """This shape as the running operation reads rows to show them: without the shown-only
        columns it shows none of (each NOT_READ in the rows); itself outside a compiled query."""
        left_out = _left_out.get() & self.shown_only
        if not left_out:
            return self
        variant = self._variants.get(left_out)
        if variant is None:
            variant = self._variants[left_out] = Shape(
                self.row, self.enums, self.table, left_out=left_out, row_type=self.row_type
            )
        return variant

    def _written(self) -> dict[str, Any]:
        """`make`, `make_all` and `take_all` written out for this shape: its enum and left-out
        columns a statement each, without `_make`'s loops over them or its tests of whether
        there are any (a page of fifty makes a hundred rows: the loops were a tenth of the inbox
        page's bytecodes), and a list's rows in one loop, not a call each. A record they cannot
        make goes to `_make`, which says why."""
        names: dict[str, Any] = {
            "slowly": self._make,
            "new": tuple.__new__,
            "row": self.row,
            "NOT_READ": NOT_READ,
        }
        # Making `made` from `record`: anything but the common case raises LookupError or
        # TypeError, and the record goes to `slowly`.
        body = [f"if len(record) != {self._width}: raise LookupError"]
        if not self._enums and not self._not_read:
            body.append("made = new(row, record)")
        else:
            body.append("values = list(record)")
            for index, members, _ in self._enums:
                names[f"members_{index}"] = members
                body += [
                    f"value = values[{index}]",
                    f"if value is not None: values[{index}] = members_{index}[value]",
                ]
            body += [f"values[{index}] = NOT_READ" for index in self._not_read]
            body.append("made = new(row, values)")

        def made_from(record: str, indent: str) -> list[str]:
            lines = ["try:", *(f"    {line}" for line in body)]
            lines += ["except (LookupError, TypeError):", "    made = slowly(record)"]
            if record != "record":
                lines.insert(0, f"record = {record}")
            return [f"{indent}{line}" for line in lines]

        lines = [
            "def make(record):",
            *made_from("record", "    "),
            "    return made",
            "",
            "def make_all(records):",
            "    rows = []",
            "    append = rows.append",
            "    for record in records:",
            *made_from("record", "        "),
            "        append(made)",
            "    return rows",
            "",
            "def take_all(records):",
            "    taken = []",
            "    append = taken.append",
            "    for whole in records:",
            *made_from(f"whole[:{self._width}]", "        "),
            f"        append((made, tuple(whole[{self._width}:])))",
            "    return taken",
        ]
        exec(compile("\n".join(lines), f"<make of {self.row.__name__}>", "exec"), names)
        return names

    def _make(self, record: Record | Sequence[Any]) -> Any:
        """A row made by loops over the shape's enum and left-out columns: what the written-out
        functions fall back to for a record they cannot make (it says why), and what they are
        checked against (tests/models/test_rows.py)."""
        if not self._enums and not self._not_read:
            values: Record | Sequence[Any] = record
        else:
            values = list(record)
            # Looked up here, not through a decoder's call each: a page makes a hundred rows.
            for index, members, enum in self._enums:
                value = values[index]
                if value is not None:
                    try:
                        values[index] = members[value]
                    except (KeyError, TypeError):
                        raise not_a_member(enum, value) from None
            for index in self._not_read:
                values[index] = NOT_READ
        if len(values) != self._width:
            raise TypeError(f"{self.row.__name__} has {self._width} fields, not {len(values)}")
        # As the row's `_make` does, less its call: a page of fifty makes a hundred rows.
        return tuple.__new__(self.row, values)


REPORT = Shape(
    ReportRow,
    {"kind": ReportKind, "status": ReportStatus},
    "report",
    shown_only=("body", "address", "latitude", "longitude", "updated_at"),
)
# An assignment's row type has one more column: the assignment's follow-ups, when read with it.
ASSIGNMENT = Shape(
    AssignmentRow,
    {"status": AssignmentStatus, "tier": ResolutionTier},
    "assignment",
    row_type="assignment_row",
)
FOLLOW_UP = Shape(
    FollowUpRow, {"resolution": ResolutionCode}, "follow_up", row_type="follow_up_row"
)
EVENT = Shape(EventRow, {}, "report_event", row_type="event_row")


async def select(shape: Shape, sql: str, *params: Any) -> list[Any]:
    """Rows of `shape` for `sql` (which selects `shape.columns`), on the current connection."""
    return shape.make_all(await read_records(sql, list(params)))


async def select_with(shape: Shape, sql: str, *params: Any) -> list[tuple[Any, tuple[Any, ...]]]:
    """Rows of `shape` for `sql`, which selects `shape.columns` then more: (row, the rest)."""
    return shape.take_all(await read_records(sql, list(params)))


async def rows_of_with(
    shape: Shape, query: QuerySet[Any], more: str, join: str = "", alias: str = "p"
) -> list[tuple[Any, tuple[Any, ...]]]:
    """Rows of `shape` for an ORM query (its filters, order and limit), with more columns per
    row read in the same statement: the query's rows (as `alias`), `more` selected over them
    with `join`; each item is (row, the rest). The query's
    order is kept when it is by id, newest first, as every page's is.

    The ORM builds only the query's ids (its filters, order and limit): building the SQL of a
    select of every column costs about twice as much in Python. A query of one table then
    selects the shape's columns in its own statement; one with joins gives its ids, and the
    rows are joined to them by primary key. Joining an inbox's ids back cost PostgreSQL twice
    as much: for the ids alone it reads the whole desk from the (agency, status, id) index and
    sorts it (0.53 ms for 2,500 open assignments); for the rows, it walks (agency, id) back and
    stops at the page (0.25 ms)."""
    sql, params = ids_of(query)
    table = query.model._meta.db_table
    head = _ids_head(table)
    if sql == head or sql.startswith(head + " "):
        rows = f'SELECT {shape.columns} FROM "{table}"{sql[len(head) :]}'
        statement = f"SELECT {shape.columns_of(alias)}, {more} FROM ({rows}) {alias} {join}"
    else:
        statement = (
            f"SELECT {shape.columns_of(alias)}, {more} FROM ({sql}) page"
            f" JOIN {table} {alias} ON {alias}.id = page.id {join}"
        )
    return await select_with(shape, f"{statement} ORDER BY {alias}.id DESC", *params)


def _ids_head(table: str) -> str:
    """How the ORM's select of the ids of one table's rows begins (`ids_of`)."""
    return f'SELECT "id" "id" FROM "{table}"'


def ids_of(query: QuerySet[Any]) -> tuple[str, list[Any]]:
    """The SQL (and its parameters, $1 on) selecting the ids of an ORM query: its filters,
    order and limit, built by the query's own builder, or as it built them for the same
    query lately (`built_ids`)."""
    key = plain_query_key(query)
    if key is None:
        return _build_ids(query)
    found = built_ids.get(key)
    if found is None:
        found = built_ids[key] = _build_ids(query)
        if len(built_ids) > BUILT_IDS_SIZE:
            built_ids.popitem(last=False)  # the one asked for least lately
    else:
        built_ids.move_to_end(key)
        if check_built_ids:
            again = _build_ids(query)
            if again != found:
                raise AssertionError(f"{key} was built as {found}, and now as {again}")
    return found[0], list(found[1])


def _build_ids(query: QuerySet[Any]) -> tuple[str, list[Any]]:
    ids = query.values("id")
    ids._choose_db_if_not_chosen()
    ids._make_query()
    sql, params = ids.query.get_parameterized_sql()
    return sql, list(params)


# The ORM takes about 100 µs of Python to build a page's id query, more than the rest of an
# inbox page of ten takes to read its rows: what it built is kept for the same query (its
# model, filters with their values, order and limit), as the pages desks poll are asked again
# and again. The tests build every query again and compare (`check_built_ids`).
BUILT_IDS_SIZE = 1024
built_ids: OrderedDict[Hashable, tuple[str, list[Any]]] = OrderedDict()
check_built_ids = False

# What a plain query's attributes hold when nothing but filters, order and limits was asked.
_PLAIN_EMPTY = (
    "_annotations",
    "_custom_filters",
    "_having",
    "_group_bys",
    "_select_related",
    "_prefetch_map",
    "_force_indexes",
    "_use_indexes",
    "_fields_for_select",
    "_filter_kwargs",
    "_select_for_update",
    "_distinct",
    "_single",
)
_PLAIN_VALUES = (int, str, bool, float, type(None), datetime, date, Decimal, UUID)
# Longer lists (the ids of a batch) are seldom asked for twice: not worth their memory.
_MAX_LISTED = 32


class _NotPlain(Exception):
    pass


def plain_query_key(query: QuerySet[Any]) -> Hashable | None:
    """A key naming everything an ORM query's SQL is built from (its model, filters with their
    values, order, limit and offset); None for a query with anything else (annotations,
    expressions, joins asked for, locks), which is built every time."""
    if type(query) is not QuerySet or any(getattr(query, name) for name in _PLAIN_EMPTY):
        return None
    try:
        filters = tuple(_q_key(q) for q in query._q_objects)
        key = (query.model, filters, tuple(query._orderings), query._limit, query._offset)
        hash(key)
    except (_NotPlain, TypeError):  # TypeError: something in it cannot be a key
        return None
    return key


def _q_key(q: Q) -> Hashable:
    if type(q) is not Q:
        raise _NotPlain
    return (
        q.join_type,
        q._is_negated,
        tuple(_q_key(child) for child in q.children),
        tuple((name, _value_key(value)) for name, value in q.filters.items()),
    )


def _value_key(value: Any) -> Hashable:
    # The type is part of the key: True == 1 == 1.0, which the database may not take alike.
    kind = type(value)
    if kind is list or kind is tuple:  # not a set: its order, which makes the SQL's, may vary
        if len(value) > _MAX_LISTED:
            raise _NotPlain
        return (kind, tuple(_value_key(item) for item in value))
    if kind is datetime:  # equal instants are equal datetimes: the offset makes the parameter
        return (kind, value, value.utcoffset())
    if kind in _PLAIN_VALUES or isinstance(value, Enum):
        return (kind, value)
    raise _NotPlain


@contextlib.asynccontextmanager
async def planned_for_values() -> AsyncIterator[Connection]:
    """A connection (the current transaction's, inside one) on which, until the block ends,
    statements are planned for their parameters' values, never once for any (a prepared
    statement's generic plan). Its own transaction, on a connection of its own: not through
    tortoise's in_transaction, whose current connection concurrent resolvers would share."""
    async with connections.get("default").acquire_connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield conn


async def select_on(
    conn: Connection, shape: Shape, sql: str, *params: Any
) -> list[tuple[Any, tuple[Any, ...]]]:
    """Rows of `shape` for `sql` on `conn`, which selects `shape.columns` then more."""
    return shape.take_all(await conn.fetch(sql, *params))


def where_of(query: QuerySet[Any]) -> tuple[str, list[Any]]:
    """The condition of an ORM query of one table's rows with neither order nor limit, as SQL
    over that table's columns (parenthesised; TRUE when it has none) and its parameters, $1
    on: for a statement to filter the same rows itself rather than join their ids."""
    if query._orderings or query._limit is not None or query._offset is not None:
        raise ValueError("a condition is only a filter's: no order, limit or offset")
    sql, params = ids_of(query)
    head = _ids_head(query.model._meta.db_table)
    if sql == head:
        return "TRUE", params
    if not sql.startswith(head + " WHERE "):
        raise ValueError(f"not one table's filter: {sql}")
    return f"({sql[len(head) + len(' WHERE ') :]})", params


async def pairs(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Plain tuples for `sql` (ids and the like)."""
    return [tuple(r) for r in await read_records(sql, list(params))]


def by_ids(shape: Shape) -> str:
    """The statement of `shape`'s rows whose id is in $1 (an array)."""
    return f"SELECT {shape.columns} FROM {shape.table} WHERE id = ANY($1::bigint[])"
