"""Cleaning an uploaded photo (domain/media.py): the time and memory `clean` takes for a phone's
12-megapixel JPEG, and `thumbnail` for its stored copy.

The photo is made here: 4000x3000, a gradient under coloured noise so that it compresses to
about 4 MB at quality 90, as a phone's does, with the EXIF a phone writes (camera, GPS,
orientation 6, so the stored copy is turned). `clean` and then `thumbnail` of its result are
each run `--runs` times after one warm-up, one call after the other in this process; the table
gives p50 and p99 of each. Memory, for one call of each in a fresh child process (so that
making the photo does not raise the high-water mark first): the tracemalloc peak (Python's
allocations only, so mostly the bytes in and out, since Pillow's pixel buffers are allocated in
C) and the growth of the process's peak resident set (VmHWM, as ru_maxrss would be were it not
carried over from the parent), which sees them.

    .venv/bin/python -m bench.media [--runs 20]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from domain.media import CleanFile, MediaLimits, clean, thumbnail

SIZE = (4000, 3000)
FIELD = ["evidence"]
LIMITS = MediaLimits()


def phone_photo() -> bytes:
    """About 4 MB of JPEG: noise does not compress, the gradient does."""
    noise = Image.merge("RGB", [Image.effect_noise(SIZE, sigma) for sigma in (40, 50, 60)])
    gradient = Image.linear_gradient("L").resize(SIZE).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "KameraMaker"
    exif[0x0110] = "PhoneModel-XZ9"
    exif[0x0112] = 6
    exif[0x8825] = {1: "S", 2: (8.0, 10.0, 21.0), 3: "E", 4: (113.0, 41.0, 56.0)}
    buffer = io.BytesIO()
    Image.blend(gradient, noise, 0.22).save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def _step(name: str, data: bytes) -> Callable[[], CleanFile]:
    """The call that `name` times: `data` is the upload for clean, the stored copy for
    thumbnail."""
    if name == "clean":
        return lambda: clean(data, FIELD, LIMITS)
    return lambda: thumbnail(data, LIMITS.thumbnail_side)


def _times_ms(call: Callable[[], CleanFile], runs: int) -> list[float]:
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def _p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[98]


def _memory_of_one_call(path: Path, step: str) -> dict[str, float]:
    """In this (child) process: one call of `step` on the file in `path`, MB."""
    call = _step(step, path.read_bytes())
    rss_before = peak_rss_kib()
    tracemalloc.start()
    call()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"tracemalloc": peak / 1e6, "rss": (peak_rss_kib() - rss_before) * 1024 / 1e6}


def peak_rss_kib(pid: int | None = None) -> int:
    """The resident-set high-water mark of process `pid` (default: this one). Linux keeps
    ru_maxrss across exec, so a child's would start at its parent's; VmHWM belongs to the
    process's own memory map."""
    status = Path(f"/proc/{pid or 'self'}/status")
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    if pid is not None:
        raise RuntimeError(f"no VmHWM in {status}")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _memory_in_child(data: bytes, step: str) -> dict[str, float]:
    with tempfile.NamedTemporaryFile() as file:
        file.write(data)
        file.flush()
        answer = subprocess.run(
            [sys.executable, "-m", "bench.media", "--memory-of", step, "--file", file.name],
            check=True,
            capture_output=True,
            text=True,
        )
    memory: dict[str, float] = json.loads(answer.stdout)
    return memory


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_of:
        print(json.dumps(_memory_of_one_call(args.file, args.memory_of)))
        return

    photo = phone_photo()
    stored = clean(photo, FIELD, LIMITS)
    small = thumbnail(stored.data, LIMITS.thumbnail_side)
    print(
        f"a {SIZE[0]}x{SIZE[1]} JPEG of {len(photo):,} bytes with EXIF (GPS, orientation 6); "
        f"stored {stored.width}x{stored.height}, {len(stored.data):,} bytes; thumbnail "
        f"{small.width}x{small.height}, {len(small.data):,} bytes; {args.runs} runs each"
    )
    print(f"{'step':<10} {'p50':>9} {'p99':>9} {'tracemalloc peak':>17} {'peak RSS growth':>16}")
    for step, data in (("clean", photo), ("thumbnail", stored.data)):
        times = _times_ms(_step(step, data), args.runs)
        memory = _memory_in_child(data, step)
        print(
            f"{step:<10} {statistics.median(times):>7.1f}ms {_p99(times):>7.1f}ms "
            f"{memory['tracemalloc']:>14.1f} MB {memory['rss']:>13.1f} MB"
        )


if __name__ == "__main__":
    main()
