"""Cross-channel: while a ticket is open, what the person writes is filed on it, on whichever of their
proven channels they write; a new channel joins the ticket with one acknowledgement.
"""

from __future__ import annotations

import logging

from tortoise.transactions import in_transaction

from bot.conversation.turn import Turn
from handoff.tickets import add_event, user_wrote
from models import ActorKind, Conversation, ConversationStatus, FlowStep, Message, Ticket, TicketStatus

log = logging.getLogger(__name__)


async def file_message(turn: Turn, ticket: Ticket, stored: Message) -> None:
    stored.ticket = ticket
    await stored.save(update_fields=["ticket_id"])
    await add_event(ticket=ticket, kind="user_message", actor_kind=ActorKind.USER, data={"message_id": stored.id})
    # Waiting on the user is over once they answer: open again, the SLA clock resumes (handoff.tickets).
    await user_wrote(ticket=ticket, now=turn.now, sla=turn.deps.sla, hours=turn.deps.hours)
    turn.deps.notify("ticket.message", {"ticket_id": ticket.id, "message_id": stored.id})


async def _open_ticket_elsewhere(turn: Turn) -> Ticket | None:
    """The ticket this person has with an agent on another of their channels, if any.

    Only a proven address counts (``handoff.contacts.is_proven``): it joined the person's contact because
    the person proved it is theirs. A claimed address (someone typed a number) has a contact of its own and
    must learn nothing of the person's tickets, so it can never reach someone else's ticket through here.
    """
    if not turn.proven:
        return None
    return (
        await Ticket.filter(
            contact_id=turn.contact.id,
            conversation__status__in=[ConversationStatus.PENDING, ConversationStatus.OPEN],
        )
        .exclude(status=TicketStatus.RESOLVED)
        .exclude(conversation_id=turn.conversation.id)
        .order_by("-id")
        .first()
    )


async def file_on_open_ticket(turn: Turn, stored: Message) -> bool:
    """A verified person with a ticket open on another channel writes here: file it there, as on the
    ticket's own channel, instead of greeting or classifying a second time (one thread for the agent).

    This conversation goes to the agent too (the ticket's own status, step WITH_AGENT), the way an agent's
    reply on another channel moves it (handoff.actions.reply): later messages here take the
    ordinary ``steps._file_on_ticket`` path, silently, and closing the ticket gives it back to the bot
    (``_release_conversations``). So the person gets one acknowledgement naming the ticket, once per ticket
    on each channel, and the agent's replies come here while this is where they wrote last
    (``handoff.tickets.reply_conversation``). Returns False, changing nothing, when there is no such ticket.
    """
    ticket = await _open_ticket_elsewhere(turn)
    if ticket is None:
        return False
    conversation = turn.conversation
    own = await Conversation.get(id=ticket.conversation_id)
    async with in_transaction():
        conversation.status = own.status  # pending until an agent takes the ticket, then open
        conversation.step = FlowStep.WITH_AGENT
        conversation.pending_question = None  # type: ignore[assignment]  # it goes to the agent, not the bot
        await conversation.save(update_fields=["status", "step", "pending_question", "updated_at"])
        # As when a ticket opens: what the person said here before (a question kept until they verified,
        # say) belongs to the ticket, so the agent reads it there.
        await Message.filter(conversation_id=conversation.id, ticket_id=None).exclude(id=stored.id).update(
            ticket_id=ticket.id
        )
        await add_event(ticket=ticket, kind="channel_joined", actor_kind=ActorKind.USER,
                        data={"channel": conversation.channel.value, "conversation_id": conversation.id,
                              "message_id": stored.id})
    # Outside the transaction: its live event must not reach the console before the rows are there.
    await file_message(turn, ticket, stored)
    log.info("conversation %s (%s) joined ticket %s", conversation.id, conversation.channel.value, ticket.number)
    # On the ticket, so a later ticket opened here does not claim it as one of its own messages.
    await turn.say_text(turn.cat.t("ticket_joined", ticket=ticket.number or ""), ticket=ticket)
    return True
