"""The read path's pages in one process, in Python bytecodes: how many each request runs,
Lapor's against its floor's, and which of Lapor's functions run most of them; and how many
times a request enters a Python function (a call, or a coroutine resumed).

An instruction of the interpreter's costs more time than one of asyncpg's or orjson's C: each
bytecode is an indirect jump, and `bench.instructions --simulate` counts twice as many
mispredicted branches per request for Lapor as for the floor. Bytecodes are the figure that
follows that cost, and they say where it goes by function. The bench serves both apps as
`bench.request_cpu` does (same database, roles and pages; each page's bytes compared first,
unequal pages not counted). Then it counts `--requests` requests of each with a trace function
that hears every bytecode (`sys.settrace`, opcode events) and every frame entered (call
events). A frame entered costs more than its bytecodes: it is set up and torn down, and each
function is code the processor's caches and branch predictor must hold (`{ __typename }`
costs Lapor four times the floor's time for less than three times the instructions). The
counts do not depend on the machine's speed, except that a coroutine runs a few bytecodes more
and is entered again each time it is resumed, and how often it waits for the database depends
on when the answer arrives. Tracing slows the process down twenty times or
more, so a few dozen requests are enough, and the window in which a query's connection waits
parked for the next query is stretched by as much.

    .venv/bin/python -m bench.bytecodes [--keep DIR] [--reports 1000000] [--requests 20]
        [--only inbox50,report] [--top 25]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from bench.read_path import Filled
from bench.request_cpu import Call, comparable_pages, page_options, run_filled, served

_ROOT = str(Path(__file__).resolve().parent.parent) + "/"
TRACING_SLOWDOWN = 100  # more than tracing every bytecode slows the process down


class _Counting:
    """A trace function counting the bytecodes each function (file, name) runs, and the frames
    entered."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.entered: Counter[tuple[str, str]] = Counter()

    def __call__(self, frame: FrameType, event: str, _: Any) -> _Counting:
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        if event == "opcode":
            code = frame.f_code
            self.counts[code.co_filename, code.co_name] += 1
        elif event == "call":
            code = frame.f_code
            self.entered[code.co_filename, code.co_name] += 1
        return self


async def _counted(call: Call, request: tuple[bytes, dict[bytes, bytes], str], n: int) -> _Counting:
    body, headers, path = request
    for _ in range(10):  # caches and plans made, as when counting instructions
        await call(body, path, headers)
    counting = _Counting()
    sys.settrace(counting)
    try:
        for _ in range(n):
            await call(body, path, headers)
    finally:
        sys.settrace(None)
    return counting


def _where(filename: str) -> str:
    """A function's file as this repository names it, or its library's."""
    if filename.startswith(_ROOT):
        return filename[len(_ROOT) :]
    return filename.rpartition("site-packages/")[2] or filename


async def run(url: str, redis_url: str, filled: Filled, args: argparse.Namespace) -> int:
    async with served(url, redis_url, TRACING_SLOWDOWN) as (lapor, floor, token):
        pages, failed = await comparable_pages(args.only, filled, lapor, floor, token)
        print(f"bytecodes per request in one process, {args.requests} requests of each")
        for scenario, body, headers in pages:
            floors = await _counted(floor, (body, headers, scenario.floor_path), args.requests)
            lapors = await _counted(lapor, (body, headers, "/graphql"), args.requests)
            per_floor = sum(floors.counts.values()) / args.requests
            per_lapor = sum(lapors.counts.values()) / args.requests
            frames_floor = sum(floors.entered.values()) / args.requests
            frames_lapor = sum(lapors.entered.values()) / args.requests
            print(
                f"{scenario.name}: floor {per_floor:,.0f}, Lapor {per_lapor:,.0f}, "
                f"floor/Lapor {per_floor / per_lapor:.3f}; frames entered: floor "
                f"{frames_floor:,.0f}, Lapor {frames_lapor:,.0f} "
                f"({frames_floor / frames_lapor:.3f}); Lapor's functions that run most "
                "(bytecodes, frames entered):"
            )
            for key, count in lapors.counts.most_common(args.top):
                entered = lapors.entered[key] / args.requests
                print(
                    f"  {count / args.requests:>9,.0f} {entered:>6,.0f}  {key[1]}  "
                    f"({_where(key[0])})"
                )
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_options(parser, requests=20)
    parser.add_argument("--top", type=int, default=25)
    run_filled(run, parser.parse_args())


if __name__ == "__main__":
    main()
