"""The read path's pages in one process, in instructions: what a request costs Lapor against its
floor, as valgrind's callgrind counts the instructions this process runs.

`bench/request_cpu.py` measures CPU time, which on this shared two-core machine moves by a fifth
between runs of the same code: a change of a few per cent cannot be told from the drift. An
instruction count does not drift: the same code gives the same count to a few tenths of a per
cent. The bench re-runs itself under `valgrind --tool=callgrind` with counting off, serves both
apps as `bench.request_cpu` does (same database, roles and pages; each page's bytes compared
first, unequal pages not counted), and for each page counts `--requests` requests of the floor,
then of Lapor, after a warm-up, switching counting on and off around them with
`callgrind_control`. What switching costs is counted once with no requests and taken off.
PostgreSQL runs in processes of its own and is not counted.

Instructions are not time (a cache miss costs more than an instruction): floor/Lapor here is
not what pages a second would be. It is the figure to compare two commits by, Lapor's count per
request above all. Needs valgrind (`apt-get install valgrind`); under it the process runs a
hundred times slower or more, so a few dozen requests per page are enough.

`--simulate` also runs callgrind's simulated caches and branch predictor, and prints each
page's mispredicted branches and first-level cache misses per request: what makes an
instruction of Lapor's cost more time than one of the floor's.

`--dumps DIR` keeps callgrind's dumps there, one per page and server (`callgrind_annotate
--inclusive=yes DUMP` shows which C functions the instructions went to: the interpreter, asyncpg's
decoding, orjson).

    .venv/bin/python -m bench.instructions [--keep DIR] [--reports 1000000] [--requests 50]
        [--only inbox50,report] [--dumps DIR] [--simulate]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from bench.read_path import SCENARIOS, Filled
from bench.request_cpu import Call, comparable_pages, page_options, run_filled, served

CALIBRATION = "calibration"
# More than callgrind slows the process down (with 100, the inbox of fifty's parked connection
# still went back to the pool between two requests).
VALGRIND_SLOWDOWN = 1000
_PIPES = "LAPOR_BENCH_CONTROL_FDS"  # the counted process's ends of the two pipes


class _Controller:
    """Inside callgrind: asks the bench's outer process to switch counting (a line each way over
    two pipes) and waits for its answer. This process is blocked in a read while callgrind
    switches, so what it runs around a switch is the same every time (a `callgrind_control`
    run from here would count its own fork, by more or less depending on when the switch
    came)."""

    def __init__(self, asks: int, answers: int) -> None:
        self.asks = os.fdopen(asks, "w", buffering=1)
        self.answers = os.fdopen(answers, "r")

    def __call__(self, *arguments: str) -> None:
        self.asks.write("\t".join(arguments) + "\n")  # a dump's label has spaces
        answer = self.answers.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"callgrind_control {' '.join(arguments)}: {answer}")


def _serve_controls(pid: int, asks: IO[str], answers: IO[str]) -> None:
    """Outside callgrind: run each switch the counted process asks for, answering each."""
    for line in asks:
        command = line.rstrip("\n").split("\t")
        done = subprocess.run(
            ["callgrind_control", *command, str(pid)], capture_output=True, text=True, timeout=600
        )
        reply = "ok" if done.returncode == 0 else (done.stderr or done.stdout).replace("\n", " ")
        answers.write(reply + "\n")
        answers.flush()


async def _counted(
    control: _Controller,
    label: str,
    call: Call | None,
    request: tuple[bytes, dict[bytes, bytes], str],
    n: int,
) -> None:
    """`n` requests counted from zero and dumped as `label` (none for the calibration)."""
    body, headers, path = request
    control("-z")
    control("-i", "on")
    if call is not None:
        for _ in range(n):
            await call(body, path, headers)
    control("-i", "off")
    control("-d", label)


async def _count(url: str, redis_url: str, filled: Filled, args: argparse.Namespace) -> int:
    """Inside callgrind: each page's requests counted, floor's then Lapor's."""
    control = _Controller(*(int(fd) for fd in os.environ[_PIPES].split(",")))
    async with served(url, redis_url, VALGRIND_SLOWDOWN) as (lapor, floor, token):
        pages, failed = await comparable_pages(args.only, filled, lapor, floor, token)
        await _counted(control, CALIBRATION, None, (b"", {}, ""), 0)
        for scenario, body, headers in pages:
            for who, call, path in (
                ("floor", floor, scenario.floor_path),
                ("Lapor", lapor, "/graphql"),
            ):
                for _ in range(10):
                    await call(body, path, headers)
                label = f"{scenario.name} {who}"
                await _counted(control, label, call, (body, headers, path), args.requests)
    return failed


# What `--simulate` adds to each page's figures: callgrind's simulated caches and branch
# predictor, in events per request (summed over the events named).
SIMULATED = {
    "mispredicted branches": ("Bcm", "Bim"),
    "L1 instruction misses": ("I1mr",),
    "L1 data misses": ("D1mr", "D1mw"),
}


def _dumps(directory: Path) -> dict[str, tuple[dict[str, int], Path]]:
    """The event totals of each dump callgrind wrote in `directory` (instructions as `Ir`), and
    the dump, by label."""
    found: dict[str, tuple[dict[str, int], Path]] = {}
    for dump in directory.glob("callgrind.out.*.*"):
        label, events, totals = None, [], []
        for line in dump.read_text().splitlines():
            if line.startswith("desc: Trigger: ") and " dump " in line:
                label = line.split(" dump ", 1)[1].strip()
            elif line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("totals:"):
                totals = [int(n) for n in line.split()[1:]]
        if label is not None and totals:
            found[label] = (dict(zip(events, totals, strict=False)), dump)
    return found


def _report(dumps: dict[str, tuple[dict[str, int], Path]], requests: int, kept: bool) -> None:
    found = {label: totals for label, (totals, _) in dumps.items()}
    calibration = found.pop(CALIBRATION, {})

    def per_request(label: str, names: tuple[str, ...]) -> float | None:
        totals = found.get(label)
        if totals is None or any(name not in totals for name in names):
            return None
        return sum(totals[name] - calibration.get(name, 0) for name in names) / requests

    print(
        f"instructions per request in one process (callgrind), {requests} requests of each, "
        f"less {calibration.get('Ir', 0):,} for switching counting on and off"
    )
    rows = [("instructions", ("Ir",)), *SIMULATED.items()]
    for figure, names in rows:
        lines = []
        for scenario in SCENARIOS:
            floor = per_request(f"{scenario.name} floor", names)
            lapor = per_request(f"{scenario.name} Lapor", names)
            if floor is not None and lapor is not None:
                lines.append(
                    f"{scenario.name:<10} {floor:>12,.0f} {lapor:>12,.0f} {floor / lapor:>12.3f}"
                )
        if lines:
            if figure != "instructions":
                print(f"{figure} per request (simulated):")
            print(f"{'page':<10} {'floor':>12} {'Lapor':>12} {'floor/Lapor':>12}")
            print("\n".join(lines))
    if kept:
        print("callgrind's dumps:")
        for label, (_, dump) in sorted(dumps.items()):
            if label != CALIBRATION:
                print(f"  {label:<16} {dump}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_options(parser, requests=50)
    parser.add_argument("--dumps", type=Path, help="keep callgrind's dumps in this directory")
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="also count simulated cache misses and mispredicted branches (slower)",
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        run_filled(_count, args)
    valgrind = shutil.which("valgrind")
    if valgrind is None or shutil.which("callgrind_control") is None:
        raise SystemExit("needs valgrind and callgrind_control: apt-get install valgrind")
    asks_read, asks_write = os.pipe()
    answers_read, answers_write = os.pipe()
    with contextlib.ExitStack() as stack:
        if args.dumps is not None:
            args.dumps.mkdir(parents=True, exist_ok=True)
            directory = str(args.dumps)
            for old in args.dumps.glob("callgrind.out.*"):  # another run's, not to be read
                old.unlink()
        else:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="lapor-callgrind-"))
        inside = subprocess.Popen(
            [
                valgrind,
                "--quiet",
                "--tool=callgrind",
                "--instr-atstart=no",
                *(["--cache-sim=yes", "--branch-sim=yes"] if args.simulate else []),
                f"--callgrind-out-file={directory}/callgrind.out.%p",
                sys.executable,
                "-m",
                "bench.instructions",
                "--inside",
                f"--reports={args.reports}",
                f"--keep={args.keep}",
                f"--requests={args.requests}",
                f"--only={args.only}",
            ],
            pass_fds=(asks_write, answers_read),
            env={**os.environ, _PIPES: f"{asks_write},{answers_read}"},
        )
        os.close(asks_write)
        os.close(answers_read)
        with os.fdopen(asks_read) as asks, os.fdopen(answers_write, "w") as answers:
            _serve_controls(inside.pid, asks, answers)  # until the counted process ends
        returncode = inside.wait()
        _report(_dumps(Path(directory)), args.requests, kept=args.dumps is not None)
    raise SystemExit(returncode)


if __name__ == "__main__":
    main()
