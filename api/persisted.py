"""Persisted queries: Apollo's automatic persisted queries (APQ) and an allowlist mode.

A client sends `extensions.persistedQuery = {"version": 1, "sha256Hash": <hex>}`, with or
without the query text. Registered operations (`lapor persisted-queries register`) live in
the Redis hash `lapor:pq:registered` (hash -> text, no expiry); queries clients persisted
themselves (APQ) under `lapor:pq:apq:<hash>`, expiring after LAPOR_PERSISTED_QUERY_TTL_SECONDS.
A hash names its text for ever, so lookups are cached in-process for a minute. See ADR 0011.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    print_ast,
    validate,
    visit,
)
from graphql.language import Visitor
from redis.asyncio import Redis
from strawberry.http import GraphQLRequestData

from api.errors import Refusal, RequestError
from core.settings import Settings
from domain.actor import Actor
from domain.policy import may_use_console

log = logging.getLogger("lapor.persisted")

REGISTERED_KEY = "lapor:pq:registered"
APQ_PREFIX = "lapor:pq:apq:"
CACHE_SECONDS = 60.0
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
NOT_ALLOWED = "OPERATION_NOT_ALLOWED"
# Apollo's clients recognise these messages (and the codes) and then resend the full text.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
NOT_SUPPORTED_MESSAGE = "PersistedQueryNotSupported"
NO_CACHE = {"Cache-Control": "private, no-cache, must-revalidate"}


def sha256_hex(text: str) -> str:
    """The hash persisted queries are named by: sha256 of the UTF-8 text, lowercase hex."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Resolved:
    """The text to run, and the hash to persist once it has passed validation (APQ)."""

    query: str | None
    persist_as: str | None = None


class PersistedQueries:
    """Turns a request's query and `extensions.persistedQuery` into the text to run, per
    LAPOR_PERSISTED_QUERIES (off, auto, allowlist); one Redis round trip at most."""

    def __init__(self, settings: Settings, redis: Callable[[], Awaitable[Redis | None]]) -> None:
        self.settings = settings
        self.redis = redis
        self.cache: OrderedDict[str, tuple[float, str, bool]] = OrderedDict()

    async def resolve(self, data: GraphQLRequestData, actor: Actor) -> Resolved:
        """The text to run; a Refusal for a malformed persistedQuery, a RequestError when the
        hash is unknown or the operation may not run here."""
        mode = self.settings.persisted_queries
        extension = (data.extensions or {}).get("persistedQuery")
        free_form = may_use_console(actor, restricted=True)
        if extension is None:
            if mode == "allowlist" and data.query is not None and not free_form:
                if not await self._registered(sha256_hex(data.query)):
                    raise _not_allowed()
            return Resolved(data.query)
        if mode == "off":
            if data.query is None:
                raise RequestError(NOT_SUPPORTED, NOT_SUPPORTED_MESSAGE, headers=NO_CACHE)
            return Resolved(data.query)
        digest = _hash_of(extension)
        if data.query is not None:
            if sha256_hex(data.query) != digest:
                raise Refusal(400, "extensions.persistedQuery.sha256Hash is not the query's sha256")
            if mode == "allowlist":
                if not free_form and not await self._registered(digest):
                    raise _not_allowed()
                return Resolved(data.query)
            return Resolved(data.query, persist_as=digest)
        found = await self._lookup(digest, include_apq=mode == "auto")
        if found is None:
            raise RequestError(NOT_FOUND, NOT_FOUND_MESSAGE, headers=NO_CACHE)
        return Resolved(found)

    async def persist(self, digest: str, query: str) -> None:
        """Keep a client's query under its hash (APQ) once it has passed validation."""
        self._remember(digest, query, registered=False)
        pool = await self.redis()
        if pool is None:
            return
        try:
            await pool.set(APQ_PREFIX + digest, query, ex=self.settings.persisted_query_ttl_seconds)
        except Exception as exc:  # the client just sends the text again next time
            log.warning("persisted query %s not stored (%s)", digest, exc)

    async def _registered(self, digest: str) -> bool:
        cached = self._cached(digest)
        if cached is not None and cached[1]:
            return True
        return await self._lookup(digest, include_apq=False) is not None

    async def _lookup(self, digest: str, include_apq: bool) -> str | None:
        cached = self._cached(digest)
        if cached is not None and (include_apq or cached[1]):
            return cached[0]
        pool = await self.redis()
        if pool is None:
            return None
        try:
            pipe = pool.pipeline(transaction=False)
            pipe.hget(REGISTERED_KEY, digest)
            if include_apq:
                pipe.get(APQ_PREFIX + digest)
            found = await pipe.execute()
        except Exception as exc:  # Redis down: clients that can send the text still work
            log.warning("persisted query lookup failed (%s)", exc)
            return None
        registered = found[0]
        text = registered if registered is not None else (found[1] if include_apq else None)
        if text is None:
            return None
        query = text.decode() if isinstance(text, bytes) else str(text)
        self._remember(digest, query, registered=registered is not None)
        return query

    def _cached(self, digest: str) -> tuple[str, bool] | None:
        entry = self.cache.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return None
        self.cache.move_to_end(digest)
        return entry[1], entry[2]

    def _remember(self, digest: str, query: str, registered: bool) -> None:
        self.cache[digest] = (time.monotonic() + CACHE_SECONDS, query, registered)
        self.cache.move_to_end(digest)
        while len(self.cache) > self.settings.parser_cache_size:
            self.cache.popitem(last=False)


def _hash_of(extension: Any) -> str:
    if not isinstance(extension, dict) or extension.get("version") != 1:
        raise Refusal(400, "extensions.persistedQuery must be {version: 1, sha256Hash: <hex>}")
    digest = extension.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.match(digest.lower()):
        raise Refusal(400, "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits")
    return digest.lower()


def _not_allowed() -> RequestError:
    return RequestError(
        NOT_ALLOWED,
        "only registered operations run here (persisted-query allowlist): send the hash of a "
        "registered operation in extensions.persistedQuery",
        status=403,
    )


# ------------------------------------------------------------------ registering operations


@dataclass(frozen=True)
class Operation:
    """One operation as clients must send it: the text (with the fragments it uses), its hash."""

    name: str
    kind: str
    body: str

    @property
    def sha256(self) -> str:
        return sha256_hex(self.body)


class RegistrationError(Exception):
    """Files that cannot be registered; the message names each problem."""


def _fragments_used(node: Any, fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
    """Names of the fragments `node` spreads, directly or through other fragments, in order."""
    found: list[str] = []

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: object) -> None:
            name = spread.name.value
            if name not in found:
                found.append(name)
                if name in fragments:
                    visit(fragments[name], self)

    visit(node, Spreads())
    return found


def operations_in(paths: Sequence[Path], schema: GraphQLSchema) -> list[Operation]:
    """The named operations of `.graphql` files (fragments may sit in any of them) and of
    Apollo persisted-query manifests (`.json`), each checked against the schema."""
    problems: list[str] = []
    documents: list[tuple[Path, DocumentNode]] = []
    operations: list[Operation] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            problems.append(f"{path}: {error.strerror or error}")
            continue
        if path.suffix == ".json":
            operations += _manifest_operations(path, text, problems)
            continue
        try:
            documents.append((path, parse(text)))
        except GraphQLError as error:
            problems.append(f"{path}: {error.message}")
    fragments: dict[str, FragmentDefinitionNode] = {}
    for path, document in documents:
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                name = definition.name.value
                if name in fragments:
                    problems.append(f"{path}: fragment {name} is defined twice")
                fragments[name] = definition
    for path, document in documents:
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            if definition.name is None:
                problems.append(f"{path}: every operation needs a name")
                continue
            used = _fragments_used(definition, fragments)
            missing = [f for f in used if f not in fragments]
            if missing:
                problems.append(f"{path}: {definition.name.value} uses unknown {missing}")
                continue
            body = print_ast(DocumentNode(definitions=(definition, *(fragments[f] for f in used))))
            operations.append(Operation(definition.name.value, definition.operation.value, body))
    seen: dict[str, str] = {}
    for operation in operations:
        if seen.setdefault(operation.name, operation.body) != operation.body:
            problems.append(f"operation {operation.name} is defined twice, differently")
        invalid = validate(schema, parse(operation.body))
        problems += [f"{operation.name}: {e.message}" for e in invalid]
    if problems:
        raise RegistrationError("\n".join(problems))
    return list({o.sha256: o for o in operations}.values())


def _manifest_operations(path: Path, text: str, problems: list[str]) -> list[Operation]:
    try:
        manifest = json.loads(text)
        entries = manifest["operations"]
        found = [Operation(e["name"], e["type"], e["body"]) for e in entries]
    except (ValueError, KeyError, TypeError):
        problems.append(f"{path}: not a persisted-query manifest ({{operations: [...]}})")
        return []
    for entry, operation in zip(entries, found, strict=True):
        if entry.get("id", operation.sha256) != operation.sha256:
            problems.append(f"{path}: {operation.name}'s id is not the sha256 of its body")
    return found


def manifest(operations: Iterable[Operation]) -> dict[str, object]:
    """Apollo's persisted-query manifest format: what client tooling reads the hashes from."""
    return {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": o.sha256, "name": o.name, "type": o.kind, "body": o.body} for o in operations
        ],
    }


async def register(redis: Redis, operations: Sequence[Operation]) -> int:
    """Store operations as registered; returns how many were new."""
    if not operations:
        return 0
    # redis-py types its commands as "awaitable or not"; on the asyncio client they are awaitable.
    present = await redis.hmget(REGISTERED_KEY, [o.sha256 for o in operations])  # type: ignore[misc]
    await redis.hset(REGISTERED_KEY, mapping={o.sha256: o.body for o in operations})  # type: ignore[misc]
    return sum(1 for value in present if value is None)


async def registered(redis: Redis) -> list[Operation]:
    """Every registered operation, by name."""
    stored = await redis.hgetall(REGISTERED_KEY)  # type: ignore[misc]
    found = []
    for raw in stored.values():
        body = raw.decode() if isinstance(raw, bytes) else str(raw)
        definition = next(
            d for d in parse(body).definitions if isinstance(d, OperationDefinitionNode)
        )
        name = definition.name.value if definition.name else ""
        found.append(Operation(name, definition.operation.value, body))
    return sorted(found, key=lambda o: o.name)
