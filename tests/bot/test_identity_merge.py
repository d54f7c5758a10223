"""One person across channels: joining a verified contact by the address a channel vouches for, and
merging by NIM without losing the newer contact's tickets."""

from __future__ import annotations

from bot.i18n import catalog
from handoff.actions import categorize, close_ticket, take_ticket
from handoff.auth import create_user
from models import Category, ChannelIdentity, ChannelKind, Contact, Ticket, TicketStatus, UserRole
from tests.conftest import FlowHarness

NUMBER = "whatsapp:+6281200000001"


async def test_a_merge_by_nim_keeps_the_tickets_of_the_newer_contact(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("13521045")  # verified on Telegram
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
    replies = await flow.on(ChannelKind.WHATSAPP, NUMBER, "13521045")  # now the NIM: the same person
    assert replies[0].startswith("Terima kasih, Kak Budi")
    assert await Contact.all().count() == 1
    await ticket.refresh_from_db()  # the closed ticket survived the merge, now the known contact's
    assert (ticket.contact_id, ticket.status) == (known.id, TicketStatus.RESOLVED)  # type: ignore[attr-defined]
    assert await ChannelIdentity.filter(contact_id=known.id).count() == 2


async def test_a_verified_address_joins_at_once_and_an_unverified_one_does_not(flow: FlowHarness) -> None:
    for text in ("halo", "13521045"):
        await flow.on(ChannelKind.WHATSAPP, NUMBER, text, phone="+6281200000001")
    budi = await Contact.get(id_number="13521045")
    assert (budi.phone, budi.email) == ("+6281200000001", "budi.contoh@students.itb.ac.id")

    # The same number shared as a Telegram contact card, and the directory's campus address: known at once.
    welcome = await flow.on(ChannelKind.TELEGRAM, "42", "halo", phone="+6281200000001")
    assert welcome == ["Halo lagi, Kak Budi! 👋 Silakan tuliskan pertanyaan Anda tentang Edunex."]
    answered = await flow.on(ChannelKind.EMAIL, "budi.contoh@students.itb.ac.id", "lupa password",
                        email="Budi.Contoh@students.itb.ac.id")
    assert answered[-1] == "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"
    assert await Contact.all().count() == 1
    assert await ChannelIdentity.filter(contact=budi).count() == 3

    # An address only an unverified contact gave proves nothing: a stranger is greeted as one.
    await flow.on(ChannelKind.EMAIL, "tamu@example.com", "halo", email="tamu@example.com")
    greeting = await flow.on(ChannelKind.EMAIL, "other@example.com", "halo", email="tamu@example.com")
    assert greeting[0].startswith("Halo!")
    assert await Contact.all().count() == 3
