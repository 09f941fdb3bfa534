"""A lean HTTP/1.1 load generator for the benchmarks: N keep-alive connections, each sending
the next request as soon as the previous answer arrived (a closed loop, as `wrk -cN` does).

It spends a few tens of microseconds per request (pre-encoded requests, no HTTP library), so
on a 2-core machine nearly all the CPU is left to the server it measures. Each answer's status
and body are handed to a check, which decides whether it counts as an error.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Check = Callable[[int, bytes], str | None]


def post(
    url: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> bytes:
    """The bytes of a keep-alive POST to `url` (JSON unless told, e.g. a multipart body with
    its boundary)."""
    parts = urlsplit(url)
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Type: {content_type}",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def get(url: str, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of a keep-alive GET of `url` (path and query)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Accept: application/json",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Result:
    """What one load run saw: latencies (seconds) of the answers within the window, errors."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None
    # The server's CPU (user and system) over the window, when its process was named.
    server_cpu: float | None = None

    @property
    def cpu_per_answer(self) -> float | None:
        """The server's CPU seconds per answer in the window (None when not measured)."""
        if self.server_cpu is None or not self.answered:
            return None
        return self.server_cpu / self.answered

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def record(self, latency: float, status: int, body: bytes, check: Check | None) -> None:
        """One answer: its latency, and the problem `check` finds in it, if any."""
        self.latencies.append(latency)
        problem = check(status, body) if check else None
        if problem is not None:
            self.errors[problem] = self.errors.get(problem, 0) + 1
            if self.first_error is None:
                self.first_error = body[:500].decode(errors="replace")

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> str:
        errors = sum(self.errors.values())
        mean = statistics.fmean(self.latencies) if self.latencies else float("nan")
        line = (
            f"{self.rate:8.1f} req/s   mean {mean * 1000:6.1f} ms   p50 "
            f"{self.quantile(0.5) * 1000:6.1f} ms   p99 {self.quantile(0.99) * 1000:6.1f} ms   "
            f"max {max(self.latencies, default=0) * 1000:6.1f} ms   errors {errors}"
        )
        cpu = self.cpu_per_answer
        if cpu is None or self.server_cpu is None:
            return line
        busy = self.server_cpu / self.seconds
        return f"{line}   server CPU {cpu * 1e6:6.0f} µs/answer ({busy:.2f} busy)"


_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """The CPU seconds (user and system) process `pid` has used, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, bytes(body)
        body += chunk[:-2]


async def run(
    url: str,
    requests: Sequence[bytes],
    *,
    connections: int,
    seconds: float,
    warmup: float = 0.0,
    check: Check | None = None,
    server_pid: int | None = None,
) -> Result:
    """Keep `connections` connections busy for `warmup + seconds`, cycling through `requests`;
    answers that arrive within the last `seconds` are measured, and, given the server's
    process, the CPU it used meanwhile (to the clock's tick: 10 ms)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    started = time.perf_counter()
    window_start = started + warmup
    window_end = window_start + seconds
    result = Result(seconds)

    async def server_cpu(pid: int) -> None:
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        before = process_cpu(pid)
        await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
        result.server_cpu = process_cpu(pid) - before

    async def client(index: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        sent = index
        try:
            while True:
                now = time.perf_counter()
                if now >= window_end:
                    return
                writer.write(requests[sent % len(requests)])
                sent += connections
                status, body = await _read_response(reader)
                done = time.perf_counter()
                if done < window_start or done > window_end:
                    continue
                result.record(done - now, status, body, check)
        finally:
            writer.close()

    sampling = [server_cpu(server_pid)] if server_pid is not None else []
    await asyncio.gather(*(client(i) for i in range(connections)), *sampling)
    return result


async def repeat(url: str, request: bytes, count: int, check: Check | None = None) -> Result:
    """`count` requests one after the other over one keep-alive connection: each answer alone,
    with nothing else in flight from this client."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 80)
    started = time.perf_counter()
    result = Result(0.0)
    try:
        for _ in range(count):
            sent = time.perf_counter()
            writer.write(request)
            status, body = await _read_response(reader)
            result.record(time.perf_counter() - sent, status, body, check)
    finally:
        writer.close()
    result.seconds = time.perf_counter() - started
    return result
