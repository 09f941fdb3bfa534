"""Refusals of the HTTP layer, before a request becomes a GraphQL operation or around it."""

from __future__ import annotations

from collections.abc import Mapping

# Codes of refusals that happen at the HTTP layer (the domain's codes are in domain.errors).
BAD_REQUEST = "BAD_REQUEST"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
CODE_OF_STATUS = {
    400: BAD_REQUEST,
    401: UNAUTHENTICATED,
    403: FORBIDDEN,
    405: METHOD_NOT_ALLOWED,
    406: NOT_ACCEPTABLE,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
}


class Refusal(Exception):
    """A request that is not a well-formed GraphQL-over-HTTP request (or may not be made):
    answered with `status` whatever the response media type."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        field: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODE_OF_STATUS.get(status, BAD_REQUEST)
        self.headers = dict(headers or {})
        self.field = field


class RequestError(Exception):
    """A GraphQL request error found before execution (persisted queries): 200 under
    `application/json`, `status` under `application/graphql-response+json`."""

    def __init__(
        self, code: str, message: str, status: int = 400, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers = dict(headers or {})


def graphql_errors(code: str, message: str, field: list[str] | None = None) -> dict[str, object]:
    """A GraphQL response body holding one coded error (naming the `field` at fault, if any)
    and no data."""
    extensions: dict[str, object] = {"code": code}
    if field:
        extensions["field"] = field
    return {"errors": [{"message": message, "extensions": extensions}]}
