"""Log lines of clients answered INTERNAL, and the safety net of the test suite that insists on
none (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import logs
from core.logs import (
    DEFER_SECONDS,
    JsonFormatter,
    JsonLines,
    log_fields,
    log_internal,
    write_deferred_lines,
)
from core.requestctx import request_id
from tests.safety_net import InternalAnswers, internal_verdict


def _isolated() -> logging.Logger:
    """A logger of its own: what it logs must not reach this test's own net."""
    logger = logging.getLogger("lapor.test-net")
    logger.propagate = False
    return logger


def _provoked(also: str | None = None) -> list[logging.LogRecord]:
    """What the net collects when a bug is answered INTERNAL (and `also` logged as an error)."""
    collector = InternalAnswers()
    logger = _isolated()
    logger.addHandler(collector)
    try:
        try:
            raise RuntimeError("a bug")
        except RuntimeError as error:
            log_internal(logger, "unexpected error at %s", "/graphql", error=error)
        if also:
            logger.error(also)
    finally:
        logger.removeHandler(collector)
    return collector.records


def test_an_internal_answer_is_logged_with_its_stack_and_marked() -> None:
    (record,) = _provoked(also="an error that answered nobody INTERNAL")
    line = json.loads(JsonFormatter().format(record))
    assert line["internal"] is True and line["level"] == "error"
    assert "RuntimeError: a bug" in line["exc"]


def test_the_net_fails_a_test_that_saw_one_unless_it_is_marked() -> None:
    records = _provoked()
    verdict = internal_verdict(records, provoked=False)
    assert verdict is not None and "RuntimeError('a bug')" in verdict
    assert internal_verdict(records, provoked=True) is None
    assert internal_verdict([], provoked=False) is None
    assert internal_verdict([], provoked=True) is not None  # a mark that no longer holds


def test_a_line_is_one_json_object_whatever_the_fields_hold() -> None:
    """Fields passed with `extra=` of any type make one parseable line: datetimes, keys that are
    not strings, objects without a JSON form, and integers beyond 64 bits (the slower path)."""
    from datetime import UTC, datetime

    record = logging.LogRecord("lapor.access", logging.INFO, "", 1, "%s %s", ("GET", "/"), None)
    record.at = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    record.counts = {7: "seven"}
    record.thing = object()
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "GET /" and line["level"] == "info" and line["logger"] == "lapor.access"
    assert line["at"].startswith("2026-11-30") and line["counts"] == {"7": "seven"}
    assert line["thing"].startswith("<object object")
    record.huge = 2**80
    assert json.loads(JsonFormatter().format(record))["huge"] == 2**80


def test_a_service_process_logs_json_lines_from_lean_records() -> None:
    """`lapor api`'s log config (and so each of uvicorn's workers) makes records without the
    caller, thread or process, which no line shows; the lines keep every field they show."""
    import subprocess
    import sys

    script = (
        "import logging, logging.config\n"
        "from core.logs import uvicorn_log_config\n"
        "logging.config.dictConfig(uvicorn_log_config())\n"
        "logging.getLogger('lapor.access').info('%s %s', 'GET', '/', extra={'status': 200})\n"
        "print(logging._srcfile, logging.logThreads, logging.logProcesses)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["None", "False", "False"]
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["msg"] == "GET /" and line["status"] == 200 and line["logger"] == "lapor.access"
    assert line["level"] == "info" and line["ts"].endswith("+00:00")
    assert "pathname" not in line and "process" not in line


@given(st.floats(min_value=-(10**9), max_value=4 * 10**9, allow_nan=False))
def test_a_line_is_stamped_as_its_datetime_would_write_it(created: float) -> None:
    stamp = JsonFormatter().stamp
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert stamp(created) == expected
    assert stamp(created) == expected  # the second's text made before


def test_stamps_within_a_second_and_across_seconds() -> None:
    stamp = JsonFormatter().stamp
    for created in (1764561600.0, 1764561600.9994999, 1764561600.9999996, 1764561601.0005, -0.25):
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert stamp(created) == expected, created


# ------------------------------------------------------------- lines without records


def _service_logger(
    stream: io.StringIO, defer_seconds: float = DEFER_SECONDS
) -> tuple[logging.Logger, JsonLines]:
    """A logger of its own whose lines go to the service's handler only, into `stream`."""
    logger = logging.getLogger("lapor.test-lines")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = JsonLines(stream, defer_seconds)
    logger.handlers[:] = [handler]
    return logger, handler


class _Refusing(io.StringIO):
    """A stream whose disk is full."""

    def write(self, text: str) -> int:
        raise OSError("disk full")


FIELDS = {"method": "POST", "path": "/graphql", "status": 200, "duration_ms": 1.5, "n": {7: 1}}


def test_a_line_without_a_record_is_the_line_logging_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`log_fields` writes, without a LogRecord, the bytes the logger itself would write for
    the same message and fields at the same instant (the request id from the context)."""
    monkeypatch.setattr(time, "time", lambda: 1764561600.4567)
    token = request_id.set("abc123")
    try:
        stream = io.StringIO()
        logger, _ = _service_logger(stream)
        log_fields(logger, logging.INFO, "POST /graphql 200", FIELDS)
        direct = stream.getvalue()
        stream.seek(0)
        stream.truncate()
        logger.info("POST /graphql 200", extra=FIELDS)
        assert direct == stream.getvalue()
        line = json.loads(direct)
        assert line["request_id"] == "abc123" and line["status"] == 200
        assert line["ts"] == "2025-12-01T04:00:00.456+00:00"
    finally:
        request_id.reset(token)


def test_a_line_goes_through_logging_when_another_handler_or_a_filter_would_see_it() -> None:
    """Another handler on the way (a test's capture, an operator's file), a filter, a level
    that drops it: the record is logged as `logger.log` would log it, and they see it."""
    stream = io.StringIO()
    logger, handler = _service_logger(stream)
    seen: list[logging.LogRecord] = []

    class Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    other = Seen()
    logger.addHandler(other)
    log_fields(logger, logging.INFO, "two handlers", FIELDS)
    logger.removeHandler(other)
    assert [r.getMessage() for r in seen] == ["two handlers"] and seen[0].status == 200  # type: ignore[attr-defined]
    assert json.loads(stream.getvalue())["msg"] == "two handlers"

    stream.truncate(0)
    stream.seek(0)
    logger.addFilter(lambda record: record.getMessage() != "filtered")
    log_fields(logger, logging.INFO, "filtered", FIELDS)
    logger.filters.clear()
    assert stream.getvalue() == ""

    handler.setLevel(logging.WARNING)
    log_fields(logger, logging.INFO, "below the handler's level", FIELDS)
    handler.setLevel(logging.NOTSET)
    logger.setLevel(logging.WARNING)
    log_fields(logger, logging.INFO, "below the logger's level", FIELDS)
    assert stream.getvalue() == ""


def test_a_stream_that_refuses_a_line_is_reported_as_logging_reports_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger, _ = _service_logger(_Refusing())
    log_fields(logger, logging.INFO, "nowhere to go", FIELDS)  # does not raise
    assert "OSError: disk full" in capsys.readouterr().err


# ------------------------------------------------------------- lines written together


async def test_lines_made_in_the_event_loop_are_written_together_soon_and_as_made_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inside the event loop a line waits up to DEFER_SECONDS and goes out with the others in
    one write, each the bytes it would have been written as at once: its time and request id
    are the moment's it was logged at, not the write's."""
    stream = io.StringIO()
    logger, _ = _service_logger(stream)
    writes: list[str] = []
    real_write = stream.write
    monkeypatch.setattr(stream, "write", lambda text: writes.append(text) or real_write(text))
    made_at = iter([1764561600.25, 1764561600.5, 1764561601.75])
    monkeypatch.setattr(time, "time", lambda: next(made_at))
    for rid in ("first", None, "third"):
        token = request_id.set(rid)
        try:
            log_fields(logger, logging.INFO, f"line of {rid}", {**FIELDS, "rid": rid})
        finally:
            request_id.reset(token)
    assert stream.getvalue() == ""  # not yet
    await asyncio.sleep(DEFER_SECONDS * 3)
    assert len(writes) == 1  # one write for the three

    at_once = io.StringIO()
    logger, _ = _service_logger(at_once)
    for rid, created in (("first", 1764561600.25), (None, 1764561600.5), ("third", 1764561601.75)):
        monkeypatch.setattr(time, "time", lambda created=created: created)
        token = request_id.set(rid)
        try:
            await asyncio.to_thread(  # outside the loop: written at once, as before
                log_fields, logger, logging.INFO, f"line of {rid}", {**FIELDS, "rid": rid}
            )
        finally:
            request_id.reset(token)
    assert stream.getvalue() == at_once.getvalue()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("request_id") for line in lines] == ["first", None, "third"]
    assert lines[2]["ts"] == "2025-12-01T04:00:01.750+00:00"


async def test_a_record_logged_meanwhile_comes_after_the_lines_deferred_before_it() -> None:
    stream = io.StringIO()
    logger, _ = _service_logger(stream)
    log_fields(logger, logging.INFO, "deferred", FIELDS)
    logger.warning("a warning")
    log_fields(logger, logging.INFO, "deferred after", FIELDS)
    assert [json.loads(line)["msg"] for line in stream.getvalue().splitlines()] == [
        "deferred",
        "a warning",
    ]
    await asyncio.sleep(DEFER_SECONDS * 3)
    assert json.loads(stream.getvalue().splitlines()[-1])["msg"] == "deferred after"


async def test_lines_waiting_are_written_when_the_service_ends_or_too_many_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    logger, handler = _service_logger(stream)
    log_fields(logger, logging.INFO, "waiting", FIELDS)
    write_deferred_lines()  # the API's lifespan ends (uvicorn's process then ends by a signal)
    assert json.loads(stream.getvalue())["msg"] == "waiting"

    stream.truncate(0)
    stream.seek(0)
    log_fields(logger, logging.INFO, "waiting for a flush", FIELDS)
    handler.flush()  # logging.shutdown's, at exit
    assert json.loads(stream.getvalue())["msg"] == "waiting for a flush"

    monkeypatch.setattr(logs, "MAX_DEFERRED", 3)
    stream.truncate(0)
    stream.seek(0)
    for n in range(3):
        log_fields(logger, logging.INFO, f"burst {n}", FIELDS)
    assert len(stream.getvalue().splitlines()) == 3  # at once, without the timer


async def test_none_wait_when_the_service_says_so() -> None:
    """LAPOR_LOG_DEFER_SECONDS=0 (core/settings.py): each line is written as it is made."""
    stream = io.StringIO()
    logger, _ = _service_logger(stream, defer_seconds=0)
    log_fields(logger, logging.INFO, "at once", FIELDS)
    assert json.loads(stream.getvalue())["msg"] == "at once"


def test_a_line_left_by_a_loop_that_ended_goes_out_with_the_next_loops_lines() -> None:
    """A loop may end before its timer fires (a test's, a command's): its lines wait for the
    next loop's timer, and keep their order."""
    stream = io.StringIO()
    logger, _ = _service_logger(stream)

    async def log(message: str, wait: float) -> None:
        log_fields(logger, logging.INFO, message, FIELDS)
        await asyncio.sleep(wait)

    asyncio.run(log("of a loop that ended", 0))
    assert stream.getvalue() == ""
    asyncio.run(log("of the next loop", DEFER_SECONDS * 3))
    assert [json.loads(line)["msg"] for line in stream.getvalue().splitlines()] == [
        "of a loop that ended",
        "of the next loop",
    ]


async def test_a_stream_that_refuses_deferred_lines_is_reported_as_logging_reports_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger, _ = _service_logger(_Refusing())
    log_fields(logger, logging.INFO, "nowhere to go", FIELDS)
    await asyncio.sleep(DEFER_SECONDS * 3)  # the timer's write fails, and does not raise
    assert "OSError: disk full" in capsys.readouterr().err
