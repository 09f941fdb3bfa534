"""bench/load.py's closed-loop load against a real HTTP server in a process of its own: the
answers it counts, and the CPU the server spent on each when its process is named."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench import load

# A server that spends 2 ms of its own CPU on each request before answering "ok".
_SERVER = r"""
import asyncio, time

async def answer(reader, writer):
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            break
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and int(value):
                await reader.readexactly(int(value))
        busy_until = time.process_time() + 0.002
        while time.process_time() < busy_until:
            pass
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""

CPU_PER_REQUEST = 0.002


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    process = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/", process.pid
    finally:
        process.kill()
        process.wait()


def _ok(status: int, body: bytes) -> str | None:
    return None if status == 200 and body == b"ok" else f"{status} {body!r}"


async def test_the_server_s_cpu_per_answer_is_what_it_spent(server: tuple[str, int]) -> None:
    url, pid = server
    request = load.post(url, b"{}")
    measured = await load.run(
        url, [request], connections=4, seconds=1.5, warmup=0.3, check=_ok, server_pid=pid
    )
    assert measured.answered > 50 and not measured.errors
    cpu = measured.cpu_per_answer
    assert cpu is not None
    # Its 2 ms, plus what answering costs, within the clock's tick over the window.
    assert CPU_PER_REQUEST * 0.8 <= cpu <= CPU_PER_REQUEST * 2, cpu
    assert "server CPU" in measured.summary()

    unnamed = await load.run(url, [request], connections=2, seconds=0.3, check=_ok)
    assert unnamed.answered > 0 and unnamed.cpu_per_answer is None
    assert "server CPU" not in unnamed.summary()
