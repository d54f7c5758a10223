"""The outbox worker: outbound messages still ``queued`` are retried with exponential backoff.

Every outbound message is a row first (``handoff.delivery.send_text``) and is tried once at once. What a
channel could not take (provider down, 429, a channel not configured yet) stays ``queued`` and is picked up
here, also after a restart. ``deliver`` claims a row by moving it from ``queued`` to ``unknown`` in one
conditional UPDATE before calling the provider, so two workers never send the same row and a crash
mid-send leaves it ``unknown``: recorded, never blindly sent again.

The schedule needs no extra column: try n (n >= 1 tries done) is due at
``created_at + BASE_DELAY * (2**n - 1)``, i.e. 30 s, 1.5 min, 3.5 min, 7.5 min... after the message was
written; after ``MAX_ATTEMPTS`` tries it is marked failed.

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

from handoff.delivery import ChannelRegistry, deliver
from models import DeliveryStatus, Direction, Message

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=30)
MAX_ATTEMPTS = 8  # the last try is about an hour after the message was written
# A row never tried at all belongs to a send_text still running, or to a process that died before it
# could try: only the second is the worker's, so give the first time to finish.
UNTRIED_GRACE = timedelta(minutes=1)
BATCH = 100
INTERVAL = 10.0  # seconds between sweeps
LANES_PER_CHANNEL = 8


def due_at(message: Message) -> datetime:
    created: datetime = message.created_at
    if message.attempts == 0:
        return created + UNTRIED_GRACE
    backoff: timedelta = BASE_DELAY * (2 ** int(message.attempts) - 1)
    return created + backoff


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
        lanes.setdefault(message.conversation_id, []).append(message)  # type: ignore[attr-defined]
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
