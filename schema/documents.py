"""A document's way to execution: parsed with its limits through the parser's cache, then
validated once per parsed document. Both replace Strawberry's caches, whose pitfalls
docs/design.md names."""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import date, datetime
from enum import Enum
from typing import Any, ClassVar, TypeVar

import orjson
from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, specified_rules
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.schema import validate_document


class ParsedDocuments(ParserCache):
    """Parsing, with its limits, through the parser's cache: at most `max_tokens` tokens, and
    `rules` added to validation. Set when parsing begins, not around the whole operation: a
    subscription's operation lasts as long as its stream, and each hook around it is held for
    each subscriber that long. A document that does not parse is left to Strawberry's own
    parse, which answers the error (raised from the cache's hook, over a WebSocket it escaped:
    the client got a bare `complete` and the log a stack trace)."""

    def __init__(self, maxsize: int, max_tokens: int, rules: list[type[ASTValidationRule]]) -> None:
        super().__init__(maxsize=maxsize)
        self.max_tokens = max_tokens
        self.rules = tuple(rules)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = self.validation_rules()
        if context.query is not None and context.graphql_document is None:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.parsed(context.query)
        yield

    def parsed(self, query: str) -> DocumentNode:
        """The document of `query` within the token limit, from the parser's cache (one object
        per text); a GraphQLError when it does not parse."""
        return self.cached_parse_document(query, max_tokens=self.max_tokens)  # type: ignore[no-any-return]

    def validation_rules(self) -> tuple[type[ASTValidationRule], ...]:
        """The rules a document is validated by, in the pipeline and out of it: graphql-core's
        (Strawberry's default) and these limits."""
        return tuple(specified_rules) + self.rules


_Validated = tuple[GraphQLSchema, DocumentNode, list[GraphQLError]]


class ValidatedDocuments(SchemaExtension):
    """Validation, remembered for the last `size` documents: by the identity of the document the
    parser's cache hands out (one object per text) and the rules. Strawberry's cache keys on the
    document's hash, which walks every node of it on every request (16 µs for the inbox page)."""

    _seen: ClassVar[OrderedDict[tuple[int, int, tuple[Any, ...]], _Validated]] = OrderedDict()

    def __init__(self, size: int) -> None:
        self.size = size

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is None:  # nothing parsed: left to Strawberry's own validation step
            yield
            return
        context.pre_execution_errors = self.errors(
            context.schema._schema, document, tuple(context.validation_rules)
        )
        yield

    def errors(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        """The document's validation errors by these rules (none: valid), remembered."""
        key = (id(schema), id(document), rules)
        seen = self._seen
        found = seen.get(key)
        if found is not None and found[0] is schema and found[1] is document:
            seen.move_to_end(key)
            return found[2]
        # (The ids may be another document's that lived at that address before.)
        errors = validate_document(schema, document, rules)
        seen[key] = (schema, document, errors)
        while len(seen) > self.size:
            seen.popitem(last=False)
        return errors


_IMMUTABLE = (str, int, float, bool, Enum, datetime, date, type(None))
T = TypeVar("T")


def shareable(value: Any) -> bool:
    """Whether a value worked out for one execution can be given to others (kept by a cache
    keyed by `json_key`): an immutable value, or a list of them (copied for each, `own_copy`).
    Anything else (an input object) is made anew each time."""
    if type(value) is list:
        return all(isinstance(item, _IMMUTABLE) for item in value)
    return isinstance(value, _IMMUTABLE)


def own_copy(values: dict[str, Any]) -> dict[str, Any]:
    """Shareable `values` as one execution gets them: its own dict and lists (a resolver may
    change what it was given)."""
    return {name: own_value(v) for name, v in values.items()}


def own_value(value: Any) -> Any:
    """A shareable value as one execution gets it: a list of its own, any other as it is."""
    return list(value) if type(value) is list else value


def remembered(
    memo: OrderedDict[str, T],
    key: str,
    size: int,
    keep: Callable[[T], bool],
    make: Callable[..., T],
    *arguments: Any,
) -> tuple[T, bool]:
    """The value for `key` (a `json_key`) in `memo`, a cache of the `size` values asked for
    lately; on a miss `make(*arguments)`, kept only when `keep` says it may be shared (no
    closure is made for a hit). Whether it is shared comes with it: the caller then gives each
    execution its own copy."""
    found = memo.get(key)
    if found is not None:
        memo.move_to_end(key)
        return found, True
    made = make(*arguments)
    if not keep(made):
        return made, False
    memo[key] = made
    if len(memo) > size:
        memo.popitem(last=False)  # the one asked for least lately
    return made, True


def json_key(value: Any) -> str:
    """`value` as JSON text with its keys sorted, to key a cache by: text, not orjson's bytes,
    which keep their whole 4 KiB buffer for as long as they live (a key held by each of
    thousands of subscribers, or by every entry of a cache)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
