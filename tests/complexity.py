"""Complexity guards: how the cost of a routine grows with its input, compared within one run.

Not a speed figure (those come from benchmarks/): a routine that is linear costs about 10 times as much
for 10 times the input, one that is quadratic about 100 times. Costs are the best of several runs in CPU
time of this thread (``time.thread_time``), so other processes on a loaded machine barely move them, and
the bound is wide (``slack`` times linear) and checked up to three times before it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

FACTOR = 10
SLACK = 3.0
# Timer resolution and constant costs: a routine this cheap at 10x the input is not worth a ratio.
FLOOR = 0.0005  # seconds


def best_cost(fn: Callable[[Any], object], arg: Any, *, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        fn(arg)
        best = min(best, time.thread_time() - start)
    return best


def assert_linear(fn: Callable[[Any], object], make: Callable[[int], Any], size: int, *, what: str = "") -> None:
    """``fn(make(FACTOR * size))`` costs at most SLACK times FACTOR times ``fn(make(size))`` (plus FLOOR)."""
    small, large = make(size), make(FACTOR * size)
    ratio = 0.0
    for _ in range(3):
        base = best_cost(fn, small, repeat=7)
        big = best_cost(fn, large, repeat=3)
        if big <= SLACK * FACTOR * base + FLOOR:
            return
        ratio = big / base if base else float("inf")
    raise AssertionError(f"{what or fn.__name__}: {FACTOR}x the input cost {ratio:.0f}x (linear: about {FACTOR}x)")


def repeat_to(unit: str) -> Callable[[int], str]:
    """A text of exactly n characters made of ``unit`` over and over."""
    def make(n: int) -> str:
        return (unit * (n // len(unit) + 1))[:n]
    return make


class LoopWatch:
    """While watching: the most CPU time the event loop's thread spent in one go, between two of this
    watcher's turns; what every other request (``/healthz`` among them) waited at worst. CPU time of that
    thread, not wall time, so other processes on a busy machine do not move it; work handed to other
    threads (the database driver's, ``asyncio.to_thread``) does not count, as it does not hold the loop."""

    def __init__(self, tick: float = 0.001) -> None:
        self.tick = tick
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        last = time.thread_time()
        while True:
            await asyncio.sleep(self.tick)
            now = time.thread_time()
            self.longest = max(self.longest, now - last)
            last = now

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._watch())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
