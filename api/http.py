"""GraphQL over HTTP, as the spec (graphql/graphql-over-http) and frontend tooling expect it.

- Queries by GET or POST, mutations by POST only (a GET mutation is a 405 with `Allow: POST`).
- `application/graphql-response+json` when the client accepts it (and when it sends no
  Accept header): a request error (nothing executed: syntax, validation, cost, persisted
  query refusals) is a 4xx without `data`; executed operations are 200.
- `application/json` for older clients (`Accept: application/json` or `*/*`): every
  well-formed request is 200, so proxies' error pages cannot pass for GraphQL answers.
- A request that is not well-formed GraphQL over HTTP (bad JSON, no query, wrong parameter
  types, wrong content type) is a 4xx in both, always with a coded `errors` body.
- Persisted queries are resolved before execution (api.persisted); each request is counted
  in the metrics and named for the access log.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from cross_web import HTTPException, StarletteRequestAdapter
from graphql import GraphQLError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from api.errors import Refusal, RequestError, graphql_errors
from api.headers import header, media_type
from api.persisted import PersistedQueries
from api.uploads import MULTIPART, read_multipart
from core.metrics import observe_graphql
from core.settings import Settings
from domain.services.health import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE,
    UNAVAILABLE_MESSAGE,
    database_unavailable,
)
from schema.context import Context
from schema.errors import INVALID
from schema.prepared import PreparedQueries

log = logging.getLogger("lapor.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_CONTENT_TYPE = {GRAPHQL_RESPONSE: f"{GRAPHQL_RESPONSE}; charset=utf-8", JSON: f"{JSON}"}
# The response media type a media range stands for, and how specific the range is.
_RANGES = {
    GRAPHQL_RESPONSE: (GRAPHQL_RESPONSE, 2),
    JSON: (JSON, 2),
    "application/*": (JSON, 1),
    "*/*": (JSON, 0),
}
# A request error's status under application/graphql-response+json, by its code.
_REQUEST_ERROR_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "INTERNAL": 500,
    UNAVAILABLE: 503,
}
_CONTENT_TYPE_HEADER = {
    media: (b"content-type", value.encode()) for media, value in _CONTENT_TYPE.items()
}
_RETRY = {"Retry-After": str(RETRY_AFTER_SECONDS)}
_ALLOW = {"Allow": "GET, POST"}


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header: the client's preferred one of ours (a
    wildcard means application/json, as older clients expect); None when it accepts neither.
    No header means application/graphql-response+json (the spec, since 2025)."""
    if accept is None or not accept.strip():
        return GRAPHQL_RESPONSE
    single = _RANGES.get(accept)  # one plain range, as most clients send: nothing to parse
    if single is not None:
        return single[0]
    best: tuple[float, int, int] | None = None
    chosen = None
    for index, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found = _RANGES.get(media.lower())
        if found is None or quality <= 0:
            continue
        rank = (quality, found[1], -index)
        if best is None or rank > best:
            best, chosen = rank, found[0]
    return chosen


def _request_error(result: ExecutionResult) -> bool:
    """Nothing was executed: errors, no data, and none of them belongs to a field."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


def _codes(body: dict[str, Any]) -> list[str]:
    errors = body.get("errors")
    if not errors:  # the common case: no list made, no comprehension's frame entered
        return []
    return [str((error.get("extensions") or {}).get("code", "UNKNOWN")) for error in errors]


class _Answer(Response):
    """A response whose headers are given as bytes: Starlette's `__init__` would make them from
    a mapping, lower-case and encode each, and look for the two it adds (with the headers'
    wrapper for the sub-response's, about 4 % of `{ __typename }` under py-spy)."""

    def __init__(self, body: bytes, status: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.body = body
        self.status_code = status
        self.raw_headers = raw_headers
        self.background = None


async def _body(request: Request) -> bytes:
    """The request's body, as the server hands it over (one message, or several for a body
    sent in chunks): Starlette's `request.body()` reads it through an async generator, closed
    by `aclosing`, which was half of what reading a page's request cost. ClientDisconnect, as
    Starlette's, when the client left before all of it arrived (`Failures` lets it go)."""
    chunks: list[bytes] = []
    while True:
        message = await request.receive()
        if message["type"] != "http.request":  # http.disconnect
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _state(scope: Scope) -> dict[str, Any]:
    """The request's state (what `request.state` wraps, and what the access line reads), as
    its dict: Starlette's `State` raises and formats an AttributeError for a name it lacks."""
    state: dict[str, Any] | None = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    return state


class GraphQLOverHTTP(GraphQL[Context, None]):
    """Strawberry's ASGI view answering HTTP requests by the conventions above. A browser's
    visit gets the console (`render_graphql_ide`); WebSockets go through Strawberry's `run`."""

    def __init__(
        self, schema: BaseSchema, persisted: PersistedQueries, settings: Settings, **options: Any
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True, **options)
        self.persisted = persisted
        self.settings = settings
        # Queries that need not go through Strawberry's pipeline (schema/prepared.py).
        self.prepared: PreparedQueries | None = getattr(schema, "prepared", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        # The scope's method, not `request.method`: a property calling typing.cast, two Python
        # calls each of the three times a request asks.
        if scope["method"] == "GET" and self.should_render_graphql_ide(
            StarletteRequestAdapter(request)
        ):
            response = await self.render_graphql_ide(request)
        else:
            try:
                response = await self.answer(request)
            finally:  # an upload's files are spooled to disk: let them go with the request
                form = _state(scope).get("upload_form")
                if form is not None:
                    await form.close()
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET carrying only a persisted query's hash is an operation, not a visit.
        return super().should_render_graphql_ide(request) and (
            request.query_params.get("extensions") is None
        )

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def answer(self, request: Request) -> Response:
        """One GraphQL request over HTTP, answered by the conventions of this module."""
        started = time.perf_counter()
        media = negotiate(header(request.scope, b"accept"))
        context: Context | None = None
        try:
            if media is None:
                raise Refusal(
                    406, f"this endpoint answers {GRAPHQL_RESPONSE} or {JSON}: accept one of them"
                )
            if request.scope["method"] not in ("GET", "HEAD", "POST"):
                raise Refusal(405, "send operations by POST (queries also by GET)", headers=_ALLOW)
            data = await self._request_data(request)
            sub_response = await self.get_sub_response(request)
            try:
                context = await self.get_context(request, sub_response)
            except HTTPException as error:
                challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
                headers = challenge if error.status_code == 401 else {}
                raise Refusal(error.status_code, error.reason, headers=headers) from None
            except Exception as error:  # the token's user could not be read
                if not database_unavailable(error):
                    raise
                log.warning("database unavailable while signing a request in: %s", error)
                # Like an operation that ran into it: 503 by the spec, 200 for older clients.
                status = 200 if media == JSON else 503
                raise Refusal(status, UNAVAILABLE_MESSAGE, UNAVAILABLE, _RETRY) from None
            try:
                status, body, headers = await self._run(request, data, context, media)
            finally:
                context.release()
            response = self._respond(body, status, media, headers)
            response.raw_headers.extend(sub_response.raw_headers)
        except Refusal as refusal:
            body = graphql_errors(refusal.code, refusal.message, refusal.field)
            response = self._respond(body, refusal.status, media or JSON, refusal.headers)
        operation = context.operation_name if context is not None else None
        codes = _codes(body)
        observe_graphql(operation, response.status_code, time.perf_counter() - started, codes)
        _state(request.scope)["graphql"] = {"operation": operation, "errors": codes}
        return response

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        """What resolvers may add headers to (`info.context.response`): Strawberry's, without
        its Content-Length, made as an `_Answer` is."""
        return _Answer(b"", None, [])  # type: ignore[arg-type]  # no status of its own

    async def _request_data(self, request: Request) -> GraphQLRequestData:
        if request.scope["method"] == "POST":
            body_type = media_type(request.scope)
            if body_type == MULTIPART:
                data, _state(request.scope)["upload_form"] = await read_multipart(
                    request, self.settings
                )
            elif body_type != JSON:
                raise Refusal(
                    415,
                    "send the operation as JSON (Content-Type: application/json), or with files "
                    "as the GraphQL multipart request (multipart/form-data)",
                )
            else:
                try:
                    data = orjson.loads(await _body(request))
                except orjson.JSONDecodeError:
                    raise Refusal(400, "the request body is not valid JSON") from None
        else:
            try:
                data = self.parse_query_params(request.query_params)
            except HTTPException:
                raise Refusal(400, "`variables` and `extensions` must be JSON objects") from None
        if isinstance(data, list):
            raise Refusal(400, "batched operations are not accepted: send one per request")
        if not isinstance(data, dict):
            raise Refusal(400, "the request must be a JSON object with a `query`")
        for key, kind, shape in (
            ("query", str, "a string"),
            ("operationName", str, "a string"),
            ("variables", dict, "an object"),
            ("extensions", dict, "an object"),
        ):
            if data.get(key) is not None and not isinstance(data[key], kind):
                raise Refusal(400, f"`{key}` must be {shape} (or null)")
        return GraphQLRequestData(
            query=data.get("query"),
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
        )

    async def _run(
        self, request: Request, data: GraphQLRequestData, context: Context, media: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Status, body and extra headers of an operation that reached the schema."""
        try:
            resolved = await self.persisted.resolve(data, context.actor)
            result = None
            if self.prepared is not None and resolved.query is not None:
                result = await self.prepared.execute(
                    resolved.query, data.variables, data.operation_name, context, data.extensions
                )
            if result is None:
                result = await self.schema.execute(
                    resolved.query,
                    variable_values=data.variables,
                    context_value=context,
                    operation_name=data.operation_name,
                    allowed_operation_types=(
                        {OperationType.QUERY}
                        if request.scope["method"] == "GET"
                        else {OperationType.QUERY, OperationType.MUTATION}
                    ),
                    operation_extensions=data.extensions,
                )
        except RequestError as error:
            status = 200 if media == JSON else error.status
            return status, graphql_errors(error.code, error.message), error.headers
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.MUTATION:
                raise Refusal(
                    405, "mutations are accepted over POST only", headers={"Allow": "POST"}
                ) from None
            raise Refusal(
                400, "subscriptions are served over the WebSocket at this address"
            ) from None
        except CannotGetOperationTypeError as error:
            message = error.as_http_error_reason()
            return 200 if media == JSON else 400, graphql_errors(INVALID, message), {}
        except MissingQueryError:
            raise Refusal(
                400, "no `query`: send the operation's text or a persisted query's hash"
            ) from None
        unavailable = any(
            (error.extensions or {}).get("code") == UNAVAILABLE for error in result.errors or ()
        )
        retry = _RETRY if unavailable else {}
        if _request_error(result):
            body: dict[str, Any] = {"errors": [error.formatted for error in result.errors or ()]}
            status = 200 if media == JSON else self._request_error_status(result.errors)
            return status, body, retry
        if resolved.persist_as is not None and resolved.query is not None:
            await self.persisted.persist(resolved.persist_as, resolved.query)
        body = {"data": result.data}
        if result.errors:
            body["errors"] = [error.formatted for error in result.errors]
        if result.extensions:
            body["extensions"] = result.extensions
        if context.retry_after is not None:  # a rate limit refused the mutation
            limited = {"Retry-After": str(context.retry_after)}
            return 429 if media != JSON else 200, body, limited
        # The operation ran, but the database did not answer: not a success to retry later.
        return 503 if unavailable and media != JSON else 200, body, retry

    @staticmethod
    def _request_error_status(errors: list[GraphQLError] | None) -> int:
        code = (errors[0].extensions or {}).get("code") if errors else None
        return _REQUEST_ERROR_STATUS.get(str(code), 400)

    def _respond(
        self, body: dict[str, Any], status: int, media: str, headers: dict[str, str]
    ) -> Response:
        encoded = orjson.dumps(body)
        raw = [(b"content-length", str(len(encoded)).encode()), _CONTENT_TYPE_HEADER[media]]
        if headers:  # (most answers have none: no comprehension's frame for them)
            raw[:0] = [
                (n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers.items()
            ]
        return _Answer(encoded, status, raw)
