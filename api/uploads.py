"""The GraphQL multipart request (github.com/jaydenseric/graphql-multipart-request-spec), what
Apollo Client, urql and Relay upload clients send: an `operations` field (the JSON request,
its files as nulls), a `map` field (which file goes to which variable path), then the files.

Bounded like every input (docs/adr/0024): at most LAPOR_UPLOAD_MAX_FILES files, the JSON
fields within LAPOR_MAX_BODY_BYTES, and the whole body within `upload_body_limit` (the body
limit middleware, api/middleware.py). What a file is and whether it is too large is decided
later, by its bytes (domain/services/attachments.py), not by its name or declared type.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from api.errors import Refusal
from core.settings import Settings
from domain.errors import ErrorCode

TOO_MANY_FILES = ErrorCode.TOO_MANY_FILES.value

MULTIPART = "multipart/form-data"
# Where uploads go: only there is a body as large as `upload_body_limit` accepted.
GRAPHQL_PATH = "/graphql"
# Above the files themselves: the JSON fields and the parts' headers.
_ENVELOPE_BYTES = 256 * 1024


def upload_body_limit(settings: Settings) -> int:
    """The largest multipart body accepted: every file at its largest, plus the JSON fields."""
    return (
        settings.upload_max_files * settings.upload_max_file_bytes
        + settings.max_body_bytes
        + _ENVELOPE_BYTES
    )


async def read_multipart(request: Request, settings: Settings) -> tuple[dict[str, Any], FormData]:
    """The operation of a multipart request with its files put where `map` says, and the form
    (the caller closes it once the operation ran: its files are spooled to disk)."""
    try:
        form = await request.form(
            # One more than allowed, so that too many files are told apart from other faults.
            max_files=settings.upload_max_files + 1,
            max_fields=2,
            max_part_size=settings.max_body_bytes,
        )
    except (MultiPartException, HTTPException) as error:
        # (Inside an application, Starlette turns its parser's refusals into HTTPException.)
        detail = error.message if isinstance(error, MultiPartException) else error.detail
        raise Refusal(400, f"the multipart request could not be read: {detail}") from None
    files = sum(isinstance(value, UploadFile) for _, value in form.multi_items())
    if files > settings.upload_max_files:
        await form.close()
        raise Refusal(
            400, f"at most {settings.upload_max_files} files at once", code=TOO_MANY_FILES
        )
    try:
        return _operation(form), form
    except BaseException:
        await form.close()
        raise


def _operation(form: FormData) -> dict[str, Any]:
    operations = _json_field(form, "operations")
    if isinstance(operations, list):
        raise Refusal(400, "batched operations are not accepted: send one per request")
    if not isinstance(operations, dict):
        raise Refusal(400, "`operations` must be a JSON object with a `query`")
    files_map = _json_field(form, "map")
    if not isinstance(files_map, dict):
        raise Refusal(400, "`map` must be a JSON object of file fields to paths")
    used = set()
    for name, paths in files_map.items():
        file = form.get(name)
        if not isinstance(file, UploadFile):
            raise Refusal(400, f"`map` names the file {name!r}, which the request does not carry")
        if not isinstance(paths, list) or not paths:
            raise Refusal(400, f"`map` must give a list of paths for the file {name!r}")
        for path in paths:
            _place(operations, path, file)
        used.add(name)
    extra = [k for k, v in form.multi_items() if isinstance(v, UploadFile) and k not in used]
    if extra:
        raise Refusal(400, f"the files {sorted(extra)} are not named in `map`")
    return operations


def _json_field(form: FormData, name: str) -> Any:
    value = form.get(name)
    if not isinstance(value, str):
        raise Refusal(400, f"a multipart request needs the `{name}` field (JSON), before the files")
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise Refusal(400, f"the `{name}` field is not valid JSON") from None


def _place(operations: dict[str, Any], path: object, file: UploadFile) -> None:
    """Put `file` at `path` (e.g. "variables.input.attachments.0"), where the operation has a
    null: a file goes into the variables only, never over a value the client sent."""
    if not isinstance(path, str) or not path.startswith("variables."):
        raise Refusal(400, f"a file's path must be within `variables`, not {path!r}")
    *parents, last = path.split(".")
    node: Any = operations
    for step in parents:
        node = _step(node, step, path)
    if isinstance(node, dict) and node.get(last, 0) is None:
        node[last] = file
    elif (
        isinstance(node, list)
        and last.isdigit()
        and int(last) < len(node)
        and (node[int(last)] is None)
    ):
        node[int(last)] = file
    else:
        raise Refusal(400, f"the path {path!r} does not lead to a null in `operations`")


def _step(node: Any, step: str, path: str) -> Any:
    if isinstance(node, dict) and isinstance(node.get(step), dict | list):
        return node[step]
    if isinstance(node, list) and step.isdigit() and int(step) < len(node):
        return node[int(step)]
    raise Refusal(400, f"the path {path!r} does not lead to a null in `operations`")
