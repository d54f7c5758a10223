"""Which of a contact's channels still reach them, and the ticket event when one stops.

A channel says an address is unreachable (Telegram 403 "bot was blocked", Twilio 21211/63003...) through
``DeliveryError.unreachable`` or a failed status callback. The identity is marked, and the contact's open
tickets say so once, so the agent knows to try another channel. The flow clears the mark when the user
writes on that address again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handoff.tickets import add_event
from models import ActorKind, ChannelIdentity, ChannelKind, Ticket, TicketStatus

log = logging.getLogger(__name__)

EVENT = "unreachable"

Notify = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Reach:
    """The channels a contact has, split by whether what we send there arrives."""

    unreachable: tuple[ChannelKind, ...]
    reachable: tuple[ChannelKind, ...]

    def json(self) -> dict[str, list[str]]:
        return {"unreachable_on": [c.value for c in self.unreachable],
                "reachable_on": [c.value for c in self.reachable]}


async def mark_unreachable(*, identity_id: int, reason: str, notify: Notify | None = None) -> list[Ticket]:
    """Mark the identity; on the change (not on every failed send) add an event to each open ticket."""
    changed = await ChannelIdentity.filter(id=identity_id, unreachable=False).update(unreachable=True)
    if not changed:
        return []
    identity = await ChannelIdentity.get(id=identity_id)
    tickets = await Ticket.filter(contact_id=identity.contact_id).exclude(
        status=TicketStatus.RESOLVED
    )
    for ticket in tickets:
        await add_event(ticket=ticket, kind=EVENT, actor_kind=ActorKind.SYSTEM,
                        data={"channel": identity.channel.value, "reason": reason[:200]})
        if notify is not None:
            notify("ticket.updated", {"ticket_id": ticket.id})
    log.warning("identity %s on %s is unreachable; %d open ticket(s) told", identity.id, identity.channel.value,
                len(tickets))
    return list(tickets)


async def contact_reach(contact_id: int) -> Reach:
    return (await reaches([contact_id]))[contact_id]


async def reaches(contact_ids: list[int]) -> dict[int, Reach]:
    """``contact_reach`` for many contacts in one query (the queue)."""
    rows = await ChannelIdentity.filter(contact_id__in=contact_ids).order_by("id")
    result: dict[int, Reach] = {}
    for contact_id in contact_ids:
        mine = [i for i in rows if i.contact_id == contact_id]
        bad = tuple(dict.fromkeys(i.channel for i in mine if i.unreachable))
        good = tuple(c for c in dict.fromkeys(i.channel for i in mine if not i.unreachable) if c not in bad)
        result[contact_id] = Reach(unreachable=bad, reachable=good)
    return result
