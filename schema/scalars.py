"""The DateTime scalar, written as Strawberry's is (its `isoformat()`), at a third of the cost.

`datetime.isoformat()` of an aware datetime takes about 2 µs here; an inbox page of fifty writes
two hundred of them. orjson, which writes every response (api/http.py, and the WebSocket
transport through the same `encode_json`), writes a UTC datetime as the same text in a tenth
of that. So a UTC datetime (all that the database and `datetime.now(UTC)` give) leaves the
executor as it is, for the writer; anything else (another zone, a subclass, a naive value) is
written by `isoformat()` itself. A result's data is therefore JSON for orjson, not for the
standard library's `json` (docs/adr/0041). Reading DateTime inputs is Strawberry's, unchanged.
tests/schema/test_scalars.py holds the written text to `isoformat()`'s.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from strawberry.schema.types.base_scalars import DateTimeDefinition

from schema.compiled.hints import output_as_is


@output_as_is(datetime, tzinfo=UTC)
def datetime_output(value: Any) -> datetime | str:
    """What the response's JSON holds for a DateTime: a UTC datetime as it is (orjson writes
    it as `value.isoformat()`), any other value's `isoformat()`."""
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    return str(value.isoformat())


DATETIME = dataclasses.replace(DateTimeDefinition, serialize=datetime_output, implementation=None)
