"""Proving an address joins it, and only it, to the person's contact (issue 13), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from handoff.contacts import Person, is_proven, prove, revoke
from models import (
    AuditLog,
    ChannelIdentity,
    ChannelKind,
    Contact,
    ContactRole,
    Conversation,
    HandoffReason,
    ProofLevel,
    ProofMethod,
    Ticket,
)

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
BUDI = Person(id_number="13521045", name="Budi Santoso", email="budi@std.itb.ac.id", role=ContactRole.STUDENT,
              faculty="STEI", program="Informatika")


async def _address(contact: Contact, external_id: str, channel: ChannelKind = ChannelKind.TELEGRAM) -> ChannelIdentity:
    return await ChannelIdentity.create(contact=contact, channel=channel, external_id=external_id)


async def _ticket(identity: ChannelIdentity, number: str) -> Ticket:
    conversation = await Conversation.create(contact_id=identity.contact_id, identity=identity,
                                             channel=identity.channel)
    return await Ticket.create(number=number, conversation=conversation, contact_id=identity.contact_id,
                               channel=identity.channel, reason=HandoffReason.LOW_CONFIDENCE, subject="",
                               opened_at=NOW, due_at=NOW)


async def test_an_anonymous_address_alone_becomes_the_person(db: str) -> None:
    anon = await Contact.create()
    address = await _address(anon, "111")
    contact = await prove(identity=address, person=BUDI, method=ProofMethod.CODE, now=NOW, language="en")
    await address.refresh_from_db()
    assert contact.id == anon.id
    assert (contact.id_number, contact.name, contact.verified, contact.language) == ("13521045", "Budi Santoso",
                                                                                    True, "en")
    assert (address.proof, address.proof_method, address.proven_at, address.claimed_number) == (
        ProofLevel.PROVEN, ProofMethod.CODE, NOW, "13521045")
    assert is_proven(address)


async def test_a_proven_address_joins_the_person_with_its_tickets(db: str) -> None:
    person = await Contact.create(id_number="13521045", name="Budi Santoso", verified=True)
    await _address(person, "111")
    anon = await Contact.create()
    address = await _address(anon, "web-9", ChannelKind.WEBCHAT)
    ticket = await _ticket(address, "T-1")
    contact = await prove(identity=address, person=BUDI, method=ProofMethod.LMS, now=NOW)
    assert contact.id == person.id
    assert await ChannelIdentity.filter(contact_id=person.id).count() == 2
    assert (await Ticket.get(id=ticket.id)).contact_id == person.id
    assert not await Contact.filter(id=anon.id).exists()  # left empty, so gone


async def test_only_the_proven_address_moves_off_a_shared_contact(db: str) -> None:
    # A contact with two addresses, one of which turns out to be Budi's: the other stays where it was,
    # with its own ticket, because nothing says it is Budi's too.
    shared = await Contact.create()
    mine = await _address(shared, "111")
    other = await _address(shared, "222")
    my_ticket = await _ticket(mine, "T-1")
    other_ticket = await _ticket(other, "T-2")
    contact = await prove(identity=mine, person=BUDI, method=ProofMethod.AGENT, now=NOW)
    assert contact.id != shared.id
    assert (await ChannelIdentity.get(id=other.id)).contact_id == shared.id
    assert (await Ticket.get(id=my_ticket.id)).contact_id == contact.id
    assert (await Ticket.get(id=other_ticket.id)).contact_id == shared.id


async def test_revoking_keeps_the_claim_and_the_contact(db: str) -> None:
    anon = await Contact.create()
    address = await _address(anon, "111")
    await prove(identity=address, person=BUDI, method=ProofMethod.ADDRESS, now=NOW)
    await revoke(identity=address)
    await address.refresh_from_db()
    assert (address.proof, address.proof_method, address.proven_at, address.claimed_number) == (
        ProofLevel.CLAIMED, None, None, "13521045")
    assert not is_proven(address)
    assert address.contact_id == anon.id


async def test_a_proof_by_the_bot_is_audited_and_an_agents_is_left_to_the_agents_audit(db: str) -> None:
    code = await _address(await Contact.create(), "111")
    await prove(identity=code, person=BUDI, method=ProofMethod.CODE, now=NOW)
    by_agent = await _address(await Contact.create(), "222")
    await prove(identity=by_agent, person=BUDI, method=ProofMethod.AGENT, now=NOW)
    rows = await AuditLog.all().values("actor_id", "action", "data")
    assert rows == [{"actor_id": None, "action": "identity.proven",
                     "data": {"identity_id": code.id, "channel": "telegram", "method": "code"}}]
