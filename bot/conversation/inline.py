"""The in-line mode of the one door: store a message and run its turn before returning (what
``bot.inbound.InboundWorker.accept`` runs for ``in_line``, the web chat's; tests call it directly), or run
the turn of one already stored (``process_inbound``), under the same person lock and lease as the worker's
drains (bot.turns).
"""

from __future__ import annotations

from bot import turns
from bot.channels.base import InboundMessage, KeepFiles
from bot.conversation.deps import FlowDeps, HandleResult
from bot.conversation.ingest import store_inbound
from bot.leases import person_of
from models import Message


async def handle_inbound(message: InboundMessage, deps: FlowDeps, *, keep: KeepFiles | None = None) -> HandleResult:
    """Store and process in one call: for callers that want the turn done on return (web chat, tests).
    ``keep``: files the caller already holds, kept on the new row before the turn runs.

    Webhooks instead store (``ingest.store_inbound``), answer the provider, and leave the turn to the worker in
    ``bot.inbound``. Idempotent either way: a re-delivered message is stored once and answered once.
    """
    result = await store_inbound(message, deps)
    if result.message_id is not None:
        if keep is not None:
            await keep(result.message_id)
        await process_inbound(result.message_id, deps, key=(message.channel.value, message.external_id))
    return result


# How long an in-line turn (web chat, tests) waits for another process holding the same person: long
# enough for that holder to finish the person's few messages, including this one.
INLINE_WAIT = 30.0  # seconds


async def process_inbound(message_id: int, deps: FlowDeps, *, key: tuple[str, str] | None = None) -> bool:
    """Run the turn of a stored message now, with every earlier unprocessed message of its person first
    (bot.turns). Returns False when it was not this caller's to run (already processed, or run by the
    process that holds the person)."""
    if key is None:
        row = await Message.filter(id=message_id).values("channel", "conversation__identity__external_id")
        if not row:
            return False
        key = (str(row[0]["channel"]), str(row[0]["conversation__identity__external_id"]))
    lock = deps.turn_locks.get(key)
    try:
        async with lock:
            if await Message.exists(id=message_id, processed_at__not_isnull=True):
                return False
            drained = await turns.drain_person(person_of(*key), deps, leases=deps.leases, wait=INLINE_WAIT,
                                               until=message_id)
            return message_id in drained.ran
    finally:
        deps.turn_locks.release_idle(key)
