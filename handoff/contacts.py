"""People and their addresses: joining the contact of a newly proven address to the person's contact.

One place for the join, because the bot (a person proves an address) and the console (an agent links a
contact they found in the directory) both do it, and a join that forgets one table loses that table's
rows with the deleted contact (its foreign keys cascade).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from models import AuditLog, ChannelIdentity, Contact, ContactRole, Conversation, ProofLevel, ProofMethod, Ticket


async def merge_contacts(*, source: Contact, into: Contact) -> Contact:
    """Move everything of ``source`` (addresses, conversations, tickets) to ``into`` and delete ``source``.

    Returns ``into``. Runs in one transaction (a savepoint inside the caller's), so a failure leaves both
    contacts as they were.
    """
    if source.id == into.id:
        return into
    async with in_transaction():
        await ChannelIdentity.filter(contact_id=source.id).update(contact_id=into.id)
        await Conversation.filter(contact_id=source.id).update(contact_id=into.id)
        # Deleting the newer contact would take its tickets with it (cascade): they are the person's.
        await Ticket.filter(contact_id=source.id).update(contact_id=into.id)
        if source.phone and not into.phone:
            into.phone = source.phone
            await into.save(update_fields=["phone", "updated_at"])
        await source.delete()
    return into


@dataclass(frozen=True, slots=True)
class Person:
    """What the directory says about the person an address was proven to belong to."""

    id_number: str
    name: str
    email: str
    role: ContactRole
    faculty: str
    program: str


async def prove(
    *, identity: ChannelIdentity, person: Person, method: ProofMethod, now: datetime, language: str | None = None
) -> Contact:
    """Mark ``identity`` proven to be ``person``'s and join it to the person's contact; returns that contact.

    The one way an address becomes someone's (issue 13): the bot calls it after a code, an address on
    record or an LMS signature, the console after an agent's decision. Only this address moves: its old
    contact keeps any other address (it may be someone else's), and is deleted only when left empty, its
    tickets following the address's conversations. The person's contact is the one with the number, or
    the address's own anonymous contact when nobody has the number yet.
    """
    async with in_transaction():
        own = await Contact.get(id=identity.contact_id)
        existing = await Contact.get_or_none(id_number=person.id_number)
        if existing is None:
            others = await ChannelIdentity.filter(contact_id=own.id).exclude(id=identity.id).exists()
            if own.id_number is None and not others:
                existing = own  # an anonymous contact of this address alone becomes the person's
            else:
                existing = await Contact.create(id_number=person.id_number, role=person.role, name=person.name)
        if existing.id != own.id:
            await _move_address(identity=identity, source=own, into=existing)
        existing.id_number = person.id_number
        existing.name = person.name
        existing.email = person.email or existing.email
        existing.role = person.role
        existing.faculty = person.faculty
        existing.program = person.program
        existing.verified = True
        existing.verified_at = existing.verified_at or now
        existing.consent_at = existing.consent_at or now
        if language:
            existing.language = language
        await existing.save()
        identity.contact_id = existing.id
        identity.claimed_number = person.id_number
        identity.proof = ProofLevel.PROVEN
        identity.proof_method = method
        identity.proven_at = now
        await identity.save(update_fields=["contact_id", "claimed_number", "proof", "proof_method", "proven_at"])
        if method is not ProofMethod.AGENT:
            # Every proof is audited (issue 13). An agent's is written by handoff.verification, with the agent
            # and their reason; the bot's proofs (a code, an address on record, the LMS) have no person behind
            # them, so the record is written here, in the same transaction: which address, how, not who.
            await AuditLog.create(actor=None, action="identity.proven", target=f"identity {identity.id}",
                                  data={"identity_id": identity.id, "channel": identity.channel.value,
                                        "method": method.value})
    return existing


async def _move_address(*, identity: ChannelIdentity, source: Contact, into: Contact) -> None:
    conversations = await Conversation.filter(identity_id=identity.id).values_list("id", flat=True)
    await ChannelIdentity.filter(id=identity.id).update(contact_id=into.id)
    await Conversation.filter(id__in=list(conversations)).update(contact_id=into.id)
    await Ticket.filter(conversation_id__in=list(conversations)).update(contact_id=into.id)
    if not await ChannelIdentity.filter(contact_id=source.id).exists():
        await merge_contacts(source=source, into=into)


async def revoke(*, identity: ChannelIdentity) -> None:
    """The address is no longer proven: it keeps its claim, and nothing personal is shown there again
    until it is proven anew. Its contact is left as it is (its tickets stay the person's)."""
    identity.proof = ProofLevel.CLAIMED if identity.claimed_number else ProofLevel.NONE
    identity.proof_method = None  # type: ignore[assignment]  # nullable column
    identity.proven_at = None
    await identity.save(update_fields=["proof", "proof_method", "proven_at"])


def is_proven(identity: ChannelIdentity) -> bool:
    """Whether the bot may show this address the person's name, role and tickets: one rule, one place."""
    return identity.proof == ProofLevel.PROVEN
