"""The in-process broker behind the console's live updates: a helpdesk service (the flow, the actions
and the scheduler publish; the console's WebSocket, handoff.console.live_views, subscribes).

The flow (through ``FlowDeps.notify``) and console actions publish small events carrying ids only; each
open console WebSocket has a queue and re-reads what it shows with its own session, so an event never
carries personal data to a browser that may not see it. One broker per web process: processes without
console clients (worker, clock) publish through handoff.relay, whose follower feeds each broker.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

QUEUE_SIZE = 256


@dataclass(frozen=True, slots=True)
class LiveEvent:
    name: str
    data: dict[str, Any]


@dataclass(slots=True)
class Broker:
    _queues: set[asyncio.Queue[LiveEvent]] = field(default_factory=set)

    def publish(self, name: str, data: dict[str, Any]) -> None:
        """Synchronous on purpose: the flow calls it as a plain callback, from inside the event loop."""
        event = LiveEvent(name, dict(data))
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A stalled browser loses events rather than growing memory; it re-reads on the next one.
                log.debug("console live queue full; event %s dropped for one client", name)

    def subscribe(self) -> asyncio.Queue[LiveEvent]:
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LiveEvent]) -> None:
        self._queues.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._queues)
