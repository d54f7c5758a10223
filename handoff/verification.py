"""An agent's identity decisions on a ticket (SOP step 3, issue 13): look a person up in the directory, prove
one of the ticket's addresses to be theirs, or revoke that proof.

Proof itself is ``handoff.contacts.prove`` / ``revoke`` (the one way an address becomes a person's); this
module adds what an agent's decision needs around it: the owner (or a supervisor) decides, only about an
address of the ticket's person or the ticket's own, always with a reason, recorded as a ticket event and in
the audit log. The console views and /api/v1 call these, so both refuse the same bad input the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from handoff.actions import ConsoleError, ForbiddenError, audit, can_act
from handoff.contacts import Person, is_proven, prove, revoke
from handoff.tickets import add_event
from handoff.webinput import clean_text, fits
from models import ActorKind, ChannelIdentity, Contact, Conversation, DirectoryEntry, ProofMethod, Ticket, User

log = logging.getLogger(__name__)

MAX_RESULTS = 10  # a page an agent reads; the directory is not for browsing
MIN_QUERY_CHARS = 3  # fewer matches half the directory
MAX_QUERY_CHARS = 100
MAX_REASON_CHARS = 500
# The directory's own words for a person who may use the service; anything else is shown as it is.
KNOWN_STATUSES = frozenset({"active", "inactive", "graduated"})


@dataclass(frozen=True, slots=True)
class DirectoryHits:
    entries: list[DirectoryEntry]
    more: bool  # there were more than MAX_RESULTS matches


async def search_directory(query: str) -> DirectoryHits:
    """Entries whose number starts with ``query`` (digits), whose e-mail contains it (with an @), or whose
    name contains it; at most ``MAX_RESULTS``, so any query is one bounded, indexed-or-scanned read."""
    text = " ".join(clean_text(query).split())
    if len(text) < MIN_QUERY_CHARS:
        raise ConsoleError("error_query_too_short", 400)
    if len(text) > MAX_QUERY_CHARS:
        raise ConsoleError("error_query_too_long", 400)
    if text.isdigit():
        found = DirectoryEntry.filter(id_number__startswith=text)
    elif "@" in text:
        found = DirectoryEntry.filter(email__icontains=text)
    else:
        found = DirectoryEntry.filter(Q(name__icontains=text) | Q(id_number__istartswith=text))
    rows = await found.order_by("id_number").limit(MAX_RESULTS + 1)
    return DirectoryHits(entries=rows[:MAX_RESULTS], more=len(rows) > MAX_RESULTS)


def status_key(status: str) -> str:
    """The catalogue key that names a directory status (``directory_status_other`` for one we do not know)."""
    return f"directory_status_{status}" if status in KNOWN_STATUSES else "directory_status_other"


def written_reason(reason: object) -> str:
    """Every identity decision says why: required, one line, bounded."""
    text = " ".join(clean_text(reason).split()) if isinstance(reason, str) else ""
    if not text:
        raise ConsoleError("error_reason_required", 400)
    if len(text) > MAX_REASON_CHARS:
        raise ConsoleError("error_reason_too_long", 400)
    return text


async def ticket_address(ticket: Ticket, identity_id: int | None) -> ChannelIdentity:
    """An address an agent may decide about on this ticket: the ticket's own (``None``: that one), or one of
    its person's. Any other (another person's, a forged id) is refused before anything changes."""
    own = await Conversation.get(id=ticket.conversation_id)
    wanted = own.identity_id if identity_id is None else identity_id
    identity = await ChannelIdentity.get_or_none(id=wanted)
    if identity is None or (identity.id != own.identity_id and
                            identity.contact_id != ticket.contact_id):
        raise ConsoleError("error_not_this_contact", 400)
    return identity


async def agent_prove(
    *, ticket: Ticket, agent: User, identity_id: int | None, id_number: str | None, reason: str, now: datetime
) -> Contact:
    """The agent decides that an address of this ticket is the directory person ``id_number``'s (``None``:
    the number the address claims, or its contact's). Joins the address to that person (handoff.contacts.prove,
    method agent) and returns the person's contact."""
    if not can_act(agent, ticket):
        raise ForbiddenError
    reason = written_reason(reason)
    identity = await ticket_address(ticket, identity_id)
    if id_number is None:
        contact = await Contact.get(id=identity.contact_id)
        id_number = identity.claimed_number or contact.id_number
        if not id_number:
            raise ConsoleError("error_no_claim", 400)
    entry = await DirectoryEntry.get_or_none(id_number=id_number.strip()) if fits(
        id_number.strip(), DirectoryEntry, "id_number") else None
    if entry is None:
        raise ConsoleError("error_unknown_number", 400)
    person = Person(id_number=entry.id_number, name=entry.name, email=entry.email, role=entry.role,
                    faculty=entry.faculty, program=entry.program)
    own = identity.id == (await Conversation.get(id=ticket.conversation_id)).identity_id
    contact = await prove(identity=identity, person=person, method=ProofMethod.AGENT, now=now)
    if own:  # the ticket is no longer "claimed, not proven"
        await Ticket.filter(id=ticket.id).update(unverified=False)
    await ticket.refresh_from_db()
    data = {"address": identity.id, "channel": identity.channel.value, "reason": reason,
            "directory_status": entry.status}
    await add_event(ticket=ticket, kind="identity_proven", actor_kind=ActorKind.AGENT, actor=agent, data=data)
    await audit(actor=agent, action="identity.prove", target=ticket.number or str(ticket.id),
                data={**data, "id_number": entry.id_number, "contact": contact.id})
    log.info("address %s proven by agent %s on ticket %s", identity.id, agent.id, ticket.number)
    return contact


async def agent_revoke(*, ticket: Ticket, agent: User, identity_id: int | None, reason: str) -> ChannelIdentity:
    """The agent takes back a proof: nothing personal goes to that address until it is proven anew."""
    if not can_act(agent, ticket):
        raise ForbiddenError
    reason = written_reason(reason)
    identity = await ticket_address(ticket, identity_id)
    if not is_proven(identity):
        raise ConsoleError("error_not_proven", 400)
    method = identity.proof_method.value if identity.proof_method else None
    await revoke(identity=identity)
    if identity.id == (await Conversation.get(id=ticket.conversation_id)).identity_id:
        await Ticket.filter(id=ticket.id).update(unverified=True)
    await ticket.refresh_from_db()
    data = {"address": identity.id, "channel": identity.channel.value, "reason": reason, "was": method}
    await add_event(ticket=ticket, kind="identity_revoked", actor_kind=ActorKind.AGENT, actor=agent, data=data)
    await audit(actor=agent, action="identity.revoke", target=ticket.number or str(ticket.id), data=data)
    log.info("address %s proof revoked by agent %s on ticket %s", identity.id, agent.id, ticket.number)
    return identity
