"""Warn before a waiting WhatsApp user's 24-hour window closes.

WhatsApp takes free-form messages only within 24 h of the user's last message; after that only an
approved template goes out, which reads as a form letter. A ticket whose WhatsApp user is waiting on an
agent (open or escalated, no agent message since the user last wrote) is warned about once per window,
``lead`` before it closes: a ``whatsapp_window_closing`` event on the ticket and a live console event for
its agent (or, unassigned, for everyone watching the queue).

Once per window: the event carries the window's closing time and a sweep skips tickets that already have
an event for it, so running every minute, twice, or after a restart warns once. A new message from the
user opens a new window, which may be warned about again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from handoff import reply_window
from handoff.tickets import add_event, reply_conversation
from models import (
    ActorKind,
    ChannelIdentity,
    ChannelKind,
    Direction,
    Message,
    SenderKind,
    Ticket,
    TicketEvent,
    TicketStatus,
)

log = logging.getLogger(__name__)

WINDOW = reply_window.WHATSAPP.length
DEFAULT_LEAD = timedelta(minutes=120)
EVENT = "whatsapp_window_closing"
LIVE_EVENT = "ticket.window_closing"
WAITING_ON_AGENT = (TicketStatus.OPEN, TicketStatus.ESCALATED)

Notify = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class WindowWarning:
    ticket_id: int
    assignee_id: int | None
    closes_at: datetime


def closes_at(last_inbound_at: datetime) -> datetime:
    return last_inbound_at + WINDOW


def window_key(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def warned_for(ticket_id: int, closing: datetime) -> bool:
    key = window_key(closing)
    events = await TicketEvent.filter(ticket_id=ticket_id, kind=EVENT).values_list("data", flat=True)
    return any(isinstance(data, dict) and data.get("closes_at") == key for data in events)


async def _answered(ticket_id: int) -> bool:
    """An agent wrote after the user's last message on this ticket (ids, not clocks, give the order)."""
    last_in = await Message.filter(ticket_id=ticket_id, direction=Direction.INBOUND).order_by("-id").first()
    if last_in is None:
        return False
    return await Message.filter(
        ticket_id=ticket_id, direction=Direction.OUTBOUND, sender_kind=SenderKind.AGENT, id__gt=last_in.id
    ).exists()


async def sweep(*, now: datetime, lead: timedelta = DEFAULT_LEAD, notify: Notify | None = None) -> list[WindowWarning]:
    """Warn about every waiting WhatsApp ticket whose window closes within ``lead``. Safe to run twice."""
    if lead <= timedelta(0):
        return []
    # Last inbound in (now - 24 h, now - 24 h + lead]: the window is still open and closes within lead.
    tickets = await Ticket.filter(
        channel=ChannelKind.WHATSAPP,
        status__in=WAITING_ON_AGENT,
        conversation__identity__last_inbound_at__gt=now - WINDOW,
        conversation__identity__last_inbound_at__lte=now - WINDOW + lead,
    ).prefetch_related("conversation")
    warnings: list[WindowWarning] = []
    for ticket in tickets:
        identity = await ChannelIdentity.get(id=ticket.conversation.identity_id)
        last = identity.last_inbound_at
        if last is None or identity.unreachable:
            continue  # an address nothing reaches gets its own warning (handoff.reachability)
        if (await reply_conversation(ticket)).channel != ChannelKind.WHATSAPP:
            continue  # they wrote on another channel since: the reply goes there, and no window applies
        answered = await _answered(ticket.id)
        closing = closes_at(last)
        if answered or await warned_for(ticket.id, closing):
            continue
        assignee_id: int | None = ticket.assignee_id
        await add_event(ticket=ticket, kind=EVENT, actor_kind=ActorKind.SYSTEM,
                        data={"closes_at": window_key(closing), "assignee_id": assignee_id})
        warning = WindowWarning(ticket_id=ticket.id, assignee_id=assignee_id, closes_at=closing)
        warnings.append(warning)
        if notify is not None:
            notify(LIVE_EVENT, {"ticket_id": ticket.id, "assignee_id": assignee_id,
                                "closes_at": window_key(closing)})
    if warnings:
        log.info("warned about %d closing WhatsApp window(s)", len(warnings))
    return warnings
