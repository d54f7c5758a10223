"""Which of a contact's channels still reach them, and the ticket event when one stops.

A channel says an address is unreachable (Telegram 403 "bot was blocked", Twilio 21211/63003...) through
``DeliveryError.unreachable`` or a failed status callback. The identity is marked, and the contact's open
tickets say so once, so the agent knows to try another channel. The flow clears the mark when the user
writes on that address again.

The channels named here are the ones a reply may go to (``handoff.tickets.may_reply_to``): the ticket's
own address and its person's proven ones. An address that only claimed the person's number is never
offered as "another channel", and its failures are told only to the tickets opened on it (issue 13).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q

from handoff.contacts import is_proven
from handoff.tickets import add_event, may_reply_to
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
    # The tickets that may reply there: every open ticket of the person when the address is proven, else
    # only those opened on it (a claimed address on a person's contact is no channel of that person's).
    told = Ticket.filter(contact_id=identity.contact_id) if is_proven(identity) else Ticket.filter(
        conversation__identity_id=identity.id
    )
    tickets = await told.exclude(status=TicketStatus.RESOLVED)
    for ticket in tickets:
        await add_event(ticket=ticket, kind=EVENT, actor_kind=ActorKind.SYSTEM,
                        data={"channel": identity.channel.value, "reason": reason[:200]})
        if notify is not None:
            notify("ticket.updated", {"ticket_id": ticket.id})
    log.warning("identity %s on %s is unreachable; %d open ticket(s) told", identity.id, identity.channel.value,
                len(tickets))
    return list(tickets)


def _reach(addresses: list[ChannelIdentity]) -> Reach:
    bad = tuple(dict.fromkeys(i.channel for i in addresses if i.unreachable))
    good = tuple(c for c in dict.fromkeys(i.channel for i in addresses if not i.unreachable) if c not in bad)
    return Reach(unreachable=bad, reachable=good)


async def contact_reach(contact_id: int) -> Reach:
    """A person's channels without a ticket to answer on: their proven addresses only. About a ticket,
    ask ``ticket_reach``, which adds the ticket's own address even when it is only claimed."""
    rows = await ChannelIdentity.filter(contact_id=contact_id).order_by("id")
    return _reach([i for i in rows if is_proven(i)])


async def ticket_reaches(tickets: list[Ticket]) -> dict[int, Reach]:
    """Each ticket's channels (the queue and the conversation, in one query): the addresses a reply on it
    may go to, its own and its person's proven ones. ``tickets`` must have ``conversation`` fetched."""
    own = {t.id: t.conversation.identity_id for t in tickets}
    rows = await ChannelIdentity.filter(
        Q(contact_id__in={t.contact_id for t in tickets}) | Q(id__in=set(own.values()))
    ).order_by("id")
    by_contact: dict[int, list[ChannelIdentity]] = {}
    for row in rows:
        by_contact.setdefault(row.contact_id, []).append(row)
    by_id = {row.id: row for row in rows}
    result: dict[int, Reach] = {}
    for ticket in tickets:
        own_id = own[ticket.id]
        mine = [i for i in by_contact.get(ticket.contact_id, []) if may_reply_to(i, own_identity_id=own_id)]
        if own_id in by_id and by_id[own_id] not in mine:
            mine.append(by_id[own_id])  # opened by an address outside the person's contact
        result[ticket.id] = _reach(sorted(mine, key=lambda i: i.id))
    return result


async def ticket_reach(ticket: Ticket) -> Reach:
    """``ticket_reaches`` for one ticket (its conversation is fetched here)."""
    await ticket.fetch_related("conversation")
    return (await ticket_reaches([ticket]))[ticket.id]
