"""What the queue row and the conversation view say about a ticket's channels: the time left in the
WhatsApp window (and whether the agent was warned it is closing), and where the contact can no longer be
reached, with the other channels a reply may go to (handoff.reachability)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from handoff import reply_window
from handoff.reachability import Reach, ticket_reaches
from handoff.whatsapp_window import warned_for
from models import ChannelIdentity, Ticket


@dataclass(frozen=True, slots=True)
class ChannelState:
    window: timedelta | None  # left in the WhatsApp window; None when the ticket is not on WhatsApp
    window_closing: bool  # the scheduler warned about this window
    unreachable: tuple[str, ...]
    reachable: tuple[str, ...]

    @property
    def window_text(self) -> str:
        if self.window is None:
            return ""
        minutes = max(0, int(self.window.total_seconds() // 60))
        return f"{minutes // 60}h {minutes % 60:02d}m"

    @property
    def window_class(self) -> str:
        if self.window is None or self.window <= timedelta(0):
            return "wa-closed"
        return "wa-closing" if self.window_closing else "wa-open"


async def channel_states(tickets: list[Ticket], *, now: datetime) -> dict[int, ChannelState]:
    """One entry per ticket id; tickets must have ``conversation`` fetched."""
    reach = await ticket_reaches(tickets)
    identity_ids = [t.conversation.identity_id for t in tickets]
    identities = {i.id: i for i in await ChannelIdentity.filter(id__in=identity_ids)}
    states: dict[int, ChannelState] = {}
    for ticket in tickets:
        identity = identities.get(ticket.conversation.identity_id)
        window: timedelta | None = None
        closing = False
        closing_at = reply_window.closes_at(ticket.channel, identity.last_inbound_at) if identity else None
        if closing_at is not None:
            window = closing_at - now
            closing = window > timedelta(0) and await warned_for(ticket.id, closing_at)
        contact_reach = reach.get(ticket.id, Reach((), ()))
        states[ticket.id] = ChannelState(
            window=window,
            window_closing=closing,
            unreachable=tuple(c.value for c in contact_reach.unreachable),
            reachable=tuple(c.value for c in contact_reach.reachable),
        )
    return states
