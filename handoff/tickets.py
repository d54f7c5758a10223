"""Ticket services: keyword-only async functions returning models; every change writes a TicketEvent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from handoff import sla as sla_rule
from handoff.hours import OperatingHours
from models import (
    ActorKind,
    Category,
    ChannelIdentity,
    Conversation,
    ConversationStatus,
    FlowStep,
    HandoffReason,
    Message,
    ResolvedBy,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
)

log = logging.getLogger(__name__)



def format_number(ticket_id: int, opened_at: datetime) -> str:
    """Human-readable and sortable: CC-2611-000042 (year, month, id)."""
    return f"CC-{opened_at:%y%m}-{ticket_id:06d}"


async def add_event(
    *,
    ticket: Ticket,
    kind: str,
    actor_kind: ActorKind,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    return await TicketEvent.create(ticket=ticket, kind=kind, actor_kind=actor_kind, actor=actor, data=data or {})


async def open_ticket(
    *,
    conversation: Conversation,
    reason: HandoffReason,
    now: datetime,
    predicted_category: str | None = None,
    predicted_confidence: float | None = None,
    unverified: bool = False,
    subject: str = "",
    sla: timedelta | None = None,
    hours: OperatingHours | None = None,
) -> Ticket:
    """Hand a conversation to people: a ticket with the targets the SLA policy in force gives its category
    and priority (handoff.sla; ``sla``: the supervisor's resolution target from handoff.operations, the
    default when no SLA policy was saved; ``hours``: the operating hours, for a policy that counts them),
    the conversation waiting for an agent."""
    policy = await sla_rule.load_policy(hours=hours, resolution=sla)
    category = await Category.get_or_none(slug=predicted_category) if predicted_category else None
    async with in_transaction():
        ticket = Ticket(
            conversation=conversation,
            contact_id=conversation.contact_id,
            channel=conversation.channel,
            category=category,
            # The ticket goes to the category's team (teams see their own tickets).
            team_id=category.team_id if category is not None else None,
            predicted_category=predicted_category,
            predicted_confidence=predicted_confidence,
            status=TicketStatus.OPEN,
            reason=reason,
            unverified=unverified,
            subject=subject[:200],
            opened_at=now,
        )
        sla_rule.apply(ticket, policy, now, category=category.slug if category else None, fresh=True)
        await ticket.save()
        ticket.number = format_number(ticket.id, now)
        await ticket.save(update_fields=["number"])
        conversation.status = ConversationStatus.PENDING
        conversation.step = FlowStep.WITH_AGENT
        await conversation.save(update_fields=["status", "step", "updated_at"])
        # The messages that led here belong to the ticket, so the agent sees why it was opened.
        await Message.filter(conversation=conversation, ticket_id=None).update(ticket_id=ticket.id)
        await add_event(
            ticket=ticket,
            kind="opened",
            actor_kind=ActorKind.BOT,
            data={
                "reason": reason.value,
                "predicted_category": predicted_category,
                "confidence": predicted_confidence,
                "unverified": unverified,
                "due_at": ticket.due_at.isoformat(),
                "first_response_due_at": ticket.first_response_due_at.isoformat()
                if ticket.first_response_due_at else None,
            },
        )
    log.info("ticket %s opened for conversation %s (%s)", ticket.number, conversation.id, reason.value)
    return ticket


async def open_ticket_of(conversation: Conversation) -> Ticket | None:
    own = await Ticket.filter(conversation=conversation).exclude(status=TicketStatus.RESOLVED).order_by("-id").first()
    if own is not None or conversation.status not in (ConversationStatus.PENDING, ConversationStatus.OPEN):
        return own
    # An agent answered this person here, on the channel they wrote on last, from a ticket opened on
    # another channel (handoff.actions.reply): what they write here belongs to that ticket.
    return (
        await Ticket.filter(contact_id=conversation.contact_id)
        .exclude(status=TicketStatus.RESOLVED)
        .order_by("-id")
        .first()
    )


async def reply_conversation(ticket: Ticket) -> Conversation:
    """Where a reply on ``ticket`` goes: the conversation on the channel the person wrote on last (and
    that still reaches them), which is the ticket's own one unless they moved to another channel."""
    own = await Conversation.get(id=ticket.conversation_id)
    latest = (
        await ChannelIdentity.filter(contact_id=ticket.contact_id, unreachable=False,
                                     last_inbound_at__isnull=False)
        .order_by("-last_inbound_at", "-id")
        .first()
    )
    if latest is None or latest.id == own.identity_id:
        return own
    there = await Conversation.filter(identity_id=latest.id).order_by("-id").first()
    return there or own


async def resolve_by_bot(*, conversation: Conversation, now: datetime) -> None:
    conversation.status = ConversationStatus.RESOLVED
    conversation.step = FlowStep.DONE
    await conversation.save(update_fields=["status", "step", "updated_at"])
    log.info("conversation %s resolved by the bot", conversation.id)


async def resolve_ticket(*, ticket: Ticket, now: datetime, by: ResolvedBy, actor: User | None = None) -> Ticket:
    ticket.status = TicketStatus.RESOLVED
    ticket.resolved_at = now
    ticket.resolved_by = by
    ticket.sla_next_check_at = None  # nothing more to announce
    await ticket.save(update_fields=["status", "resolved_at", "resolved_by", "sla_next_check_at"])
    await add_event(
        ticket=ticket,
        kind="resolved",
        actor_kind=ActorKind.AGENT if actor else ActorKind.SYSTEM,
        actor=actor,
        data={"by": by.value},
    )
    return ticket
