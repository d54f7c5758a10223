"""The outbox worker: outbound messages still ``queued`` are retried with exponential backoff.

Every outbound message is a row first (``handoff.delivery.send_text``) and is tried once at once. What a
channel could not take (provider down, 429, a channel not configured yet) stays ``queued`` and is picked up
here, also after a restart. ``deliver`` claims a row by moving it from ``queued`` to ``unknown`` in one
conditional UPDATE before calling the provider, so two workers never send the same row and a crash
mid-send leaves it ``unknown``: recorded, never blindly sent again.

The schedule needs no extra column: try n (n >= 1 tries done) is due at
``created_at + BASE_DELAY * (2**n - 1)``, i.e. 30 s, 1.5 min, 3.5 min, 7.5 min... after the message was
written; after ``MAX_ATTEMPTS`` tries it is marked failed.

Throttling is not a failed try. When a provider asks for a pause (Telegram's 429 ``retry_after``, Twilio's
429 / 20429), the message that got it, and every one the channel held back because of it, is queued
again for the provider's time without counting a try (``handoff.delivery.deliver`` notes the time in
``delivery_error``): a busy hour must not use up the tries meant for a provider that is down. So that a
provider throttling for ever cannot keep a row waiting for ever, a message still throttled
``THROTTLE_DEADLINE`` after it was written is marked failed, with the reason on the row and an event on
its ticket.

A sweep sends each conversation's due messages in order, one after another, but different
conversations side by side (at most ``LANES_PER_CHANNEL`` per channel): a channel that throttles (Telegram's
per-chat limit, a 429 pause) or a provider that answers slowly holds up only its own rows, never another
channel's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta

from handoff.delivery import ChannelRegistry, deliver, throttled_until
from handoff.tickets import add_event
from models import ActorKind, DeliveryStatus, Direction, Message, Ticket, TicketStatus

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=30)
MAX_ATTEMPTS = 8  # the last try is about an hour after the message was written
# A row never tried at all belongs to a send_text or a turn's replies still being delivered (a turn
# delivers its rows right after its commit, bot.turns), or to a process that died before it could try:
# only the second is the worker's, so give the first time to finish. Short, because the second is a
# person waiting for an answer: a turn's replies are sent within a second or two of its commit, and a
# process killed in between leaves them here (the next holder of that person's turns sends them even
# sooner when the person writes again).
UNTRIED_GRACE = timedelta(seconds=20)
BATCH = 100
INTERVAL = 10.0  # seconds between sweeps
LANES_PER_CHANNEL = 8
# The same 24 hours as the helpdesk's resolution target (and WhatsApp's reply window): a message that
# throttling kept back that long is better reported to the agent than sent a day late.
THROTTLE_DEADLINE = timedelta(hours=24)
THROTTLE_EVENT = "delivery_throttled"


def due_at(message: Message) -> datetime:
    created: datetime = message.created_at
    if message.attempts == 0:
        due = created + UNTRIED_GRACE
    else:
        backoff: timedelta = BASE_DELAY * (2 ** int(message.attempts) - 1)
        due = created + backoff
    until = throttled_until(message.delivery_error)
    return max(due, until) if until is not None else due


async def _give_up_throttled(message: Message, *, until: datetime) -> None:
    hours = THROTTLE_DEADLINE.total_seconds() / 3600
    reason = (f"gave up: provider throttling kept it from going out within {hours:g} h of being written "
              f"({message.delivery_error})")
    gave_up = await Message.filter(id=message.id, delivery_status=DeliveryStatus.QUEUED).update(
        delivery_status=DeliveryStatus.FAILED, delivery_error=reason[:500]
    )
    if not gave_up:
        return
    log.warning("message %s on %s failed for good: throttled past %g h after it was written (next try was %s)",
                message.id, message.channel, hours, until.isoformat(timespec="seconds"))
    # The agent must hear of it: the message's own ticket, or the one open on its conversation (the bot's
    # messages carry no ticket).
    ticket_id = message.ticket_id
    ticket = await (
        Ticket.get_or_none(id=ticket_id) if ticket_id is not None
        else Ticket.filter(conversation_id=message.conversation_id)
        .exclude(status=TicketStatus.RESOLVED).order_by("-id").first()
    )
    if ticket is not None:
        await add_event(ticket=ticket, kind=THROTTLE_EVENT, actor_kind=ActorKind.SYSTEM,
                        data={"message_id": message.id, "channel": message.channel.value,
                              "reason": reason[:200]})


async def drain(*, registry: ChannelRegistry, now: datetime, limit: int = BATCH) -> int:
    """One sweep: deliver the queued messages that are due. Returns how many were tried."""
    kinds = list(registry.kinds())
    rows = (
        await Message.filter(direction=Direction.OUTBOUND, delivery_status=DeliveryStatus.QUEUED, channel__in=kinds)
        .order_by("id")
        .limit(limit * 5)
    )
    due: list[Message] = []
    for message in rows:
        if len(due) >= limit:
            break
        until = throttled_until(message.delivery_error)
        # Given up as soon as the provider's time is known to end past the deadline: no use waiting for it.
        if until is not None and max(now, until) >= message.created_at + THROTTLE_DEADLINE:
            await _give_up_throttled(message, until=until)
            continue
        if message.attempts >= MAX_ATTEMPTS:
            gave_up = await Message.filter(id=message.id, delivery_status=DeliveryStatus.QUEUED).update(
                delivery_status=DeliveryStatus.FAILED,
                delivery_error=f"gave up after {message.attempts} attempts: {message.delivery_error or ''}"[:500],
            )
            if gave_up:
                log.warning("message %s failed for good after %d attempts", message.id, message.attempts)
            continue
        if due_at(message) > now:
            continue
        due.append(message)
    lanes: dict[int, list[Message]] = {}
    for message in due:  # already in id order, so each lane keeps its conversation's order
        lanes.setdefault(message.conversation_id, []).append(message)
    limits = {kind: asyncio.Semaphore(LANES_PER_CHANNEL) for kind in kinds}

    async def run(lane: list[Message]) -> None:
        async with limits[lane[0].channel]:
            for message in lane:
                await deliver(registry=registry, message=message)

    outcomes = await asyncio.gather(*(run(lane) for lane in lanes.values()), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, Exception):  # one lane's database blip must not hide the others' work
            log.error("outbox lane failed", exc_info=outcome)
    return len(due)


@asynccontextmanager
async def running_worker(
    *,
    registry: ChannelRegistry,
    interval: float = INTERVAL,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AsyncIterator[asyncio.Task[None]]:
    """Sweep every ``interval`` seconds until the context ends (the app's cleanup_ctx)."""

    async def loop() -> None:
        while True:
            try:
                tried = await drain(registry=registry, now=clock())
                if tried:
                    log.info("outbox retried %d message(s)", tried)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad sweep (database blip) must not stop the next ones
                log.exception("outbox sweep failed")
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop(), name="outbox")
    try:
        yield task
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
