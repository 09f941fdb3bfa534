"""JSON log lines for every process (API and workers), each carrying the current request id."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from core.requestctx import request_id

# The field of a log line that tells of a client answered INTERNAL.
INTERNAL_FIELD = "internal"
# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# How long a line made inside the event loop (an access line) waits by default to be written
# with the lines after it, in one write (`log_defer_seconds` in core/settings.py sets it for
# `lapor api`), and how many may wait at most (docs/adr/0050).
DEFER_SECONDS = 0.05
MAX_DEFERRED = 512


class _Stamps:
    """A record's time as `datetime.fromtimestamp(created, UTC).isoformat(timespec=
    "milliseconds")` writes it, the date and time of day made once per second: the datetime
    took 4 µs of an access line's 25 (the API writes one per request)."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        # The last second written and its text without the zone: one attribute, set at once,
        # for formatters that threads share.
        self.last: tuple[int | None, str] = (None, "")

    def __call__(self, created: float) -> str:
        # Rounded to the microsecond as datetime.fromtimestamp rounds (half to even, on the
        # fraction), then cut to the millisecond as isoformat cuts.
        fraction, whole = math.modf(created)
        micros = round(fraction * 1e6)
        second = int(whole)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        elif micros < 0:  # before 1970
            second, micros = second - 1, micros + 1_000_000
        last_second, prefix = self.last
        if second != last_second:
            moment = datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")
            prefix = moment[:-6]  # without its "+00:00"
            self.last = (second, prefix)
        return f"{prefix}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any `extra=`."""

    def __init__(self) -> None:
        super().__init__()
        self.stamp = _Stamps()

    def format(self, record: logging.LogRecord) -> str:
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            getattr(record, "request_id", None) or request_id.get(),
            ((key, value) for key, value in vars(record).items() if key not in _STANDARD),
            exc,
        )

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        message: str,
        rid: str | None,
        fields: Iterable[tuple[str, Any]],
        exc: str | None = None,
    ) -> str:
        """The line of a record with these attributes and `fields` (its `extra=`), with the request
        id `rid` if any. Fields named as the line's own are left out."""
        line: dict[str, Any] = {
            "ts": self.stamp(created),
            "level": level.lower(),
            "logger": logger,
            "msg": message,
        }
        if rid:
            line["request_id"] = rid
        for key, value in fields:
            if key not in line:
                line[key] = value
        if exc is not None:
            line["exc"] = exc
        try:
            return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # what orjson refuses (an integer beyond 64 bits): the slower way
            return json.dumps(line, default=str, ensure_ascii=False)


class _Deferred(NamedTuple):
    """A line to write later, as it was when it was logged."""

    created: float
    rid: str | None
    logger: str
    level: int
    message: str
    fields: dict[str, Any]


# Every JsonLines made, so that the lines still waiting can be written when a process's service
# ends: uvicorn ends the process by the signal it caught, without `atexit`.
_HANDLERS: weakref.WeakSet[JsonLines] = weakref.WeakSet()


class JsonLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The service's handler: its records as JsonFormatter's lines to a stream (stderr). Made,
    the process's records are lean (`lean_records`): dictConfig makes it in every process it
    configures (each of uvicorn's workers too). Lines made without a record inside the event
    loop (`log_fields`) wait up to `defer_seconds` to go out with the others in one write (none
    wait when it is 0); any other line and a flush write them first, so the stream keeps their
    order."""

    def __init__(self, stream: Any = None, defer_seconds: float = DEFER_SECONDS) -> None:
        super().__init__(stream)
        lean_records()
        self.setFormatter(JsonFormatter())
        self.defer_seconds = defer_seconds
        self._deferred: list[_Deferred] = []
        # The loop whose timer will write the deferred lines (None: no timer set).
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        _HANDLERS.add(self)

    def write_line(self, line: str) -> bool:
        """Write a line as `emit` writes a record's (under the handler's lock, then flushed);
        False when the stream refused it (the caller then logs it as a record, and logging
        reports the failure as it reports any)."""
        self.acquire()
        try:
            if self._deferred:
                self.write_deferred()
            self.stream.write(line + self.terminator)
            self.stream.flush()
        except Exception:
            return False
        finally:
            self.release()
        return True

    def defer_line(self, loop: asyncio.AbstractEventLoop, deferred: _Deferred) -> None:
        """Write `deferred` within `defer_seconds`, with the lines deferred meanwhile (at once
        when MAX_DEFERRED wait): `loop` (running this call) sets the timer."""
        self.acquire()  # (another thread may be writing the lines waiting: none is lost)
        try:
            self._deferred.append(deferred)
            if len(self._deferred) >= MAX_DEFERRED:
                self.write_deferred()
            elif self._timer_loop is not loop:
                # (A timer on another loop may never fire: that loop may have ended.)
                self._timer_loop = loop
                loop.call_later(self.defer_seconds, self.write_deferred)
        finally:
            self.release()

    def write_deferred(self) -> None:
        """Write the deferred lines now, in one write; a stream that refuses them is reported
        as logging reports a record it could not write."""
        self.acquire()
        try:
            deferred, self._deferred = self._deferred, []
            self._timer_loop = None
            if not deferred:
                return
            formatter = self.formatter
            assert isinstance(formatter, JsonFormatter)  # (`_sole_line_handler` saw to it)
            line = formatter.line
            text = "".join(
                line(
                    d.created,
                    logging.getLevelName(d.level),
                    d.logger,
                    d.message,
                    d.rid,
                    d.fields.items(),
                )
                + self.terminator
                for d in deferred
            )
            try:
                self.stream.write(text)
                self.stream.flush()
            except Exception:
                first = deferred[0]
                self.handleError(
                    logging.LogRecord(first.logger, first.level, "", 0, first.message, None, None)
                )
        finally:
            self.release()

    def emit(self, record: logging.LogRecord) -> None:
        if self._deferred:
            self.write_deferred()
        super().emit(record)

    def flush(self) -> None:
        if self._deferred:
            self.write_deferred()
        super().flush()


def write_deferred_lines() -> None:
    """Write every line still waiting in this process (its service is ending)."""
    for handler in list(_HANDLERS):
        handler.write_deferred()


def _sole_line_handler(logger: logging.Logger, level: int) -> JsonLines | None:
    """The handler a record of `logger` at `level` would reach, when it reaches one only, it is
    the service's own (`JsonLines`, with its JSON formatter) and no filter stands on the way;
    else None."""
    if logger.disabled or logger.filters or not logger.isEnabledFor(level):
        return None
    found: logging.Handler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if found is not None:
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    if type(found) is not JsonLines or found.filters or level < found.level:
        return None
    if type(found.formatter) is not JsonFormatter:
        return None
    return found


def log_fields(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """`logger.log(level, message, extra=fields)`, the same line, at a fraction of the cost when
    it goes to the service's own handler only (a service process's access lines: the record,
    its dispatch and its formatting were 15 % of what `{ __typename }` cost): the line is made
    by the handler's formatter from the fields, without a LogRecord, and inside the event loop
    written with the lines of the next moment (`JsonLines.defer_line`). `message` is not
    %-formatted, as a record with no arguments is not; `fields` must not change afterwards."""
    handler = _sole_line_handler(logger, level)
    if handler is not None:
        created, rid = time.time(), request_id.get()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside the event loop (a command, a test): written now
            loop = None
        if loop is not None and handler.defer_seconds > 0:
            handler.defer_line(loop, _Deferred(created, rid, logger.name, level, message, fields))
            return
        formatter = handler.formatter
        assert isinstance(formatter, JsonFormatter)  # (JsonLines sets it)
        line = formatter.line(
            created, logging.getLevelName(level), logger.name, message, rid, fields.items()
        )
        if handler.write_line(line):
            return
    logger.log(level, message, extra=fields)


def log_internal(logger: logging.Logger, message: str, *args: object, error: BaseException) -> None:
    """Log, with its stack, a failure the client is answered INTERNAL for: a bug of ours. The
    line carries `"internal": true`, by which operators find them and tests insist on none
    (tests/conftest.py)."""
    logger.error(message, *args, exc_info=error, extra={INTERNAL_FIELD: True})


def is_internal(record: logging.LogRecord) -> bool:
    """Whether a log record tells of a client answered INTERNAL."""
    return bool(getattr(record, INTERNAL_FIELD, False))


# What uvicorn logs when an exception escapes the application (a bare 500, no request id).
ESCAPED = "Exception in ASGI application"


def is_internal_line(line: str) -> bool:
    """Whether a line of a process's log tells of a client answered INTERNAL, or of an
    exception that escaped the application (what operators and the tests look for)."""
    if ESCAPED in line:
        return True
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get(INTERNAL_FIELD) is True


def lean_records() -> None:
    """Make log records without what no line of ours shows (the logging HOWTO's
    "Optimization"): the caller's file and line (a walk up the stack for every record), the
    thread, the process and its name (a system call for each). For the service's processes;
    the test suite keeps them, for pytest's report of where a line came from."""
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def configure_logging(level: int = logging.INFO) -> None:
    """Send every logger's lines, as JSON, to stderr (replacing earlier handlers)."""
    root = logging.getLogger()
    root.handlers[:] = [JsonLines()]
    root.setLevel(level)


def uvicorn_log_config(level: str = "INFO", defer_seconds: float = DEFER_SECONDS) -> dict[str, Any]:
    """`configure_logging` as a dictConfig for uvicorn, which applies it in every worker
    process it starts; its own access lines are off (the API writes one JSON line per request,
    each waiting up to `defer_seconds` to be written with the next ones)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"stderr": {"class": "core.logs.JsonLines", "defer_seconds": defer_seconds}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }
