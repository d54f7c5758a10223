"""The demo directory's Budi as handoff.contacts.Person, for tests that prove an address as the bot would."""

from __future__ import annotations

from handoff.contacts import Person
from models import ContactRole

BUDI = Person(id_number="13521045", name="Budi Contoh (Fiktif)", email="budi.contoh@students.itb.ac.id",
              role=ContactRole.STUDENT, faculty="STEI", program="Teknik Informatika")
