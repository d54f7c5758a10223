"""Whose turn it is: one process at a time runs a person's messages, oldest first, each turn all or nothing.

The guarantees, across crashes of any process at any moment:

- **One holder per person.** A person (a channel and their address on it) has a lease row in
  ``turn_leases``, taken by a conditional UPDATE (or the INSERT of a missing row) and held by one process.
  It is short (``LEASE``) and renewed every ``HEARTBEAT`` while the holder works, so a dead holder's
  people are taken over within ``LEASE`` of its death, not minutes later, and a live holder with a long
  turn (a slow directory) keeps them. The claim is per person, not per message: a later message can never
  overtake an earlier one in another process.
- **Oldest first, from the database.** The holder reads the person's next unprocessed message (and next
  unstored receipt) from the database each time, not from a queue in memory: what a dead process left is
  run first, in order, whoever received it.
- **All or nothing.** A turn's writes (the conversation's step, a ticket, its replies as ``queued`` rows,
  the message's processed mark) commit in one transaction, and the replies are handed to the channel only
  after the commit (``handoff.delivery.holding_deliveries``). A crash before the commit leaves nothing:
  the turn runs again whole, so nothing is skipped and nothing is answered twice. A crash after it leaves
  the replies ``queued``: the next holder of the person sends them before running anything newer (so the
  person reads them in order), and the outbox sends them soon in any case (``handoff.outbox``).
- **Fenced.** The transaction renews the lease as its first statement and rolls back when this process
  no longer holds it (a holder stalled past ``LEASE`` whose people were taken over): two holders can
  overlap in time, never in what they commit. On PostgreSQL that statement locks the lease row until the
  commit, so a take-over waits and then sees a renewed lease; on SQLite writers are one at a time
  (``FENCE_FIRST`` below).
- **A place to rest.** A message whose turn fails (or whose holder dies) ``MAX_TURN_ATTEMPTS`` times is
  parked: marked processed with its error, so the person's later messages go on, listed for the operator
  (``carecenter inbox``), counted in ``/healthz``. The person is told something went wrong and is handed
  to an agent with a ticket (``bot.conversation.run.hand_over_failed``): a message the bot cannot handle must still
  reach a person, as Zammad and Chatwoot never drop one.

What stays out of the transaction, on purpose: the directory lookup (an HTTP call in production) and the
classifier's prediction run before it (``bot.conversation.run.prefetch``), because on SQLite Tortoise's transaction
holds the process's one connection (every other turn and sweep waits) and the database's write lock
(the web process's receipts wait); and the try is counted before it, so a message that kills its
process is counted too.
Clock: leases compare wall-clock times written by each process; processes on machines whose clocks
disagree by more than a few seconds would take over early.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from bot.conversation import run
from bot.conversation.deps import FlowDeps
from bot.leases import LeaseLostError, Leases
from handoff.delivery import deliver, holding_deliveries
from models import DeliveryStatus, Direction, Message, SenderKind

log = logging.getLogger(__name__)

# FENCE_FIRST: a turn's transaction starts by renewing the person's lease (an UPDATE of its row, which
# fails the turn if another process took the person over). First, not last, for two reasons. PostgreSQL:
# the UPDATE locks the lease row until the commit, so no one can take the person over while the turn
# runs (a taker's UPDATE waits, then finds the lease renewed). SQLite: a transaction that reads first
# and writes later cannot upgrade to a writer once another connection (the web process's receipts) has
# committed since its first read: it fails at once with "database is locked", whatever busy_timeout
# says (1 turn in 140 under the crash benchmark's load). Writing first takes the write lock at the
# start; the receipts wait for at most one turn (milliseconds: nothing in a turn waits on the network,
# see prefetch_directory), within busy_timeout.

# How often a message's turn may fail, or die with its process, before it is parked.
MAX_TURN_ATTEMPTS = 5
# A message whose last try failed (or died) waits this long before the next: a failing message is not
# run in a tight loop, and a crash's message is retried once its holder's lease has expired anyway.
RETRY_DELAY = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one call of ``run_message`` did."""

    ran: bool  # the turn (or the parking) committed
    failed: bool = False  # the turn raised: the person's later messages wait for its retry


async def run_message(message_id: int, deps: FlowDeps, *, person: str, leases: Leases) -> Outcome:
    """Run one stored message's turn, all or nothing, while holding ``person``'s lease; deliver its
    replies after the commit. The caller holds the lease and runs the person's messages oldest first."""
    now = datetime.now(UTC)  # wall time, not the flow's clock: tries and leases are about real crashes
    counted = await Message.filter(id=message_id, direction=Direction.INBOUND, processed_at=None).update(
        claimed_at=now, attempts=F("attempts") + 1
    )
    if not counted:
        return Outcome(ran=False)
    stored = await Message.get(id=message_id).select_related("conversation__identity__contact")
    if stored.attempts > MAX_TURN_ATTEMPTS:  # the earlier tries all died with their process
        await park(stored, deps, person=person, leases=leases,
                   error=stored.turn_error or f"its process died {MAX_TURN_ATTEMPTS} times during the turn")
        return Outcome(ran=True)
    notices: list[tuple[str, dict[str, Any]]] = []
    try:
        # The directory and the classifier are asked outside the transaction (run.prefetch), and the
        # console hears of the turn's changes after the commit, never of a change rolled back.
        turn_deps = replace(await run.prefetch(stored, deps), notify=lambda name, data: notices.append((name, data)))
        async with in_transaction():
            await leases.fence(person)  # first: see FENCE_FIRST
            with holding_deliveries() as held:
                await run.run_turn(stored, turn_deps)
                done = await Message.filter(id=message_id, processed_at=None).update(processed_at=datetime.now(UTC))
                if not done:  # cannot happen while we hold the lease; if it does, nothing of ours commits
                    raise LeaseLostError(person)
    except LeaseLostError:
        log.warning("inbound message %s: lease lost to another holder; its turn was rolled back", message_id)
        return Outcome(ran=False, failed=True)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        await Message.filter(id=message_id).update(turn_error=error)
        if stored.attempts >= MAX_TURN_ATTEMPTS:
            log.exception("inbound message %s failed %d times; parked", message_id, stored.attempts)
            await park(stored, deps, person=person, leases=leases, error=error)
            return Outcome(ran=True)
        log.exception("inbound message %s: turn failed (try %d of %d); rolled back, retried later",
                      message_id, stored.attempts, MAX_TURN_ATTEMPTS)
        return Outcome(ran=False, failed=True)
    await _after_commit(deps, held.messages, notices)
    return Outcome(ran=True)


async def _after_commit(deps: FlowDeps, replies: list[Message], notices: list[tuple[str, dict[str, Any]]]) -> None:
    for message in replies:
        try:
            await deliver(registry=deps.registry, message=message)
        except Exception:  # the row stays queued: the outbox retries it
            log.exception("delivering message %s after its turn failed", message.id)
    for name, data in notices:
        deps.notify(name, data)


async def park(stored: Message, deps: FlowDeps, *, person: str, leases: Leases, error: str) -> None:
    """Set a message that keeps failing aside, so its person's later messages go on, and hand the person
    to an agent. If even the hand-over fails (the fault may be in what it uses too), the message is parked
    without it: a parked message must never itself block the queue."""
    now = datetime.now(UTC)
    notices: list[tuple[str, dict[str, Any]]] = []
    turn_deps = replace(deps, notify=lambda name, data: notices.append((name, data)))
    for hand_over in (True, False):
        try:
            async with in_transaction():
                await leases.fence(person)  # first: see FENCE_FIRST
                with holding_deliveries() as held:
                    marked = await Message.filter(id=stored.id, processed_at=None).update(
                        processed_at=now, parked_at=now, turn_error=error[:500]
                    )
                    if not marked:
                        return
                    if hand_over:
                        await run.hand_over_failed(stored.id, turn_deps)
        except LeaseLostError:
            return
        except Exception:
            if not hand_over:
                raise
            log.exception("inbound message %s: handing it to an agent failed; parked without", stored.id)
            notices.clear()
            continue
        log.error("inbound message %s parked after %d tries (carecenter inbox list)", stored.id, stored.attempts)
        await _after_commit(deps, held.messages, notices)
        return


async def send_left_replies(person: str, deps: FlowDeps) -> int:
    """Deliver the replies a dead holder committed but never handed to the channel (queued, never tried),
    oldest first, before anything newer of this person's goes out. Returns how many were tried."""
    channel, _, address = person.partition(":")
    rows = await Message.filter(
        direction=Direction.OUTBOUND, delivery_status=DeliveryStatus.QUEUED, attempts=0, sender_kind=SenderKind.BOT,
        conversation__identity__channel=channel, conversation__identity__external_id=address,
    ).order_by("id")
    for message in rows:
        await deliver(registry=deps.registry, message=message)
    return len(rows)


async def next_message(person: str) -> Message | None:
    """The person's oldest inbound message whose turn has not run (parked ones count as run)."""
    channel, _, address = person.partition(":")
    return (
        await Message.filter(
            direction=Direction.INBOUND, processed_at=None,
            conversation__identity__channel=channel, conversation__identity__external_id=address,
        )
        .order_by("processed_at", "id")  # the (direction, processed_at, id) index: only unprocessed rows
        .first()
    )


StoreNext = Callable[[str], Awaitable[bool]]


@dataclass(slots=True)
class Drained:
    """What one ``drain_person`` did: the messages whose turn it ran, and whether it left nothing behind
    (False: the lease was held elsewhere, or a turn failed and the rest waits for a sweep, in order)."""

    ran: list[int] = field(default_factory=list)
    complete: bool = False


async def drain_person(
    person: str, deps: FlowDeps, *, leases: Leases, store_next: StoreNext | None = None, wait: float = 0.0,
    until: int | None = None,
) -> Drained:
    """Hold the person's lease and run what they sent, oldest first: each stored message's turn, then the
    next receipt (``store_next`` stores it; it returns False when there is none), until nothing is left.
    ``wait``: how long to wait for a lease another holds. ``until``: stop once that message has run
    (in-line callers, who answer for one message)."""
    drained = Drained()
    async with leases.holding(person, wait=wait) as held:
        if not held:
            return drained
        await send_left_replies(person, deps)
        while True:
            message = await next_message(person)
            if message is not None:
                if message.attempts and message.claimed_at and message.claimed_at > datetime.now(UTC) - RETRY_DELAY:
                    return drained  # tried a moment ago and failed: not again at once
                outcome = await run_message(message.id, deps, person=person, leases=leases)
                if outcome.failed:
                    return drained
                if outcome.ran:
                    drained.ran.append(message.id)
                if until is not None and message.id == until:
                    drained.complete = True
                    return drained
                continue
            if store_next is None or not await store_next(person):
                drained.complete = True
                return drained
