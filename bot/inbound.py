"""Receive-then-process for inbound messages: the provider gets its answer once the delivery is kept.

Three steps, each durable before the next:

1. **Receive** (``InboundWorker.accept``, what a webhook awaits): one INSERT of the delivery into the
   ``inbox`` table. Its unique (channel, provider id) key turns a concurrent or repeated delivery into a
   no-op at the door. Nothing else (directory, classifier, contact lookup) sits between the provider and
   its 200, so the answer stays fast however busy the turns are.
2. **Store** (``bot.conversation.ingest.store_inbound``): find or create the contact, identity and
   conversation, and insert the ``Message`` unprocessed; the inbox row is marked stored. The messages
   table's own unique key catches a re-delivery that comes after the receipt was pruned.
3. **Turn** (``bot.turns.run_message``, the state machine in ``bot.conversation``): directory lookup,
   classification, replies; all of it one transaction, the replies delivered after its commit.

Steps 2 and 3 run here, after the answer, under the person's lease (``bot.leases``): one person's
messages one at a time, oldest first, in one process at a time; different people side by side, at most
``concurrency`` at once. The mail poller skips step 1 (``at_once``): no provider waits on it, and its
attachments need the message row at once. The web chat runs steps 2 and 3 before it answers
(``in_line``, ``bot.conversation.inline``), under the same per-person lock and lease as the drains: its
POST promises the replies are in the history when it returns. It does so also in a web process that
leaves the providers' turns to a ``carecenter worker``.

Nothing depends on this process staying up: start-up and a periodic sweep wake every person with work
that nobody holds (receipts not stored, messages not processed), a dead process's people once their
leases expire; the lease and the turn's transaction make sure each message runs once and in order even
when the sweep, this process's own wake-ups and another process all reach for one person.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from bot.channels.base import FetchesFiles, InboundMessage, KeepFiles
from bot.conversation.deps import FlowDeps, HandleResult
from bot.conversation.ingest import store_inbound
from bot.conversation.inline import handle_inbound
from bot.leases import LEASE, person_of
from bot.turns import RETRY_DELAY, drain_person
from models import ChannelKind, Direction, InboxEntry, Message, TurnLease

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (channel, the user's address on it)

# Items worked on at once. Each holds the database for a few queries at a time; on SQLite that is one
# connection shared with the webhooks' receipts, so more only lengthens the line a receipt waits in.
DEFAULT_CONCURRENCY = 2
# A worker process has no webhooks to keep waiting, so it runs more at once (more turns per second).
WORKER_CONCURRENCY = 4
SWEEP_INTERVAL = 30.0  # seconds
# How often a worker process looks for new receipts: the delay a message waits before its turn starts.
WORKER_POLL = 0.2  # seconds
# How often a process that serves the webhooks and runs the turns (``serve`` alone) looks for people
# nobody holds: its own receipts wake their drains at once, so this is for what another process left
# (a crashed one's people, once their leases expire).
SERVE_POLL = 2.0  # seconds
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
    """Runs the store and turn steps of every person with work, one drain per person (bot.turns).

    What a person has to do is read from the database, not from this process's memory: ``wake`` only
    says "look at this person", and the drain, holding the person's lease, runs their unprocessed
    messages and then stores and runs their receipts, oldest first. So a process that was killed loses
    nothing but time (its people are taken over when their leases expire), and two processes never run
    one person at once."""

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
        self._drainers: dict[Key, asyncio.Task[None]] = {}
        # People woken while their drain was finishing: it looks again before it ends.
        self._again: set[Key] = set()

    async def accept(
        self, message: InboundMessage, *, at_once: bool = False, in_line: bool = False, keep: KeepFiles | None = None,
    ) -> Receipt | HandleResult:
        """The one door of every channel (``bot.channels.base.Handler``). Keep the message and wake its
        person's drain; returns as soon as it is durable.

        ``at_once`` stores it as a message before returning (the mail poller: its attachments are kept on
        the message row straight after, and no provider is waiting). ``in_line`` stores it, runs ``keep``
        with the new row's id (files the channel already holds, so they are on the message before its
        turn), and runs the turn before returning (the web chat), whether or not this process runs the
        drains (``runs_turns``)."""
        if in_line:
            return await handle_inbound(message, self.deps, keep=keep)
        if keep is not None:
            raise ValueError("keep needs the turn in-line (in_line=True)")
        key = (message.channel.value, message.external_id)
        if at_once:
            result = await store_inbound(message, self.deps)
            if result.message_id is not None:
                self.wake(key)
            return result
        receipt = await receive(message, db=self._receipts)
        if receipt.inbox_id is not None and self.runs_turns:
            self.wake(key)
        return receipt

    def wake(self, key: Key) -> None:
        if key in self._drainers:
            self._again.add(key)
            return
        self._drainers[key] = asyncio.create_task(self._drain(key), name="inbound-person")

    async def _drain(self, key: Key) -> None:
        try:
            while True:
                self._again.discard(key)
                async with self._slots:
                    try:
                        # The in-process lock shared with in-line turns (accept's in_line) of the same flow.
                        lock = self.deps.turn_locks.get(key)
                        try:
                            async with lock:
                                await drain_person(person_of(*key), self.deps, leases=self.deps.leases,
                                                   store_next=self._store_next)
                        finally:
                            self.deps.turn_locks.release_idle(key)
                    except Exception:  # one person's failure must not stop the others; the sweep retries
                        log.exception("inbound: a person's turns failed")
                # No await between this check and the end: a wake after it starts a new drain.
                if key not in self._again:
                    return
        finally:
            del self._drainers[key]

    async def _store_next(self, person: str) -> bool:
        """Store the person's oldest receipt as a message (its turn runs next). False: none left."""
        channel, _, address = person.partition(":")
        entry = (
            await InboxEntry.filter(stored_at=None, attempts__lt=MAX_STORE_ATTEMPTS, channel=channel, address=address)
            .order_by("stored_at", "id")
            .first()
        )
        if entry is None:
            return False
        await self._store(entry.id)
        return True

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
                # Parked: left in the inbox with its error for the operator (carecenter inbox), and the
                # person's later receipts go on.
                log.exception("inbox %s could not be stored after %d tries; parked", inbox_id, attempts)
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
        """People with a drain queued or running in this process."""
        return len(self._drainers)

    async def idle(self) -> None:
        """Wait until every woken person's drain has ended (tests, benchmarks, shutdown)."""
        while self._drainers:
            await asyncio.gather(*list(self._drainers.values()), return_exceptions=True)

    async def resume(self, *, quick: bool = False) -> int:
        """Wake every person with work that nobody holds: stored messages whose turn has not run (a dead
        holder's, after its lease expired), then receipts not stored. Returns how many were woken.

        ``quick`` (the worker's frequent look): receipts nobody has tried yet, and messages due a try;
        a receipt whose storing failed waits for the slower full sweep, so it is not hammered."""
        now = datetime.now(UTC)
        messages = Message.filter(direction=Direction.INBOUND, processed_at=None).filter(
            Q(attempts=0) | Q(claimed_at__lt=now - RETRY_DELAY)
        )
        receipts = InboxEntry.filter(stored_at=None, attempts__lt=MAX_STORE_ATTEMPTS)
        if quick:
            receipts = receipts.filter(attempts=0)
        else:
            # Leases left by holders that died between their last turn and giving the person back: nobody
            # needs them (a taker replaces an expired row anyway), and the table stays one row per person
            # being answered right now.
            await TurnLease.filter(expires_at__lt=now - LEASE).delete()
        found: list[Key] = [
            (str(channel), str(address))
            # (processed_at, id): the index on (direction, processed_at, id) reads only the unprocessed.
            for channel, address in await messages.order_by("processed_at", "id")
            .limit(SWEEP_BATCH)
            .values_list("channel", "conversation__identity__external_id")
        ]
        found += [
            (str(channel), str(address))
            for channel, address in await receipts.order_by("stored_at", "id")
            .limit(SWEEP_BATCH)
            .values_list("channel", "address")
        ]
        if not found:
            return 0
        held = {str(person) for person in await TurnLease.filter(expires_at__gte=now).values_list("person", flat=True)}
        woken = 0
        for key in dict.fromkeys(found):
            if key in self._drainers or person_of(*key) in held:
                continue
            self.wake(key)
            woken += 1
        if woken:
            log.info("resumed the turns of %d person(s) left unprocessed", woken)
        return woken

    @asynccontextmanager
    async def running(
        self, *, interval: float = SWEEP_INTERVAL, poll: float | None = None
    ) -> AsyncIterator[InboundWorker]:
        """Resume at start-up, sweep every ``interval`` seconds, and let running turns finish at the end.

        ``poll``: also look for new receipts and messages every ``poll`` seconds. A ``carecenter worker``
        needs it: the webhooks that keep the receipts run in another process and wake nothing here."""
        await self.resume()

        async def sweep(every: float, *, quick: bool) -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await self.resume(quick=quick)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database blip must not end the sweeps
                    log.exception("inbound sweep failed")

        sweepers = [asyncio.create_task(sweep(interval, quick=False), name="inbound-sweep")]
        if poll is not None:
            sweepers.append(asyncio.create_task(sweep(poll, quick=True), name="inbound-poll"))
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
                # A cancelled turn rolls back and its lease is released (or expires): the next start runs it.
                log.warning("stopping with %d person(s) still being worked on", self.backlog)
                for task in list(self._drainers.values()):
                    task.cancel()
                await asyncio.gather(*list(self._drainers.values()), return_exceptions=True)
