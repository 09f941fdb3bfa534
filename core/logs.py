"""JSON log lines for every process (API and workers), each carrying the current request id."""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from typing import Any

import orjson

from core.requestctx import request_id

# The field of a log line that tells of a client answered INTERNAL.
INTERNAL_FIELD = "internal"
# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


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
        line: dict[str, Any] = {
            "ts": self.stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            line["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # what orjson refuses (an integer beyond 64 bits): the slower way
            return json.dumps(line, default=str, ensure_ascii=False)


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


def json_formatter() -> JsonFormatter:
    """The JSON formatter of a service process's log config, making its records lean: dictConfig
    calls this in every process it configures (each of uvicorn's workers too)."""
    lean_records()
    return JsonFormatter()


def configure_logging(level: int = logging.INFO) -> None:
    """Send every logger's lines, as JSON, to stderr (replacing earlier handlers)."""
    handler = logging.StreamHandler()
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """`configure_logging` as a dictConfig for uvicorn, which applies it in every worker
    process it starts; its own access lines are off (the API writes one JSON line per request)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "core.logs.json_formatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }
