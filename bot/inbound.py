"""Store-then-process for inbound messages: the provider gets its answer once the message is stored.

A webhook (WhatsApp, Telegram) or the mail poller calls ``InboundWorker.accept``, which runs the flow's
store step (``bot.flow.store_inbound``) and queues the message's turn; the turn (``process_inbound``:
directory lookup, classification, replies through the outbox) runs here afterwards. One user's messages
run one at a time in arrival order; different users run side by side, at most ``concurrency`` at once.

Nothing depends on this process staying up: a message is stored with ``processed_at`` empty, so start-up
and a periodic sweep pick up whatever a crashed or stopped process left, and the turn's atomic claim
(``Message.claimed_at``) makes sure a message runs once even when the sweep, this queue and another app
process all reach for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from bot.channels.base import InboundMessage
from bot.flow import CLAIM_LEASE, FlowDeps, HandleResult, process_inbound, store_inbound
from models import Direction, Message

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (channel, the user's address on it)

# Turns running at once. Each holds the database for a few queries at a time; on SQLite that is one
# connection, so more than a few only lengthens the queue the webhooks' store step waits in.
DEFAULT_CONCURRENCY = 4
SWEEP_INTERVAL = 30.0  # seconds
# The sweep leaves younger messages alone: they are normally still queued in the process that stored
# them (its order is the user's order), and only an orphan gets this old unprocessed.
SWEEP_GRACE = timedelta(minutes=1)
SWEEP_BATCH = 500
STOP_TIMEOUT = 10.0  # seconds given to running turns at shutdown; the rest resume at the next start


class InboundWorker:
    def __init__(self, deps: FlowDeps, *, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.deps = deps
        self._slots = asyncio.Semaphore(concurrency)
        self._queues: dict[Key, deque[int]] = {}
        self._drainers: dict[Key, asyncio.Task[None]] = {}
        self._queued: set[int] = set()

    async def accept(self, message: InboundMessage) -> HandleResult:
        """Store the message and queue its turn; returns as soon as it is durable."""
        result = await store_inbound(message, self.deps)
        if result.message_id is not None:
            self.enqueue((message.channel.value, message.external_id), result.message_id)
        return result

    def enqueue(self, key: Key, message_id: int) -> None:
        if message_id in self._queued:
            return
        self._queued.add(message_id)
        self._queues.setdefault(key, deque()).append(message_id)
        if key not in self._drainers:
            self._drainers[key] = asyncio.create_task(self._drain(key), name=f"inbound-{message_id}")

    async def _drain(self, key: Key) -> None:
        queue = self._queues[key]
        try:
            while queue:
                message_id = queue[0]
                async with self._slots:
                    try:
                        await process_inbound(message_id, self.deps, key=key)
                    except Exception:  # one failed turn must not stop this user's later messages
                        log.exception("inbound message %s: turn failed", message_id)
                queue.popleft()
                self._queued.discard(message_id)
        finally:
            # No await between the last ``while queue`` check and here, so nothing is enqueued unseen.
            del self._drainers[key]
            if not queue:
                del self._queues[key]

    @property
    def backlog(self) -> int:
        """Messages queued or running in this process."""
        return len(self._queued)

    async def idle(self) -> None:
        """Wait until every queued turn has run (tests, benchmarks, shutdown)."""
        while self._drainers:
            await asyncio.gather(*list(self._drainers.values()), return_exceptions=True)

    async def resume(self, *, older_than: timedelta | None = None) -> int:
        """Queue stored messages whose turn never ran (or whose run died). Returns how many were queued."""
        now = datetime.now(UTC)
        rows = Message.filter(direction=Direction.INBOUND, processed_at=None).filter(
            Q(claimed_at=None) | Q(claimed_at__lt=now - CLAIM_LEASE)
        )
        if older_than is not None:
            rows = rows.filter(created_at__lt=now - older_than)
        found = (
            await rows.order_by("id")
            .limit(SWEEP_BATCH)
            .values_list("id", "channel", "conversation__identity__external_id")
        )
        queued = 0
        for message_id, channel, address in found:
            if message_id not in self._queued:
                self.enqueue((str(channel), str(address)), int(message_id))
                queued += 1
        if queued:
            log.info("resumed %d stored inbound message(s) whose turn had not run", queued)
        return queued

    @asynccontextmanager
    async def running(self, *, interval: float = SWEEP_INTERVAL) -> AsyncIterator[InboundWorker]:
        """Resume at start-up, sweep every ``interval`` seconds, and let running turns finish at the end."""
        await self.resume()

        async def sweep() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.resume(older_than=SWEEP_GRACE)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database blip must not end the sweeps
                    log.exception("inbound sweep failed")

        sweeper = asyncio.create_task(sweep(), name="inbound-sweep")
        try:
            yield self
        finally:
            sweeper.cancel()
            with suppress(asyncio.CancelledError):
                await sweeper
            try:
                await asyncio.wait_for(self.idle(), STOP_TIMEOUT)
            except TimeoutError:
                # Cancelled turns keep their claim; the next start runs them after the lease.
                log.warning("stopping with %d inbound message(s) still queued", self.backlog)
                for task in list(self._drainers.values()):
                    task.cancel()
                await asyncio.gather(*list(self._drainers.values()), return_exceptions=True)
