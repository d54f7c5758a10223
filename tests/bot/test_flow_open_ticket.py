"""A verified person with a ticket open on one channel who writes on another: the message is filed on that
ticket (one thread for the agent) with one acknowledgement there, never a second greeting or bot answer.
A stranger is never attached, and a closed ticket leaves the normal flow alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.i18n import catalog
from handoff.actions import categorize, close_ticket, reply, take_ticket
from handoff.auth import create_user
from models import (
    Category,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    ConversationStatus,
    FlowStep,
    Message,
    ProofLevel,
    ProofMethod,
    SenderKind,
    Ticket,
    TicketEvent,
    User,
    UserRole,
)
from tests.conftest import FlowHarness

PHONE = "+6281200000001"
NUMBER = f"whatsapp:{PHONE}"
CAMPUS_MAIL = "budi.contoh@students.itb.ac.id"  # the demo directory's address for NIM 13521045
DID_IT_HELP = "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"


def joined(ticket: Ticket, lang: str = "id") -> str:
    return catalog(lang).t("ticket_joined", ticket=ticket.number or "")


def later(flow: FlowHarness) -> None:
    # Each message a little later than the last, as in life: "the channel written on last" is by time.
    flow.now += timedelta(minutes=5)


async def proven(flow: FlowHarness, channel: ChannelKind, user: str) -> None:
    """Budi sends his NIM on this address, and it is proven his (a typed NIM alone is only a claim)."""
    for text in ("halo", "13521045"):
        later(flow)
        await flow.on(channel, user, text, phone=PHONE)
    await flow.prove(channel=channel, user=user)


async def ticket_on_whatsapp(flow: FlowHarness) -> Ticket:
    """Budi, proven on WhatsApp, asks for a person."""
    await proven(flow, ChannelKind.WHATSAPP, NUMBER)
    later(flow)
    await flow.on(ChannelKind.WHATSAPP, NUMBER, "agen", phone=PHONE)
    return await Ticket.get()


async def kinds(ticket: Ticket) -> list[str]:
    return list(await TicketEvent.filter(ticket=ticket).order_by("id").values_list("kind", flat=True))


async def agent(flow: FlowHarness) -> User:
    return await create_user(email="ana@cc.test", role=UserRole.AGENT, password="x" * 12)


async def close(flow: FlowHarness, ticket: Ticket, by: User) -> None:
    await categorize(ticket=ticket, category=await Category.get(slug="nilai"), agent=by)
    await close_ticket(registry=flow.deps.registry, ticket=ticket, agent=by, now=flow.now,
                       translate=lambda lang, key, /, **values: catalog(lang).t(key, **values))


async def test_a_known_contact_on_a_new_channel_is_filed_on_the_open_ticket(flow: FlowHarness) -> None:
    live: list[tuple[str, dict[str, Any]]] = []
    flow.deps.notify = lambda name, data: live.append((name, data))
    ticket = await ticket_on_whatsapp(flow)
    await proven(flow, ChannelKind.TELEGRAM, "42")

    # Budi's Telegram, proven his: "nilai" would get a confident template answer from the bot; here it goes
    # to the agent who already has the case.
    later(flow)
    first = await flow.on(ChannelKind.TELEGRAM, "42", "nilai saya hilang, ini tangkapan layarnya", phone=PHONE)
    assert first == [joined(ticket)]
    assert ticket.number is not None
    assert ticket.number in first[0]
    assert await Ticket.all().count() == 1
    message = await Message.get(text="nilai saya hilang, ini tangkapan layarnya")
    assert message.ticket_id == ticket.id  # type: ignore[attr-defined]
    assert await kinds(ticket) == ["opened", "channel_joined", "user_message"]
    assert ("ticket.message", {"ticket_id": ticket.id, "message_id": message.id}) in live
    telegram = await Conversation.get(channel=ChannelKind.TELEGRAM)
    assert (telegram.status, telegram.step, telegram.last_prediction) == (
        ConversationStatus.PENDING, FlowStep.WITH_AGENT, None)
    ack = await Message.filter(conversation=telegram, sender_kind=SenderKind.BOT).order_by("-id").first()
    assert ack is not None
    assert ack.ticket_id == ticket.id  # type: ignore[attr-defined]

    # Acknowledged once: what follows on that channel is filed silently, as on the ticket's own channel.
    later(flow)
    assert await flow.on(ChannelKind.TELEGRAM, "42", "halo?", phone=PHONE) == []
    later(flow)
    assert await flow.on(ChannelKind.TELEGRAM, "42", "/agen", phone=PHONE) == []
    filed = await Message.filter(conversation=telegram, sender_kind=SenderKind.USER).values_list("ticket_id", flat=True)
    assert filed == [ticket.id] * 5  # with the "halo" and the NIM sent there before, for the agent
    assert await kinds(ticket) == ["opened", "channel_joined", "user_message", "user_message", "user_message"]

    # The agent answers on Telegram, where Budi wrote last; nothing goes to WhatsApp.
    ana = await agent(flow)
    taken = await take_ticket(ticket_id=ticket.id, agent=ana, now=flow.now)
    sent = await reply(registry=flow.deps.registry, ticket=taken.ticket, agent=ana, text="Kami cek, ya.", now=flow.now)
    assert (sent.channel, sent.ticket_id) == (ChannelKind.TELEGRAM, ticket.id)  # type: ignore[attr-defined]
    assert flow.channel.texts("42")[-1] == "Kami cek, ya."
    whatsapp = flow.deps.registry.get(ChannelKind.WHATSAPP)
    assert whatsapp is not None
    assert "Kami cek, ya." not in [m.text for m in whatsapp.sent]  # type: ignore[attr-defined]


async def test_the_campus_address_joins_the_ticket_in_the_persons_language(flow: FlowHarness) -> None:
    await flow.send("/bahasa en")
    await flow.send("hello")
    await flow.send("13521045")
    await flow.prove()
    await flow.send("agent")
    ticket = await Ticket.get()
    later(flow)
    # A mail from the campus address the directory lists for Budi proves it his (issue 13, address on record).
    answered = await flow.on(ChannelKind.EMAIL, CAMPUS_MAIL, "I forgot my password", email=CAMPUS_MAIL)
    assert answered == [joined(ticket, "en")]
    assert (await Message.get(text="I forgot my password")).ticket_id == ticket.id  # type: ignore[attr-defined]
    assert await Contact.all().count() == 1
    mail = await ChannelIdentity.get(channel=ChannelKind.EMAIL)
    assert (mail.proof, mail.proof_method) == (ProofLevel.PROVEN, ProofMethod.ADDRESS)


async def test_a_new_channel_joins_the_ticket_with_what_it_said_only_once_proven(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("13521045")
    await flow.prove()
    await flow.send("agen")  # Budi's ticket, on Telegram
    ticket = await Ticket.get()

    # A new WhatsApp number is a stranger: greeted, the question kept, asked who they are.
    later(flow)
    greeting = await flow.on(ChannelKind.WHATSAPP, NUMBER, "saya lupa password edunex")
    assert greeting[0].startswith("Halo!")
    assert greeting[-1].endswith(catalog("id").t("ask_identity"))  # the one greeting ends with the request
    # Budi's NIM there is a claim: the bot answers the kept question itself, and shows nothing of the ticket.
    later(flow)
    claimed = await flow.on(ChannelKind.WHATSAPP, NUMBER, "13521045")
    assert claimed[0] == catalog("id").t("identity_noted")
    assert claimed[-1] == DID_IT_HELP
    assert ticket.number is not None
    assert not any(ticket.number in r or "Budi" in r for r in claimed)
    assert await Message.filter(ticket_id=ticket.id, channel=ChannelKind.WHATSAPP).count() == 0
    assert await Contact.all().count() == 2

    # Proven his: the next message joins the ticket, with what was said there before, for the agent.
    await flow.prove(channel=ChannelKind.WHATSAPP, user=NUMBER)
    assert await Contact.all().count() == 1
    later(flow)
    assert await flow.on(ChannelKind.WHATSAPP, NUMBER, "sudah saya coba reset tapi gagal") == [joined(ticket)]
    on_ticket = await Message.filter(ticket_id=ticket.id, channel=ChannelKind.WHATSAPP,
                                     sender_kind=SenderKind.USER).order_by("id").values_list("text", flat=True)
    assert on_ticket == ["saya lupa password edunex", "13521045", "sudah saya coba reset tapi gagal"]
    assert (await kinds(ticket))[-2:] == ["channel_joined", "user_message"]
    whatsapp = await Conversation.get(channel=ChannelKind.WHATSAPP)
    assert (whatsapp.status, whatsapp.pending_question) == (ConversationStatus.PENDING, None)
    later(flow)
    assert await flow.on(ChannelKind.WHATSAPP, NUMBER, "tolong") == []
    assert await Ticket.all().count() == 1


async def test_a_stranger_on_another_channel_is_never_attached(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send("13521045")
    await flow.prove()
    await flow.send("agen")
    ticket = await Ticket.get()
    later(flow)
    # Another WhatsApp number, no identity given: greeted as anyone is, and a request for a person opens
    # a ticket of their own, flagged unverified, not a message on Budi's.
    assert (await flow.on(ChannelKind.WHATSAPP, NUMBER, "halo", phone=PHONE))[0].startswith("Halo!")
    await flow.on(ChannelKind.WHATSAPP, NUMBER, "mau bicara dengan petugas", phone=PHONE)
    theirs = await Ticket.get(channel=ChannelKind.WHATSAPP)
    assert theirs.id != ticket.id
    assert theirs.unverified
    assert await Message.filter(ticket_id=ticket.id, channel=ChannelKind.WHATSAPP).count() == 0
    assert await kinds(ticket) == ["opened"]


async def test_after_the_ticket_is_closed_each_channel_is_the_bots_again_until_the_next_ticket(
    flow: FlowHarness,
) -> None:
    await proven(flow, ChannelKind.TELEGRAM, "42")
    ticket = await ticket_on_whatsapp(flow)
    later(flow)
    assert await flow.on(ChannelKind.TELEGRAM, "42", "halo", phone=PHONE) == [joined(ticket)]
    ana = await agent(flow)
    taken = await take_ticket(ticket_id=ticket.id, agent=ana, now=flow.now)
    await close(flow, taken.ticket, ana)

    # Closed: the normal flow on both channels (the survey went to Telegram, where Budi wrote last; a
    # question instead of a rating is just a question).
    later(flow)
    assert (await flow.on(ChannelKind.TELEGRAM, "42", "nilai saya belum keluar"))[-1] == DID_IT_HELP
    later(flow)
    assert (await flow.on(ChannelKind.WHATSAPP, NUMBER, "lupa password"))[-1] == DID_IT_HELP
    assert await Ticket.all().count() == 1

    # A new ticket on WhatsApp: Telegram is acknowledged again, once, with the new number.
    later(flow)
    await flow.on(ChannelKind.WHATSAPP, NUMBER, "agen")
    second = await Ticket.get(id__not=ticket.id)
    later(flow)
    assert await flow.on(ChannelKind.TELEGRAM, "42", "masih belum bisa") == [joined(second)]
    later(flow)
    assert await flow.on(ChannelKind.TELEGRAM, "42", "tolong") == []
    # With what Budi asked the bot there since the last ticket, as when a ticket opens: the agent's context.
    on_second = await Message.filter(ticket_id=second.id, channel=ChannelKind.TELEGRAM,
                                     sender_kind=SenderKind.USER).order_by("id").values_list("text", flat=True)
    assert on_second == ["nilai saya belum keluar", "masih belum bisa", "tolong"]


async def test_a_rating_for_a_closed_ticket_is_not_filed_on_the_one_open_elsewhere(flow: FlowHarness) -> None:
    await proven(flow, ChannelKind.WHATSAPP, NUMBER)
    await proven(flow, ChannelKind.TELEGRAM, "42")  # no ticket yet: the bot answers there
    later(flow)
    await flow.on(ChannelKind.WHATSAPP, NUMBER, "agen")
    first = await Ticket.get()
    ana = await agent(flow)
    await close(flow, (await take_ticket(ticket_id=first.id, agent=ana, now=flow.now)).ticket, ana)  # survey: WhatsApp
    later(flow)
    await flow.on(ChannelKind.TELEGRAM, "42", "agen")
    second = await Ticket.get(id__not=first.id)
    assert second.channel == ChannelKind.TELEGRAM

    # "5" on WhatsApp answers the survey asked there; it is not a message for the ticket open on Telegram.
    later(flow)
    thanks = await flow.on(ChannelKind.WHATSAPP, NUMBER, "5")
    assert thanks[0] == catalog("id").t("survey_thanks")
    await first.refresh_from_db()
    assert first.survey_rating == 5
    assert await Message.filter(ticket_id=second.id, channel=ChannelKind.WHATSAPP).count() == 0
