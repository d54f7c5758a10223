"""Receive-then-process for inbound messages: the provider gets its answer once the delivery is kept.

Three steps, each durable before the next:

1. **Receive** (``InboundWorker.accept``, what a webhook awaits): one INSERT of the delivery into the
   ``inbox`` table. Its unique (channel, provider id) key turns a concurrent or repeated delivery into a
   no-op at the door. Nothing else (directory, classifier, contact lookup) sits between the provider and
   its 200, so the answer stays fast however busy the turns are.
2. **Store** (``bot.flow.store_inbound``): find or create the contact, identity and conversation, and
   insert the ``Message`` unprocessed; the inbox row is marked stored. The messages table's own unique
   key catches a re-delivery that comes after the receipt was pruned.
3. **Turn** (``bot.flow.process_inbound``): directory lookup, classification, replies through the outbox.

Steps 2 and 3 run here, after the answer: one sender's messages one at a time in arrival order, different
senders side by side, at most ``concurrency`` at once. The mail poller skips step 1 (``at_once``): no
provider waits on it, and its attachments need the message row at once.

Nothing depends on this process staying up: start-up and a periodic sweep pick up whatever a crashed or
stopped process left (receipts not stored, messages not processed), and the turn's atomic claim
(``Message.claimed_at``) makes sure a message runs once even when the sweep, this queue and another app
process all reach for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from bot.channels.base import FetchesFiles, InboundMessage
from bot.flow import CLAIM_LEASE, FlowDeps, HandleResult, process_inbound, store_inbound
from models import ChannelKind, Direction, InboxEntry, Message

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (channel, the user's address on it)
# What a sender's queue holds: a receipt still to be stored, or a stored message whose turn is due.
Item = tuple[Literal["inbox", "message"], int]

# Items worked on at once. Each holds the database for a few queries at a time; on SQLite that is one
# connection shared with the webhooks' receipts, so more only lengthens the line a receipt waits in.
DEFAULT_CONCURRENCY = 2
# A worker process has no webhooks to keep waiting, so it runs more at once (more turns per second).
WORKER_CONCURRENCY = 4
SWEEP_INTERVAL = 30.0  # seconds
# How often a worker process looks for new receipts: the delay a message waits before its turn starts.
WORKER_POLL = 0.2  # seconds
# The sweep leaves younger rows alone: they are normally still queued in the process that received
# them (its order is the user's order), and only an orphan gets this old untouched.
SWEEP_GRACE = timedelta(minutes=1)
SWEEP_BATCH = 500
STOP_TIMEOUT = 10.0  # seconds given to running turns at shutdown; the rest resume at the next start
# A receipt that fails to store this often is left in the inbox, with its error, for the operator.
MAX_STORE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a webhook learns: whether this delivery was new. The message itself is stored afterwards."""

    duplicate: bool
    inbox_id: int | None


def encode(message: InboundMessage) -> str:
    return json.dumps(
        {
            "channel": message.channel.value,
            "external_id": message.external_id,
            "provider_message_id": message.provider_message_id,
            "text": message.text,
            "received_at": message.received_at.isoformat(),
            "display_name": message.display_name,
            "phone": message.phone,
            "email": message.email,
            "language_hint": message.language_hint,
            "raw": dict(message.raw),
        },
        ensure_ascii=False,
        default=str,  # the raw payload is for audit: a value JSON lacks is kept as its text
    )


def decode(payload: str) -> InboundMessage:
    data: dict[str, Any] = json.loads(payload)
    raw: Mapping[str, Any] = data.get("raw") or {}
    return InboundMessage(
        channel=ChannelKind(data["channel"]),
        external_id=data["external_id"],
        provider_message_id=data["provider_message_id"],
        text=data["text"],
        received_at=datetime.fromisoformat(data["received_at"]),
        display_name=data.get("display_name") or "",
        phone=data.get("phone"),
        email=data.get("email"),
        language_hint=data.get("language_hint"),
        raw=raw,
    )


async def receive(message: InboundMessage, *, db: BaseDBAsyncClient | None = None) -> Receipt:
    """Keep one delivery: the single write a webhook waits for (on ``db``, models.Database.receipts)."""
    try:
        entry = await InboxEntry.create(
            using_db=db,
            channel=message.channel,
            provider_message_id=message.provider_message_id,
            address=message.external_id,
            payload=encode(message),
            received_at=datetime.now(UTC),
        )
    except IntegrityError:  # a re-delivery, or the same delivery racing in on another connection
        log.info("duplicate %s delivery ignored", message.channel.value)
        return Receipt(duplicate=True, inbox_id=None)
    return Receipt(duplicate=False, inbox_id=entry.id)


class InboundWorker:
    def __init__(
        self, deps: FlowDeps, *, concurrency: int = DEFAULT_CONCURRENCY, receipts: BaseDBAsyncClient | None = None,
        runs_turns: bool = True,
    ) -> None:
        """``runs_turns=False``: a web process beside a ``carecenter worker``; it only keeps receipts, and
        the worker finds them in the inbox."""
        self.deps = deps
        self._receipts = receipts
        self.runs_turns = runs_turns
        self._slots = asyncio.Semaphore(concurrency)
        self._queues: dict[Key, deque[Item]] = {}
        self._drainers: dict[Key, asyncio.Task[None]] = {}
        self._queued: set[Item] = set()

    async def accept(self, message: InboundMessage, *, at_once: bool = False) -> Receipt | HandleResult:
        """Keep the message and queue its turn; returns as soon as it is durable.

        ``at_once`` stores it as a message before returning (the mail poller: its attachments are kept on
        the message row straight after, and no provider is waiting)."""
        key = (message.channel.value, message.external_id)
        if at_once:
            result = await store_inbound(message, self.deps)
            if result.message_id is not None:
                self.enqueue(key, ("message", result.message_id))
            return result
        receipt = await receive(message, db=self._receipts)
        if receipt.inbox_id is not None and self.runs_turns:
            self.enqueue(key, ("inbox", receipt.inbox_id))
        return receipt

    def enqueue(self, key: Key, item: Item) -> None:
        if item in self._queued:
            return
        self._queued.add(item)
        self._queues.setdefault(key, deque()).append(item)
        if key not in self._drainers:
            self._drainers[key] = asyncio.create_task(self._drain(key), name=f"inbound-{item[0]}-{item[1]}")

    async def _drain(self, key: Key) -> None:
        queue = self._queues[key]
        try:
            while queue:
                item = queue[0]
                async with self._slots:
                    try:
                        await self._run(item, key)
                    except Exception:  # one failed item must not stop this user's later messages
                        log.exception("inbound %s %s: turn failed", *item)
                queue.popleft()
                self._queued.discard(item)
        finally:
            # No await between the last ``while queue`` check and here, so nothing is enqueued unseen.
            del self._drainers[key]
            if not queue:
                del self._queues[key]

    async def _run(self, item: Item, key: Key) -> None:
        kind, row_id = item
        message_id = await self._store(row_id) if kind == "inbox" else row_id
        if message_id is not None:
            await process_inbound(message_id, self.deps, key=key)

    async def _store(self, inbox_id: int) -> int | None:
        """Turn a receipt into a stored message. Returns the message to run, or None (a duplicate, a
        receipt another process stored already, or a failure recorded on the receipt)."""
        entry = await InboxEntry.get_or_none(id=inbox_id)
        if entry is None or entry.stored_at is not None:
            return None
        attempts = entry.attempts + 1
        try:
            message = decode(entry.payload)
            result = await store_inbound(message, self.deps)
        except Exception as exc:
            await InboxEntry.filter(id=inbox_id).update(attempts=attempts, error=f"{type(exc).__name__}: {exc}"[:500])
            if attempts >= MAX_STORE_ATTEMPTS:
                log.exception("inbox %s could not be stored after %d tries; left in the inbox", inbox_id, attempts)
                return None
            raise
        await InboxEntry.filter(id=inbox_id).update(
            stored_at=datetime.now(UTC), message_id=result.message_id, attempts=attempts, error=None
        )
        if result.message_id is not None:
            channel = self.deps.registry.get(message.channel)
            if isinstance(channel, FetchesFiles):
                channel.fetch_files(message)
        return result.message_id

    @property
    def backlog(self) -> int:
        """Receipts and messages queued or running in this process."""
        return len(self._queued)

    async def idle(self) -> None:
        """Wait until every queued item has run (tests, benchmarks, shutdown)."""
        while self._drainers:
            await asyncio.gather(*list(self._drainers.values()), return_exceptions=True)

    async def resume(self, *, older_than: timedelta | None = None, first_tries_only: bool = False) -> int:
        """Queue what a stopped or crashed process left: stored messages whose turn never ran (or whose
        run died), then receipts never stored. Returns how many were queued.

        ``first_tries_only``: only what nobody has tried yet (the worker process's frequent look for new
        receipts); what failed once waits for the slower sweep, so a failing message is not hammered."""
        now = datetime.now(UTC)
        messages = Message.filter(direction=Direction.INBOUND, processed_at=None).filter(
            Q(claimed_at=None) | Q(claimed_at__lt=now - CLAIM_LEASE)
        )
        receipts = InboxEntry.filter(stored_at=None, attempts__lt=MAX_STORE_ATTEMPTS)
        if older_than is not None:
            messages = messages.filter(created_at__lt=now - older_than)
            receipts = receipts.filter(received_at__lt=now - older_than)
        if first_tries_only:
            messages = messages.filter(attempts=0)
            receipts = receipts.filter(attempts=0)
        found: list[tuple[Item, Key]] = [
            (("message", int(row_id)), (str(channel), str(address)))
            # Id order: processed_at is NULL in every row found, so ordering by it first changes nothing but
            # the plan. Ordered by id alone, PostgreSQL walked every message ever sent by id, expecting a
            # quarter of them unprocessed inbound ones (outbound rows have no processed_at either); this
            # order only the index on (direction, processed_at, id) gives, reading just the unprocessed.
            for row_id, channel, address in await messages.order_by("processed_at", "id")
            .limit(SWEEP_BATCH)
            .values_list("id", "channel", "conversation__identity__external_id")
        ]
        # A sender's unstored receipts are younger than their stored messages: queued after them.
        found += [
            (("inbox", int(row_id)), (str(channel), str(address)))
            for row_id, channel, address in await receipts.order_by("id")
            .limit(SWEEP_BATCH)
            .values_list("id", "channel", "address")
        ]
        queued = 0
        for item, key in found:
            if item not in self._queued:
                self.enqueue(key, item)
                queued += 1
        if queued:
            log.info("resumed %d inbound item(s) left unprocessed", queued)
        return queued

    @asynccontextmanager
    async def running(
        self, *, interval: float = SWEEP_INTERVAL, poll: float | None = None
    ) -> AsyncIterator[InboundWorker]:
        """Resume at start-up, sweep every ``interval`` seconds, and let running turns finish at the end.

        ``poll``: also look for new receipts and messages every ``poll`` seconds. A ``carecenter worker``
        needs it: the webhooks that keep the receipts run in another process and queue nothing here."""
        await self.resume()

        async def sweep(every: float, grace: timedelta | None, *, first_tries_only: bool) -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await self.resume(older_than=grace, first_tries_only=first_tries_only)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database blip must not end the sweeps
                    log.exception("inbound sweep failed")

        sweepers = [asyncio.create_task(sweep(interval, SWEEP_GRACE, first_tries_only=False), name="inbound-sweep")]
        if poll is not None:
            sweepers.append(asyncio.create_task(sweep(poll, None, first_tries_only=True), name="inbound-poll"))
        try:
            yield self
        finally:
            for sweeper in sweepers:
                sweeper.cancel()
                with suppress(asyncio.CancelledError):
                    await sweeper
            try:
                await asyncio.wait_for(self.idle(), STOP_TIMEOUT)
            except TimeoutError:
                # Cancelled turns keep their claim; the next start runs them after the lease.
                log.warning("stopping with %d inbound item(s) still queued", self.backlog)
                for task in list(self._drainers.values()):
                    task.cancel()
                await asyncio.gather(*list(self._drainers.values()), return_exceptions=True)
