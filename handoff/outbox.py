"""The outbox worker: outbound messages still ``queued`` are retried with exponential backoff.

Every outbound message is a row first (``handoff.delivery.send_text``) and is tried once at once. What a
channel could not take (provider down, 429, a channel not configured yet) stays ``queued`` and is picked up
here, also after a restart. ``deliver`` claims a row by moving it from ``queued`` to ``unknown`` in one
conditional UPDATE before calling the provider (noting the time in ``claimed_at``), so two workers never
send the same row, and a crash mid-send, a timeout or a provider 5xx leaves it ``unknown``: recorded, never
blindly sent again.

Reconcile (``reconcile``, the first step of every sweep): a row ``unknown`` for longer than
``RECONCILE_GRACE`` on a channel whose provider can be asked (``handoff.delivery.LooksUpSent``: WhatsApp,
through Twilio's Messages list) is asked about. The provider took it → ``sent`` with its id (status
callbacks take it further); never took it → ``queued`` again (the claim counts as a try) and sent by this
same sweep; took only some parts of a long one → ``failed`` as "partly sent" (sending again would repeat
those); cannot tell (the provider does not answer) → left ``unknown`` and asked again next sweep, until
``THROTTLE_DEADLINE`` after it was written, when it is marked failed with an event on its ticket. Every
change is one UPDATE conditional on the row still being ``unknown`` under the claim that was read, so two
workers reconciling at once, or a new send of the row, are never overwritten. While a row waits for this,
its conversation's later messages wait too (``handoff.delivery.UNCONFIRMED_HOLD``), so the person gets
them in order. Telegram and mail cannot be asked: there sending stays at most once, and a row cut off
mid-send stays ``unknown`` for the operator and the console to see.

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

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from handoff.delivery import (
    ChannelRegistry,
    LooksUpSent,
    Lookup,
    SentLookup,
    deliver,
    outbound_for,
    throttled_until,
)
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
# A row ``unknown`` is asked about only this long after its claim. It must outlast a live send's first
# request, or a request still on its way would be judged "never taken" and sent twice: WhatsApp's HTTP
# timeout is 15 s per request (bot.channels.whatsapp.TWILIO_TIMEOUT), so a minute leaves the provider
# 45 s more to show what it created. A longer send (several parts) found part-way is "partly sent",
# never sent again. Short, because behind it the person waits for this reply and the ones after it.
RECONCILE_GRACE = timedelta(seconds=60)
# What the provider created this long before our claim may still be this send: the two clocks differ,
# and Twilio's times have whole seconds.
CLOCK_SKEW = timedelta(seconds=10)
RECONCILE_BATCH = 20  # provider lookups per sweep, each a bounded request or a few
UNCONFIRMED_EVENT = "delivery_unconfirmed"


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
    await _tell_ticket(message, kind=THROTTLE_EVENT, reason=reason)


async def _tell_ticket(message: Message, *, kind: str, reason: str) -> None:
    """The agent must hear of a message given up on: an event on the message's own ticket, or on the one
    open on its conversation (the bot's messages carry no ticket)."""
    ticket_id = message.ticket_id
    ticket = await (
        Ticket.get_or_none(id=ticket_id) if ticket_id is not None
        else Ticket.filter(conversation_id=message.conversation_id)
        .exclude(status=TicketStatus.RESOLVED).order_by("-id").first()
    )
    if ticket is not None:
        await add_event(ticket=ticket, kind=kind, actor_kind=ActorKind.SYSTEM,
                        data={"message_id": message.id, "channel": message.channel.value,
                              "reason": reason[:200]})


async def reconcile(*, registry: ChannelRegistry, now: datetime, limit: int = RECONCILE_BATCH) -> int:
    """Ask the providers about rows left ``unknown`` past the grace (module docstring). Returns how many
    were settled (sent, queued again or failed)."""
    kinds = [channel.kind for channel in registry if isinstance(channel, LooksUpSent)]
    if not kinds:
        return 0
    cutoff = now - RECONCILE_GRACE
    rows = await (
        Message.filter(direction=Direction.OUTBOUND, delivery_status=DeliveryStatus.UNKNOWN, channel__in=kinds)
        # A row claimed before claims were timed (claimed_at empty) counts from when it was written.
        .filter(Q(claimed_at__lt=cutoff) | Q(claimed_at=None, created_at__lt=cutoff))
        .order_by("id").limit(limit)
    )
    settled = 0
    for message in rows:
        channel = registry.get(message.channel)
        if not isinstance(channel, LooksUpSent):
            continue
        claim: datetime = message.claimed_at or message.created_at
        try:
            outbound = await outbound_for(message, channel)
            answer = await channel.lookup_sent(outbound, since=claim - CLOCK_SKEW)
        except Exception as exc:  # one row's failure must not stop the others; it is asked again
            log.exception("asking the provider about message %s failed", message.id)
            answer = SentLookup.cannot_tell(exc.__class__.__name__)
        settled += await _settle(message, answer, now=now)
    return settled


async def _settle(message: Message, answer: SentLookup, *, now: datetime) -> int:
    # Only the claim that was read: a row another worker settled, or that was claimed again since, is
    # left alone (the same conditional UPDATE as handoff.delivery.deliver's claim).
    same = Message.filter(id=message.id, delivery_status=DeliveryStatus.UNKNOWN, claimed_at=message.claimed_at)
    # deliver saves a try when its send returns (a timeout or a 5xx: sent_at is then past the claim); a
    # process killed mid-send saved none, so that claim is counted here.
    counted = message.sent_at is not None and message.claimed_at is not None and message.sent_at >= message.claimed_at
    attempts = message.attempts if counted else message.attempts + 1
    if answer.outcome == Lookup.FOUND:
        try:
            done = await same.update(delivery_status=answer.status, provider_message_id=answer.provider_message_id,
                                     attempts=attempts, sent_at=message.sent_at or now,
                                     delivery_error=answer.reason[:500] or None)
        except IntegrityError:  # that provider id is another row's: not this send after all
            log.warning("message %s: the provider's match belongs to another message; asked again", message.id)
            return 0
        if done:
            log.info("message %s on %s: the provider had it; marked %s", message.id, message.channel, answer.status)
        return done
    if answer.outcome == Lookup.NOT_FOUND:
        # The row's delivery_error stays: it may say how it must go (a template after 63016).
        done = await same.update(delivery_status=DeliveryStatus.QUEUED, attempts=attempts)
        if done:
            log.info("message %s on %s: the provider never had it; queued again (try %d done)",
                     message.id, message.channel, attempts)
        return done
    if answer.outcome == Lookup.PARTLY:
        done = await same.update(delivery_status=DeliveryStatus.FAILED, attempts=attempts,
                                 provider_message_id=answer.provider_message_id,
                                 delivery_error=f"partly sent: {answer.reason}"[:500])
        if done:
            log.warning("message %s on %s was only partly sent; not sent again", message.id, message.channel)
        return done
    if now < message.created_at + THROTTLE_DEADLINE:
        log.info("message %s on %s: the provider cannot tell yet (%s); asked again next sweep",
                 message.id, message.channel, answer.reason)
        return 0
    hours = THROTTLE_DEADLINE.total_seconds() / 3600
    reason = f"gave up: the provider could not confirm it within {hours:g} h of being written ({answer.reason})"
    done = await same.update(delivery_status=DeliveryStatus.FAILED, attempts=attempts, delivery_error=reason[:500])
    if done:
        log.warning("message %s on %s failed for good: never confirmed by the provider", message.id, message.channel)
        await _tell_ticket(message, kind=UNCONFIRMED_EVENT, reason=reason)
    return done


async def drain(*, registry: ChannelRegistry, now: datetime, limit: int = BATCH) -> int:
    """One sweep: settle what providers can be asked about (``reconcile``), then deliver the queued
    messages that are due. Returns how many were tried."""
    await reconcile(registry=registry, now=now)
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
