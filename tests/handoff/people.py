"""The demo directory's Budi as handoff.contacts.Person, and proving an address as the bot would, for tests."""

from __future__ import annotations

from datetime import UTC, datetime

from handoff.contacts import Person, prove
from models import ChannelIdentity, ChannelKind, Contact, ContactRole, ProofMethod

BUDI = Person(id_number="13521045", name="Budi Contoh (Fiktif)", email="budi.contoh@students.itb.ac.id",
              role=ContactRole.STUDENT, faculty="STEI", program="Teknik Informatika")


async def proven(channel: ChannelKind, external_id: str, method: ProofMethod) -> None:
    """Prove an address to be its contact's directory person, as the bot does after a code, an address on
    record or an LMS signature (issue 13): for tests whose point is a reply reaching that address."""
    identity = await ChannelIdentity.get(channel=channel, external_id=external_id)
    contact = await Contact.get(id=identity.contact_id)
    assert contact.id_number is not None
    person = Person(id_number=contact.id_number, name=contact.name, email=contact.email, role=contact.role,
                    faculty=contact.faculty, program=contact.program)
    await prove(identity=identity, person=person, method=method, now=datetime.now(UTC))
