"""What agents and supervisors do to a ticket. Keyword-only async functions returning models; every change
writes a TicketEvent (the ticket's story) and an AuditLog row (who did what in the console).

Views and the API stay thin: they check the session and CSRF, then call these. Role and ownership are
checked here too, so no entry point can forget them. The helpdesk's own room (not the console's): the
console views, /api/v1, the bot and the scheduler all call it, and it imports nothing of ``handoff.console``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import aiohttp

from handoff import audit_log, reply_window, sla
from handoff.attachments import MAX_FILES_PER_MESSAGE, AttachmentStore, NewFile
from handoff.categorization import agrees_with_guess, is_confirmed
from handoff.delivery import Button, Capabilities, ChannelRegistry, send_text
from handoff.escalation_mail import Mailer, queue_escalation_mail, send_escalation_mail
from handoff.survey import link_secret, make_link_token, survey_url
from handoff.tickets import ReplyTargetError, add_event, reply_conversation, resolve_ticket
from handoff.webinput import clean_text
from models import (
    ActorKind,
    Category,
    ChannelIdentity,
    Contact,
    Conversation,
    ConversationStatus,
    FlowStep,
    Incident,
    IncidentStatus,
    Message,
    Priority,
    ResolvedBy,
    SenderKind,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    UserRole,
)

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 4000
MAX_TITLE_CHARS = 200
WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=10)


class Translate(Protocol):
    """The end-user message catalogue, handed in by the app (handoff never imports bot)."""

    def __call__(self, lang: str, key: str, /, **values: object) -> str: ...


class ConsoleError(Exception):
    """An action that cannot be done; ``code`` is a key of the console catalogue shown to the agent."""

    def __init__(self, code: str, status: int = 409) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


class ForbiddenError(ConsoleError):
    def __init__(self) -> None:
        super().__init__("error_forbidden", 403)


@dataclass(frozen=True, slots=True)
class TakeResult:
    ticket: Ticket
    taken: bool  # False: someone else was first
    owner: User | None


# The console and the API call ``actions.audit``; its one writer is handoff.audit_log.
audit = audit_log.audit


def is_supervisor(user: User) -> bool:
    return user.role == UserRole.SUPERVISOR


def can_act(user: User, ticket: Ticket) -> bool:
    """The owner acts on a ticket; a supervisor acts on any. Nobody acts on a ticket by guessing its id."""
    return is_supervisor(user) or ticket.assignee_id == user.id


def _require_owner(user: User, ticket: Ticket) -> None:
    if not can_act(user, ticket):
        raise ForbiddenError


def _require_open(ticket: Ticket) -> None:
    if ticket.status == TicketStatus.RESOLVED:
        raise ConsoleError("error_closed")


def written_text(text: str) -> str:
    """What an agent wrote, as it is stored: storable (handoff.webinput.clean_text, the one rule for that),
    not empty and not longer than a chat message may be."""
    text = clean_text(text).replace("\r\n", "\n").strip()
    if not text:
        raise ConsoleError("error_empty", 400)
    if len(text) > MAX_TEXT_CHARS:
        raise ConsoleError("error_too_long", 400)
    return text


async def take_ticket(*, ticket_id: int, agent: User, now: datetime) -> TakeResult:
    """Claim an unassigned ticket. The conditional UPDATE is the lock: of two agents clicking at once,
    the database lets exactly one change the row, and the other learns who was first."""
    updated = (
        await Ticket.filter(id=ticket_id, assignee_id=None)
        .exclude(status=TicketStatus.RESOLVED)
        .update(assignee_id=agent.id)
    )
    ticket = await Ticket.get(id=ticket_id)
    if not updated:
        owner = await User.get_or_none(id=ticket.assignee_id) if ticket.assignee_id else None
        return TakeResult(ticket=ticket, taken=False, owner=owner)
    await Conversation.filter(id=ticket.conversation_id).update(
        status=ConversationStatus.OPEN, updated_at=now
    )
    await add_event(ticket=ticket, kind="taken", actor_kind=ActorKind.AGENT, actor=agent)
    await audit(actor=agent, action="ticket.take", target=ticket.number or str(ticket.id))
    log.info("ticket %s taken by user %s", ticket.number, agent.id)
    return TakeResult(ticket=ticket, taken=True, owner=agent)


async def assign_ticket(*, ticket: Ticket, assignee: User, actor: User, now: datetime) -> Ticket:
    """Transfer: the owner hands over, or a supervisor assigns anyone's ticket."""
    _require_open(ticket)
    if not is_supervisor(actor) and ticket.assignee_id not in (None, actor.id):
        raise ForbiddenError
    if not assignee.active:
        raise ConsoleError("error_inactive_user", 400)
    previous = ticket.assignee_id
    ticket.assignee = assignee
    await ticket.save(update_fields=["assignee_id"])
    await Conversation.filter(id=ticket.conversation_id).update(
        status=ConversationStatus.OPEN, updated_at=now
    )
    await add_event(ticket=ticket, kind="assigned", actor_kind=ActorKind.AGENT, actor=actor,
                    data={"from": previous, "to": assignee.id})
    await audit(actor=actor, action="ticket.assign", target=ticket.number or str(ticket.id),
                data={"from": previous, "to": assignee.id})
    return ticket


def _check_files(files: list[NewFile], store: AttachmentStore | None) -> None:
    """Every file is checked before anything is stored or sent: a reply goes whole or not at all."""
    if not files:
        return
    if store is None:
        raise ConsoleError("error_attachments_off", 400)
    if len(files) > MAX_FILES_PER_MESSAGE:
        raise ConsoleError("error_attachment_too_many", 400)
    for new in files:
        reason = store.policy.refusal(new.content_type, len(new.data))
        if reason is not None:
            raise ConsoleError(f"error_attachment_{reason}", 400)


async def reply(
    *,
    registry: ChannelRegistry,
    ticket: Ticket,
    agent: User,
    text: str,
    now: datetime,
    files: list[NewFile] | None = None,
    store: AttachmentStore | None = None,
    to: int | None = None,
) -> Message:
    """Send the agent's words (and files) through the channel the user wrote on, as the bot's would go;
    ``to``: the address the agent chose (handoff.tickets.reply_targets), checked before anything is sent."""
    _require_owner(agent, ticket)
    _require_open(ticket)
    files = files or []
    # Files alone are a reply too; words alone must not be empty.
    text = written_text(text) if text.strip() or not files else ""
    _check_files(files, store)
    conversation = await reply_to(ticket, to)
    message = await send_text(registry=registry, conversation=conversation, text=text,
                              sender_kind=SenderKind.AGENT, agent=agent, ticket=ticket, files=files, store=store)
    await Ticket.filter(id=ticket.id, first_response_at=None).update(first_response_at=now)
    if ticket.status == TicketStatus.PENDING:  # the user was waiting on us, not the other way round
        await Ticket.filter(id=ticket.id).update(status=TicketStatus.OPEN)
    # The first response stops that target's notices; a paused clock resumes with the status.
    await sla.refresh(await Ticket.get(id=ticket.id), now=now)
    conversation.status = ConversationStatus.OPEN
    conversation.step = FlowStep.WITH_AGENT  # on another channel than the ticket's, the bot must keep quiet too
    conversation.last_message_at = now
    await conversation.save(update_fields=["status", "step", "last_message_at", "updated_at"])
    if conversation.id != ticket.conversation_id:
        await Conversation.filter(id=ticket.conversation_id).update(
            status=ConversationStatus.OPEN, updated_at=now
        )
    await ticket.refresh_from_db()
    await add_event(ticket=ticket, kind="agent_reply", actor_kind=ActorKind.AGENT, actor=agent,
                    data={"message_id": message.id, **({"attachments": len(files)} if files else {})})
    await audit(actor=agent, action="ticket.reply", target=ticket.number or str(ticket.id),
                data={"message_id": message.id, **({"attachments": len(files)} if files else {})})
    return message


async def reply_to(ticket: Ticket, to: int | None) -> Conversation:
    """handoff.tickets.reply_conversation, with a forged or stale choice as the agent's clear error."""
    try:
        return await reply_conversation(ticket, to=to)
    except ReplyTargetError:
        raise ConsoleError("error_reply_target", 400) from None


async def add_note(*, ticket: Ticket, agent: User, text: str) -> TicketEvent:
    """A private note is a ticket event, not a message: the outbox never sees it, so it cannot be sent."""
    _require_owner(agent, ticket)
    event = await add_event(ticket=ticket, kind="note", actor_kind=ActorKind.AGENT, actor=agent,
                            data={"text": written_text(text)})
    await audit(actor=agent, action="ticket.note", target=ticket.number or str(ticket.id))
    return event


async def categorize(*, ticket: Ticket, category: Category, agent: User, now: datetime | None = None) -> Ticket:
    """The agent's category: the classifier's guess kept (one click) or another one chosen. Either way the
    category is now confirmed (handoff.categorization), by this agent, at ``now`` (the caller's clock;
    without one, the time the event row gets). Also on a closed ticket: a supervisor confirms the
    category of one the system closed."""
    _require_owner(agent, ticket)
    if not category.active:
        raise ConsoleError("error_inactive_category", 400)
    previous = ticket.category_id
    agreed = agrees_with_guess(category, ticket.predicted_category)
    ticket.category = category
    ticket.team_id = category.team_id  # the team follows the category
    ticket.category_confirmed_at = now or datetime.now(UTC)
    ticket.category_confirmed_by = agent
    ticket.category_agreed = agreed
    await ticket.save(update_fields=["category_id", "team_id", "category_confirmed_at", "category_confirmed_by_id",
                                     "category_agreed"])
    if ticket.category_id != previous:  # another category may have other targets
        await sla.refresh(ticket, now=ticket.category_confirmed_at, retarget=True)
    data = {"from": previous, "to": category.slug, "predicted": ticket.predicted_category, "agreed": agreed}
    await add_event(ticket=ticket, kind="categorized", actor_kind=ActorKind.AGENT, actor=agent, data=data)
    await audit(actor=agent, action="ticket.categorize", target=ticket.number or str(ticket.id), data=data)
    return ticket


async def set_priority(*, ticket: Ticket, agent: User, priority: Priority, now: datetime) -> Ticket:
    """Change the ticket's priority; its SLA targets follow the policy's rule for the new priority."""
    _require_owner(agent, ticket)
    _require_open(ticket)
    previous = ticket.priority
    ticket.priority = priority
    await ticket.save(update_fields=["priority"])
    await sla.refresh(ticket, now=now, retarget=True)
    data = {"from": previous.value, "to": priority.value}
    await add_event(ticket=ticket, kind="priority", actor_kind=ActorKind.AGENT, actor=agent, data=data)
    await audit(actor=agent, action="ticket.priority", target=ticket.number or str(ticket.id), data=data)
    return ticket


async def set_waiting(*, ticket: Ticket, agent: User, waiting: bool, now: datetime | None = None) -> Ticket:
    """Mark the ticket as waiting on the user (the queue's "waiting" view), or back to open; the SLA clock
    pauses meanwhile when the policy says so (handoff.sla)."""
    _require_owner(agent, ticket)
    _require_open(ticket)
    ticket.status = TicketStatus.PENDING if waiting else TicketStatus.OPEN
    await ticket.save(update_fields=["status"])
    await sla.refresh(ticket, now=now or datetime.now(UTC))
    await add_event(ticket=ticket, kind="status", actor_kind=ActorKind.AGENT, actor=agent,
                    data={"status": ticket.status.value})
    await audit(actor=agent, action="ticket.status", target=ticket.number or str(ticket.id),
                data={"status": ticket.status.value})
    return ticket


async def close_ticket(
    *,
    registry: ChannelRegistry,
    ticket: Ticket,
    agent: User,
    now: datetime,
    translate: Translate,
    public_url: str = "",
    link_secret_key: str = "",
    survey_template: bool = False,
) -> Ticket:
    """Resolve by an agent, give the conversation back to the bot, and ask for a 1-5 rating once.

    Outside the WhatsApp window the survey goes out as the approved "survey" template when
    ``survey_template`` says one is configured (the channel picks it: the message has buttons), and is
    skipped otherwise: a free-form one would be refused (Twilio 63016).
    """
    _require_owner(agent, ticket)
    _require_open(ticket)
    if not is_confirmed(ticket):  # SOP step 7: a guess nobody confirmed is not the ticket's category
        raise ConsoleError("error_category_unconfirmed", 409)
    await resolve_ticket(ticket=ticket, now=now, by=ResolvedBy.AGENT, actor=agent)
    await audit(actor=agent, action="ticket.close", target=ticket.number or str(ticket.id))
    # The survey goes where the person wrote last; the ticket's own conversation returns to the bot too.
    conversation = await reply_conversation(ticket)
    contact = await Contact.get(id=conversation.contact_id)
    back_to_bot = FlowStep.AWAITING_QUESTION if contact.verified else FlowStep.NEW
    await _release_conversations(contact_id=contact.id, keep=conversation.id, step=back_to_bot, now=now)
    conversation.status = ConversationStatus.BOT
    conversation.step = back_to_bot
    identity = await ChannelIdentity.get(id=conversation.identity_id)
    # A channel with a reply window (WhatsApp) takes a free-form survey only inside it (handoff.reply_window).
    window_closed = not reply_window.is_open(conversation.channel, identity.last_inbound_at, now)
    if window_closed and not survey_template:
        await add_event(ticket=ticket, kind="survey_skipped", actor_kind=ActorKind.SYSTEM,
                        data={"reason": "whatsapp_window_closed"})
    elif await Ticket.filter(id=ticket.id, survey_sent_at=None).update(survey_sent_at=now):
        conversation.step = FlowStep.AWAITING_SURVEY
        lang = conversation.language
        channel = registry.get(conversation.channel)
        text = await _survey_text(ticket=ticket, capabilities=channel.capabilities if channel else Capabilities(),
                                  lang=lang, now=now, translate=translate, public_url=public_url,
                                  secret_key=link_secret_key)
        await send_text(
            registry=registry, conversation=conversation, ticket=ticket, sender_kind=SenderKind.SYSTEM, text=text,
            buttons=tuple(Button(translate(lang, f"survey_button_{n}"), str(n)) for n in range(1, 6)),
        )
        await add_event(ticket=ticket, kind="survey_sent", actor_kind=ActorKind.SYSTEM,
                        data={"template": window_closed} if window_closed else None)
    await conversation.save(update_fields=["status", "step", "updated_at"])
    await ticket.refresh_from_db()
    return ticket


async def _release_conversations(*, contact_id: int, keep: int, step: FlowStep, now: datetime) -> None:
    """Conversations that were with an agent only for a ticket now closed go back to the bot."""
    waiting = await Conversation.filter(
        contact_id=contact_id, status__in=[ConversationStatus.OPEN, ConversationStatus.PENDING]
    ).exclude(id=keep)
    for other in waiting:
        if not await Ticket.filter(conversation_id=other.id).exclude(status=TicketStatus.RESOLVED).exists():
            await Conversation.filter(id=other.id).update(status=ConversationStatus.BOT, step=step, updated_at=now)
async def _survey_text(
    *, ticket: Ticket, capabilities: Capabilities, lang: str, now: datetime, translate: Translate,
    public_url: str, secret_key: str,
) -> str:
    """Buttons carry the rating where the channel has them (Telegram, WhatsApp, the web chat); a channel
    without (e-mail) gets a link per rating to the signed survey page (handoff.survey_web), which also takes
    a comment, and a channel on our own pages (the web chat) that page's link as well."""
    number = ticket.number or ""
    # Links read outside our pages must be absolute, so without PUBLIC_URL such a channel gets the question.
    if not capabilities.buttons and (public_url or not capabilities.absolute_links):
        token = make_link_token(ticket_id=ticket.id, secret=await link_secret(secret_key), clock=lambda: now)
        lines = [
            translate(lang, "survey_email_line", rating=n, label=translate(lang, f"survey_rating_{n}"),
                      url=survey_url(public_url, token, n))
            for n in range(1, 6)
        ]
        return translate(lang, "survey_ask_email", ticket=number) + "\n\n" + "\n".join(lines)
    text = translate(lang, "survey_ask", ticket=number)
    if not capabilities.absolute_links:  # our own pages: a relative link works without PUBLIC_URL
        token = make_link_token(ticket_id=ticket.id, secret=await link_secret(secret_key), clock=lambda: now)
        text += "\n" + translate(lang, "survey_link", url=survey_url(public_url, token))
    return text


async def report_fix(*, ticket: Ticket, agent: User, text: str) -> Ticket:
    """The developer team's fix, reported back on the ticket: it returns to the agent as an open ticket."""
    _require_owner(agent, ticket)
    if ticket.status != TicketStatus.ESCALATED:
        raise ConsoleError("error_not_escalated")
    text = written_text(text)
    ticket.status = TicketStatus.OPEN
    await ticket.save(update_fields=["status"])
    await add_event(ticket=ticket, kind="fix_reported", actor_kind=ActorKind.AGENT, actor=agent, data={"text": text})
    await audit(actor=agent, action="ticket.fix_reported", target=ticket.number or str(ticket.id))
    return ticket


async def escalate(
    *,
    ticket: Ticket,
    agent: User,
    now: datetime,
    summary: str,
    webhook_url: str = "",
    webhook_secret: str = "",
    ticket_url: str = "",
    session: aiohttp.ClientSession | None = None,
    incident_id: int | None = None,
    incident_title: str = "",
    email_to: tuple[str, ...] = (),
    mailer: Mailer | None = None,
) -> Ticket:
    """Hand the ticket to the Edunex developer team: status escalated, linked to an open incident (or a new
    one titled ``incident_title``), and the summary to their webhook and/or mailbox."""
    _require_owner(agent, ticket)
    _require_open(ticket)
    summary = summary.strip()[:MAX_TEXT_CHARS]
    incident: Incident | None = None
    if incident_id is not None:
        incident = await Incident.get_or_none(id=incident_id, status=IncidentStatus.OPEN)
        if incident is None:
            raise ConsoleError("error_unknown_incident", 400)
    elif incident_title.strip():
        incident = await Incident.create(title=" ".join(incident_title.split())[:MAX_TITLE_CHARS], created_by=agent)
        await audit(actor=agent, action="incident.open", target=str(incident.id))
    ticket.status = TicketStatus.ESCALATED
    ticket.escalated_at = now
    fields = ["status", "escalated_at"]
    if incident is not None:
        ticket.incident = incident
        fields.append("incident_id")
    await ticket.save(update_fields=fields)
    await add_event(ticket=ticket, kind="escalated", actor_kind=ActorKind.AGENT, actor=agent,
                    data={"summary": summary, **({"incident": incident.id} if incident else {})})
    await audit(actor=agent, action="ticket.escalate", target=ticket.number or str(ticket.id),
                data={"incident": incident.id} if incident else None)
    if webhook_url:
        delivered = await _post_escalation(ticket, summary, now=now, url=webhook_url, secret=webhook_secret,
                                           ticket_url=ticket_url, session=session)
        await add_event(ticket=ticket, kind="escalation_webhook", actor_kind=ActorKind.SYSTEM,
                        data={"delivered": delivered})
    if email_to:
        row = await queue_escalation_mail(ticket=ticket, summary=summary, recipients=email_to, ticket_url=ticket_url)
        await send_escalation_mail(row=row, mailer=mailer, now=now)
    return ticket


async def _post_escalation(
    ticket: Ticket, summary: str, *, now: datetime, url: str, secret: str, ticket_url: str,
    session: aiohttp.ClientSession | None,
) -> bool:
    await ticket.fetch_related("category")
    # The developers need the problem, not the person: no name, phone or NIM leaves in this payload.
    payload = {
        "event": "ticket.escalated",
        "ticket": ticket.number,
        "ticket_id": ticket.id,
        "channel": ticket.channel.value,
        "category": ticket.category.slug if ticket.category else None,
        "subject": ticket.subject,
        "summary": summary,
        "opened_at": ticket.opened_at.isoformat(),
        "escalated_at": now.isoformat(),
        "url": ticket_url,
        "incident": ticket.incident_id,
    }
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if secret:  # lets the receiver check the call came from us
        headers["X-Carecenter-Signature"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    own = session is None
    client = session or aiohttp.ClientSession(timeout=WEBHOOK_TIMEOUT)
    try:
        async with client.post(url, data=body, headers=headers) as response:
            if response.status >= 300:
                log.warning("escalation webhook for ticket %s answered %s", ticket.number, response.status)
                return False
            return True
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("escalation webhook for ticket %s failed: %s", ticket.number, type(exc).__name__)
        return False
    finally:
        if own:
            await client.close()
