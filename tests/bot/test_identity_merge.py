"""One person across channels: an address joins the person's contact only when proven, and then without
losing the tickets its anonymous contact had."""

from __future__ import annotations

from bot.i18n import catalog
from handoff.actions import categorize, close_ticket, take_ticket
from handoff.auth import create_user
from models import (
    Category,
    ChannelIdentity,
    ChannelKind,
    Contact,
    ProofLevel,
    ProofMethod,
    Ticket,
    TicketStatus,
    UserRole,
)
from tests.conftest import FlowHarness

NUMBER = "whatsapp:+6281200000001"
CAMPUS_MAIL = "budi.contoh@students.itb.ac.id"  # the demo directory's address for NIM 13521045


async def test_a_merge_by_nim_keeps_the_tickets_of_the_newer_contact(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("13521045")
    await flow.prove()  # proven on Telegram
    known = await Contact.get(id_number="13521045")
    for attempt in ("halo", "111", "222", "333"):  # a stranger on WhatsApp fails three times: handed off
        await flow.on(ChannelKind.WHATSAPP, NUMBER, attempt, phone="+6281200000001")
    ticket = await Ticket.get(channel=ChannelKind.WHATSAPP)
    assert ticket.unverified
    assert ticket.contact_id != known.id  # type: ignore[attr-defined]
    agent = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="x" * 12)
    taken = await take_ticket(ticket_id=ticket.id, agent=agent, now=flow.now)
    await categorize(ticket=taken.ticket, category=await Category.get(slug="akun-login"), agent=agent)
    await close_ticket(registry=flow.deps.registry, ticket=taken.ticket, agent=agent, now=flow.now,
                       translate=lambda lang, key, /, **values: catalog(lang).t(key, **values))

    await flow.on(ChannelKind.WHATSAPP, NUMBER, "halo lagi")
    replies = await flow.on(ChannelKind.WHATSAPP, NUMBER, "13521045")  # now the NIM: a claim
    assert replies[0] == catalog("id").t("identity_noted")
    assert await Contact.all().count() == 2
    await flow.prove(channel=ChannelKind.WHATSAPP, user=NUMBER)  # proven: the same person
    assert await Contact.all().count() == 1
    await ticket.refresh_from_db()  # the closed ticket survived the merge, now the known contact's
    assert (ticket.contact_id, ticket.status) == (known.id, TicketStatus.RESOLVED)  # type: ignore[attr-defined]
    assert await ChannelIdentity.filter(contact_id=known.id).count() == 2


async def test_an_address_a_proven_person_gave_does_not_join_by_itself(flow: FlowHarness) -> None:
    for text in ("halo", "13521045"):
        await flow.on(ChannelKind.WHATSAPP, NUMBER, text, phone="+6281200000001")
    await flow.prove(channel=ChannelKind.WHATSAPP, user=NUMBER)
    budi = await Contact.get(id_number="13521045")
    assert budi.phone == "+6281200000001"

    # The same number shared as a Telegram contact card proves nothing (anyone can share any card).
    greeting = await flow.on(ChannelKind.TELEGRAM, "42", "halo", phone="+6281200000001")
    assert greeting[0].startswith("Halo!")
    assert not any("Budi" in r for r in greeting)
    assert await ChannelIdentity.filter(contact=budi).count() == 1
    assert await Contact.all().count() == 2

    # A mail from the campus address the directory lists for him proves that address: his at once.
    answered = await flow.on(ChannelKind.EMAIL, CAMPUS_MAIL, "lupa password", email=CAMPUS_MAIL)
    assert answered[-1] == "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"
    assert await ChannelIdentity.filter(contact=budi).count() == 2
    mail = await ChannelIdentity.get(channel=ChannelKind.EMAIL)
    assert (mail.proof, mail.proof_method) == (ProofLevel.PROVEN, ProofMethod.ADDRESS)

    # Another campus address, not the one on record, proves nothing; nor does an outside address.
    for address in ("other@students.itb.ac.id", "budi.contoh@gmail.com"):
        greeting = await flow.on(ChannelKind.EMAIL, address, "halo", email=address)
        assert greeting[0].startswith("Halo!")
    assert await ChannelIdentity.filter(contact=budi).count() == 2


async def test_a_person_first_met_by_mail_from_their_campus_address_hears_the_privacy_notice(
    flow: FlowHarness,
) -> None:
    answered = await flow.on(ChannelKind.EMAIL, CAMPUS_MAIL, "lupa password", email=CAMPUS_MAIL)
    assert answered[0].startswith("Halo!")
    assert "UU No. 27 Tahun 2022" in answered[1]
    assert answered[-1] == "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"
    budi = await Contact.get(id_number="13521045")
    assert budi.verified
