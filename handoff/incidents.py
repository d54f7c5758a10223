"""Incidents: one problem with the developer team, many escalated tickets linked to it, one fix for all.

Escalation opens or links an incident (handoff.actions.escalate). Reporting the fix here records
it on every linked ticket (escalated ones go back to their agents as open) and, when asked, tells every
user whose linked ticket is still open, through the outbox, once per ticket (``Ticket.fix_notified_at``
is claimed by a conditional update before the message is written).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from handoff.actions import ConsoleError, ForbiddenError, Translate, audit, is_supervisor, written_text
from handoff.delivery import ChannelRegistry, send_text
from handoff.tickets import add_event, reply_conversation
from models import (
    ActorKind,
    Incident,
    IncidentStatus,
    SenderKind,
    Ticket,
    TicketStatus,
    User,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FixResult:
    incident: Incident
    tickets: int  # linked tickets the fix was recorded on
    notified: int  # users told about it now


async def open_incidents() -> list[Incident]:
    return await Incident.filter(status=IncidentStatus.OPEN).order_by("-id")


async def report_incident_fix(
    *,
    incident: Incident,
    actor: User,
    text: str,
    notify_users: bool,
    registry: ChannelRegistry,
    translate: Translate,
    now: datetime,
) -> FixResult:
    """A supervisor, or an agent owning one of the linked tickets, reports the developers' fix."""
    tickets = await Ticket.filter(incident_id=incident.id).order_by("id")
    if not is_supervisor(actor) and not any(t.assignee_id == actor.id for t in tickets):
        raise ForbiddenError
    text = written_text(text)
    # Conditional: of two people reporting at once, one records the fix and the other is told it is done.
    updated = await Incident.filter(id=incident.id, status=IncidentStatus.OPEN).update(
        status=IncidentStatus.FIXED, fix_text=text, fixed_at=now, fixed_by_id=actor.id
    )
    if not updated:
        raise ConsoleError("error_incident_fixed")
    await incident.refresh_from_db()
    await audit(actor=actor, action="incident.fix", target=str(incident.id),
                data={"tickets": len(tickets), "notify_users": notify_users})
    notified = 0
    for ticket in tickets:
        if ticket.status == TicketStatus.ESCALATED:
            await Ticket.filter(id=ticket.id, status=TicketStatus.ESCALATED).update(status=TicketStatus.OPEN)
        await add_event(ticket=ticket, kind="fix_reported", actor_kind=ActorKind.AGENT, actor=actor,
                        data={"text": text, "incident": incident.id})
        if notify_users and ticket.status != TicketStatus.RESOLVED and await _notify(
            ticket=ticket, actor=actor, text=text, registry=registry, translate=translate, now=now
        ):
            notified += 1
    log.info("incident %s fixed: %d ticket(s), %d user(s) notified", incident.id, len(tickets), notified)
    return FixResult(incident=incident, tickets=len(tickets), notified=notified)


async def _notify(
    *, ticket: Ticket, actor: User, text: str, registry: ChannelRegistry, translate: Translate, now: datetime
) -> bool:
    if not await Ticket.filter(id=ticket.id, fix_notified_at=None).update(fix_notified_at=now):
        return False  # told already (a second report, or a retry of this one)
    # Where an agent's reply would go (handoff.tickets.reply_conversation): never a merely claimed address.
    conversation = await reply_conversation(ticket)
    message = await send_text(
        registry=registry, conversation=conversation, ticket=ticket, sender_kind=SenderKind.AGENT, agent=actor,
        text=translate(conversation.language, "incident_fixed", ticket=ticket.number or "", fix=text),
    )
    await add_event(ticket=ticket, kind="fix_notified", actor_kind=ActorKind.AGENT, actor=actor,
                    data={"message_id": message.id})
    return True
