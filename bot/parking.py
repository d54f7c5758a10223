"""What rests for the operator: receipts that could not be stored and messages whose turn kept failing.

Both are set aside so the person's later messages go on (bot.inbound stops storing a receipt after
``MAX_STORE_ATTEMPTS`` tries; bot.turns parks a message after ``MAX_TURN_ATTEMPTS``), and both keep their
last error. ``carecenter inbox list|retry|discard`` shows and settles them; ``/healthz`` counts them, so a
monitor notices a pile growing. A reference names the table and the row: ``r12`` is inbox receipt 12,
``m34`` is message 34 (the two numberings overlap).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.inbound import MAX_STORE_ATTEMPTS
from models import Direction, InboxEntry, Message

DISCARDED = "discarded by the operator: "


class UnknownItemError(LookupError):
    """No parked item by that reference."""


@dataclass(frozen=True, slots=True)
class Parked:
    ref: str  # r<inbox id> or m<message id>
    kind: str  # "receipt" or "message"
    channel: str
    tries: int
    since: datetime  # when it arrived
    error: str


async def parked_items() -> list[Parked]:
    """Everything parked, oldest first: receipts, then messages. Ids, channels and errors only."""
    items = [
        Parked(f"r{entry.id}", "receipt", entry.channel.value, entry.attempts, entry.received_at, entry.error or "")
        for entry in await InboxEntry.filter(stored_at=None, attempts__gte=MAX_STORE_ATTEMPTS).order_by("id")
    ]
    items += [
        Parked(f"m{message.id}", "message", message.channel.value, message.attempts, message.created_at,
               message.turn_error or "")
        for message in await Message.filter(parked_at__not_isnull=True).order_by("parked_at", "id")
    ]
    return items


async def count_parked() -> int:
    return (
        await InboxEntry.filter(stored_at=None, attempts__gte=MAX_STORE_ATTEMPTS).count()
        + await Message.filter(parked_at__not_isnull=True).count()
    )


# The largest id of each table's key column (inbox: BigInt; messages: Int): a bigger number names
# nothing, and the database would refuse it rather than find nothing.
_LARGEST = {"r": 2**63 - 1, "m": 2**31 - 1}


def _parse(ref: str) -> tuple[str, int]:
    kind, number = ref[:1].lower(), ref[1:]
    if kind not in _LARGEST or not number.isascii() or not number.isdecimal() or len(number) > 19:
        raise UnknownItemError(f"{ref!r} is not a reference from 'carecenter inbox list' (r12, m34)")
    if int(number) > _LARGEST[kind]:
        raise UnknownItemError(f"nothing parked is {ref}")
    return kind, int(number)


async def retry_parked(ref: str) -> None:
    """Put it back in line: a running worker stores (or runs) it at its next sweep, with fresh tries.

    A retried message runs after what its person wrote since: the operator chose to run it late."""
    kind, number = _parse(ref)
    if kind == "r":
        done = await InboxEntry.filter(id=number, stored_at=None, attempts__gte=MAX_STORE_ATTEMPTS).update(
            attempts=0, error=None)
    else:
        done = await Message.filter(id=number, direction=Direction.INBOUND, parked_at__not_isnull=True).update(
            parked_at=None, processed_at=None, claimed_at=None, attempts=0, turn_error=None)
    if not done:
        raise UnknownItemError(f"nothing parked is {ref}")


async def discard_parked(ref: str) -> None:
    """Settle it without running it: it leaves the list, and its error stays on the row for the record."""
    kind, number = _parse(ref)
    now = datetime.now(UTC)
    if kind == "r":
        entry = await InboxEntry.get_or_none(id=number, stored_at=None, attempts__gte=MAX_STORE_ATTEMPTS)
        if entry is None:
            raise UnknownItemError(f"nothing parked is {ref}")
        await InboxEntry.filter(id=number).update(stored_at=now, error=(DISCARDED + (entry.error or ""))[:500])
        return
    message = await Message.get_or_none(id=number, direction=Direction.INBOUND, parked_at__not_isnull=True)
    if message is None:
        raise UnknownItemError(f"nothing parked is {ref}")
    await Message.filter(id=number).update(parked_at=None, turn_error=(DISCARDED + (message.turn_error or ""))[:500])
