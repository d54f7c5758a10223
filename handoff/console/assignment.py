"""Automatic assignment in the web process: the rules are handoff.assignment's; this runs them while the
app runs, woken by hand-offs and availability changes, and every minute."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from handoff.assignment import Assigner
from handoff.console.lifecycle import run_while_serving
from handoff.live import Broker, LiveEvent

log = logging.getLogger(__name__)

TRIGGERS = frozenset({"ticket.opened", "user.available"})
SWEEP_EVERY = 60.0  # seconds

TASK = web.AppKey("assignment_task", asyncio.Task[None])


def run_assignment(app: web.Application, *, assigner: Assigner, broker: Broker, clock: Callable[[], datetime]) -> None:
    """Run assignment while the app runs, woken by hand-offs and availability changes, and every minute."""

    async def loop(queue: asyncio.Queue[LiveEvent]) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                event = await asyncio.wait_for(queue.get(), SWEEP_EVERY)
                if event.name not in TRIGGERS:
                    continue
            try:
                now = clock()
                changed = await assigner.run_round(now=now)
                if changed:
                    broker.publish("ticket.assigned", {"count": changed})
            except Exception:  # one failed round must not stop assignment for the day
                log.exception("automatic assignment round failed")

    def start() -> asyncio.Task[None]:
        queue = broker.subscribe()
        task = asyncio.create_task(loop(queue))
        task.add_done_callback(lambda _task: broker.unsubscribe(queue))
        return task

    run_while_serving(app, TASK, start)
