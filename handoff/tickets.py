"""Ticket services: keyword-only async functions returning models; every change writes a TicketEvent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from handoff import sla as sla_rule
from handoff.contacts import is_proven
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


async def user_wrote(
    *, ticket: Ticket, now: datetime, sla: timedelta | None = None, hours: OperatingHours | None = None
) -> bool:
    """The user wrote on their ticket: one that was waiting on them (``TicketStatus.PENDING``, set by an agent)
    is open again, and its SLA clock resumes when the policy paused it (handoff.sla.follow_status moves the
    due times by the paused span). A ticket event records it. Returns whether the ticket was reopened.

    The UPDATE is conditional on the status, so an agent who changed it meanwhile wins and nothing is
    recorded twice. ``sla`` and ``hours``: the environment's defaults, as for ``open_ticket``."""
    if ticket.status != TicketStatus.PENDING:
        return False
    if not await Ticket.filter(id=ticket.id, status=TicketStatus.PENDING).update(status=TicketStatus.OPEN):
        return False
    await ticket.refresh_from_db()
    await sla_rule.refresh(ticket, now=now, policy=await sla_rule.load_policy(hours=hours, resolution=sla))
    await add_event(ticket=ticket, kind="status", actor_kind=ActorKind.USER,
                    data={"status": TicketStatus.OPEN.value, "because": "user_message"})
    return True


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


def may_reply_to(identity: ChannelIdentity, *, own_identity_id: int) -> bool:
    """Whether a reply on a ticket opened on the address ``own_identity_id`` may go to ``identity``, an
    address of the ticket's person: the one rule behind ``reply_targets`` and the channels the console and
    the API offer (handoff.reachability). The ticket's own address always (whoever opened it is who we
    answer); another only when PROVEN (handoff.contacts.is_proven)."""
    return identity.id == own_identity_id or is_proven(identity)


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """An address a reply on a ticket may go to, with the conversation there."""

    identity: ChannelIdentity
    conversation: Conversation
    own: bool  # the address the ticket was opened on


async def reply_targets(ticket: Ticket) -> list[ReplyTarget]:
    """Where a reply on ``ticket`` may go (issue 13): the address the ticket was opened on (whoever opened
    it is who we answer), and every PROVEN address of the ticket's person (handoff.contacts.is_proven).
    Never an address merely claimed: after the upgrade a person's contact can hold a stranger's session
    that typed their NIM. The ticket's own address comes first."""
    own = await Conversation.get(id=ticket.conversation_id)
    own_identity = await ChannelIdentity.get(id=own.identity_id)
    targets = [ReplyTarget(identity=own_identity, conversation=own, own=True)]
    proven = [
        identity
        for identity in await ChannelIdentity.filter(contact_id=ticket.contact_id).exclude(id=own_identity.id)
        .order_by("id")
        if may_reply_to(identity, own_identity_id=own_identity.id)
    ]
    latest: dict[int, Conversation] = {}
    for conversation in await Conversation.filter(identity_id__in=[i.id for i in proven]).order_by("id"):
        latest[conversation.identity_id] = conversation
    targets += [ReplyTarget(identity=i, conversation=latest[i.id], own=False) for i in proven if i.id in latest]
    return targets


async def reply_conversation(ticket: Ticket, *, to: int | None = None) -> Conversation:
    """Where a reply on ``ticket`` goes: the one rule for agent replies, surveys and incident notices.

    ``to``: the address (ChannelIdentity id) an agent chose among ``reply_targets``; anything else is
    refused with ``ReplyTargetError`` before anything is sent. Without a choice: of those targets, the one
    the person wrote on last and that still reaches them (they may have moved to another proven channel),
    else the ticket's own.
    """
    targets = await reply_targets(ticket)
    if to is not None:
        for target in targets:
            if target.identity.id == to:
                return target.conversation
        raise ReplyTargetError(to)
    return default_target(targets).conversation


def default_target(targets: list[ReplyTarget]) -> ReplyTarget:
    """The target a reply goes to when the agent does not choose: see ``reply_conversation``."""
    reachable = [t for t in targets if not t.identity.unreachable and t.identity.last_inbound_at is not None]
    if not reachable:
        return targets[0]
    # Ties (same moment) go to the ticket's own address, then the newest address.
    return max(reachable, key=lambda t: (t.identity.last_inbound_at, t.own, t.identity.id))


class ReplyTargetError(Exception):
    """An address that is neither the ticket's own nor a proven one of its person (a forged choice)."""


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
