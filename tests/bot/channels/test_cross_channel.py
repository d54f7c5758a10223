"""One person on two channels: one contact with two identities, one history for the agent, a message on the
second channel filed on the ticket open on the first (one thread, one acknowledgement), and the agent's reply
going out on the channel the person wrote on last. Real clients against the loopback stand-ins."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from bot.app import REGISTRY, create_app
from bot.channels.mail import EmailChannel
from bot.channels.telegram import SECRET_HEADER
from bot.config import Settings
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from bot.i18n import catalog
from handoff.actions import categorize, close_ticket, reply, take_ticket
from handoff.auth import create_user
from models import (
    Category,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Direction,
    Message,
    SenderKind,
    Ticket,
    User,
    UserRole,
)
from tests.bot.channels.conftest import poll, settle
from tests.conftest import IN_HOURS, ScriptedClassifier
from tests.fakes.mail import IMAP_PASSWORD, IMAP_USER, Dovecot, SmtpSink, mail_bytes
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
PHONE = "whatsapp:+6281200000001"
CAMPUS_MAIL = "budi.contoh@students.itb.ac.id"  # the demo directory's address for NIM 13521045
CARE = "care@helpdesk.test"
CHAT = 5550001
SECRET = "webhook-secret_42"
TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuv"
PASSWORD = "correct horse battery"


def base_settings(db_url: str, tmp_path: Path, twilio: FakeTwilio, **extra: Any) -> dict[str, Any]:
    return {
        "data_dir": tmp_path, "database_url": db_url, "public_url": twilio.public_url,
        "twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN,
        "twilio_whatsapp_from": SENDER.removeprefix("whatsapp:"), "twilio_api_base_url": twilio.base_url, **extra,
    }


async def start(aiohttp_client: ClientFactory, settings: Settings) -> TestClient[Any, Any]:
    client = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    await import_records(DEMO_DIRECTORY)
    return client


async def on_whatsapp(client: TestClient[Any, Any], twilio: FakeTwilio, text: str) -> list[str]:
    before = len(twilio.bodies(PHONE))
    assert (await twilio.user_says(client, PHONE, text)).status == 200
    return twilio.bodies(PHONE)[before:]


async def on_telegram(client: TestClient[Any, Any], telegram: FakeTelegram, text: str) -> list[str]:
    before = len(telegram.texts(CHAT))
    response = await client.post("/webhooks/telegram", data=json.dumps(telegram.message_update(CHAT, text)),
                                 headers={"Content-Type": "application/json", SECRET_HEADER: SECRET})
    assert response.status == 200
    await settle(client)
    return telegram.texts(CHAT)[before:]


def joined(ticket: Ticket) -> str:
    return catalog("id").t("ticket_joined", ticket=ticket.number or "")


class ConsoleSession:
    """The console over the test client. PUBLIC_URL is https, so its cookies are Secure, which a cookie jar
    keeps off plain-http loopback: they are carried by hand."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}

    async def request(self, method: str, path: str, **kwargs: Any) -> str:
        header = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = await self.client.request(method, path, headers={"Cookie": header}, allow_redirects=False,
                                             **kwargs)
        for cookie in response.cookies.values():
            self.cookies[cookie.key] = cookie.value
        assert response.status in (200, 303), response.status
        return await response.text()

    async def sign_in(self) -> User:
        agent = await create_user(email="ana@cc.test", role=UserRole.AGENT, password=PASSWORD, name="Ana Agen")
        await self.request("GET", "/console/login")
        await self.request("POST", "/console/login", data={"csrf": self.cookies["cc_console_login"],
                                                           "email": agent.email, "password": PASSWORD})
        return agent

    async def history(self, ticket: Ticket) -> str:
        return await self.request("GET", f"/console/t/{ticket.id}")


async def test_verified_on_whatsapp_then_writing_from_the_campus_address_is_one_person(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio, smtp_sink: SmtpSink,
    dovecot: Dovecot,
) -> None:
    settings = Settings(**base_settings(
        db_url, tmp_path, fake_twilio,
        smtp={"host": "127.0.0.1", "port": str(smtp_sink.port), "from": f"Care Center <{CARE}>", "security": "none"},
        imap={"host": "127.0.0.1", "port": str(dovecot.port), "username": IMAP_USER, "password": IMAP_PASSWORD,
              "ssl": "false", "poll_seconds": "3600"},
    ))
    client = await start(aiohttp_client, settings)
    app = client.app
    assert app is not None
    mail = app[REGISTRY].get(ChannelKind.EMAIL)
    assert isinstance(mail, EmailChannel)

    async def by_mail(body: str, number: int, subject: str = "Edunex", reply_to: str | None = None) -> list[str]:
        before = len(smtp_sink.texts(CAMPUS_MAIL))
        raw = mail_bytes(sender=f"Budi <{CAMPUS_MAIL}>", to=CARE, subject=subject, body=body,
                         message_id=f"<x{number}@students.itb.ac.id>", in_reply_to=reply_to)
        await asyncio.to_thread(dovecot.append, raw)
        assert await poll(app, mail) == 1
        return smtp_sink.texts(CAMPUS_MAIL)[before:]

    await on_whatsapp(client, fake_twilio, "halo")
    assert (await on_whatsapp(client, fake_twilio, "13521045"))[0].startswith("Terima kasih, Kak Budi")
    await on_whatsapp(client, fake_twilio, "agen")
    ticket = await Ticket.get()
    assert ticket.channel == ChannelKind.WHATSAPP

    # From the campus address the directory gave: known at once, and with a ticket open on WhatsApp the
    # mail goes to that ticket: no greeting, no bot answer, one acknowledgement naming the ticket.
    answered = await by_mail("saya lupa password edunex", 1, subject="Password")
    assert answered == [joined(ticket)]
    mailed = await Message.get(text="saya lupa password edunex")
    assert (mailed.channel, mailed.ticket_id) == (ChannelKind.EMAIL, ticket.id)  # type: ignore[attr-defined]
    assert await Ticket.all().count() == 1
    assert await Contact.all().count() == 1
    contact = await Contact.get()
    identities = await ChannelIdentity.filter(contact=contact).values_list("channel", flat=True)
    assert sorted(identities) == [ChannelKind.EMAIL, ChannelKind.WHATSAPP]

    console = ConsoleSession(client)
    agent = await console.sign_in()
    page = await console.history(ticket)
    assert "agen" in page  # on WhatsApp
    assert "saya lupa password edunex" in page  # by e-mail
    assert '· WhatsApp' in page
    assert '· Email' in page

    # The ticket is WhatsApp's, but the student wrote last by e-mail: the reply goes there.
    whatsapp_before = len(fake_twilio.messages)
    taken = await take_ticket(ticket_id=ticket.id, agent=agent, now=IN_HOURS)
    sent = await reply(registry=app[REGISTRY], ticket=taken.ticket, agent=agent, text="Password sudah direset.",
                       now=IN_HOURS)
    assert smtp_sink.texts(CAMPUS_MAIL)[-1] == "Password sudah direset."
    assert len(fake_twilio.messages) == whatsapp_before
    assert (sent.channel, sent.ticket_id) == (ChannelKind.EMAIL, ticket.id)  # type: ignore[attr-defined]

    # Their answer by e-mail is filed on that ticket; the bot keeps quiet.
    assert await by_mail("Terima kasih, sudah bisa masuk", 2, subject="Re: Password") == []
    answer = await Message.filter(direction=Direction.INBOUND).order_by("-id").first()
    assert answer is not None
    assert (answer.channel, answer.ticket_id) == (ChannelKind.EMAIL, ticket.id)  # type: ignore[attr-defined]

    # Closing asks for the rating where they are, and the rating lands on the ticket.
    category = await Category.get(slug="reset-password")
    await categorize(ticket=taken.ticket, category=category, agent=agent)
    await close_ticket(registry=app[REGISTRY], ticket=taken.ticket, agent=agent, now=IN_HOURS,
                       translate=lambda lang, key, /, **values: catalog(lang).t(key, **values))
    assert smtp_sink.texts(CAMPUS_MAIL)[-1].startswith(catalog("id").t("survey_ask", ticket=ticket.number or ""))
    await by_mail("5", 3, subject="Re: Survei", reply_to=str(smtp_sink.received[-1]["Message-ID"]))
    await ticket.refresh_from_db()
    assert ticket.survey_rating == 5


async def test_verified_on_telegram_then_the_same_nim_on_whatsapp_is_one_person(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio,
    fake_telegram: FakeTelegram,
) -> None:
    settings = Settings(**base_settings(db_url, tmp_path, fake_twilio, telegram_bot_token=TOKEN,
                                        telegram_webhook_secret=SECRET, telegram_api_base_url=fake_telegram.base_url))
    client = await start(aiohttp_client, settings)
    app = client.app
    assert app is not None

    await on_telegram(client, fake_telegram, "halo")
    await on_telegram(client, fake_telegram, "13521045")
    # A new WhatsApp number is a stranger until the same NIM is given there.
    assert (await on_whatsapp(client, fake_twilio, "halo"))[0].startswith("Halo!")
    assert (await on_whatsapp(client, fake_twilio, "13521045"))[0].startswith("Terima kasih, Kak Budi")
    assert await Contact.all().count() == 1
    contact = await Contact.get()
    assert contact.id_number == "13521045"
    identities = await ChannelIdentity.filter(contact=contact).values_list("channel", flat=True)
    assert sorted(identities) == [ChannelKind.TELEGRAM, ChannelKind.WHATSAPP]

    await on_whatsapp(client, fake_twilio, "agen")
    ticket = await Ticket.get()
    assert ticket.contact_id == contact.id  # type: ignore[attr-defined]
    # Then back on Telegram: filed on the WhatsApp ticket, acknowledged, not answered by the bot.
    assert await on_telegram(client, fake_telegram, "saya lupa password") == [joined(ticket)]
    assert (await Message.get(text="saya lupa password")).ticket_id == ticket.id  # type: ignore[attr-defined]

    console = ConsoleSession(client)
    agent = await console.sign_in()
    page = await console.history(ticket)
    assert "saya lupa password" in page
    assert "agen" in page
    assert "· Telegram" in page
    assert "· WhatsApp" in page

    taken = await take_ticket(ticket_id=ticket.id, agent=agent, now=IN_HOURS)
    whatsapp_before = len(fake_twilio.messages)
    await reply(registry=app[REGISTRY], ticket=taken.ticket, agent=agent, text="Kami bantu reset, ya.", now=IN_HOURS)
    assert fake_telegram.texts(CHAT)[-1] == "Kami bantu reset, ya."
    assert len(fake_twilio.messages) == whatsapp_before
    out = await Message.filter(sender_kind=SenderKind.AGENT).values_list("channel", flat=True)
    assert out == [ChannelKind.TELEGRAM]


async def test_a_web_chat_ticket_takes_the_question_kept_on_telegram_and_the_reply_goes_there(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio,
    fake_telegram: FakeTelegram,
) -> None:
    settings = Settings(**base_settings(db_url, tmp_path, fake_twilio, telegram_bot_token=TOKEN,
                                        telegram_webhook_secret=SECRET, telegram_api_base_url=fake_telegram.base_url))
    client = await start(aiohttp_client, settings)
    app = client.app
    assert app is not None
    # PUBLIC_URL is https, so the chat's session cookie is Secure: carried by hand over plain-http loopback.
    session = (await client.get("/chat")).cookies["cc_chat"].value
    sent = 0

    async def on_web(text: str) -> None:
        nonlocal sent
        sent += 1
        response = await client.post("/chat/messages", json={"id": f"web-{sent:08d}", "text": text},
                                     headers={"Cookie": f"cc_chat={session}"})
        assert response.status == 202

    async def web_history() -> list[str]:
        response = await client.get("/chat/history", headers={"Cookie": f"cc_chat={session}"})
        return [m["text"] for m in (await response.json())["messages"]]

    for text in ("halo", "13521045", "agen"):
        await on_web(text)
    ticket = await Ticket.get()
    assert ticket.channel == ChannelKind.WEBCHAT

    # On Telegram Budi is a stranger first: greeted, and the question he writes is kept, not answered.
    assert (await on_telegram(client, fake_telegram, "/start"))[0].startswith("Halo!")
    kept = await on_telegram(client, fake_telegram, "nilai kuis saya belum muncul")
    assert kept[-1].endswith(catalog("id").t("ask_identity"))
    # His NIM: the same person, whose ticket is open. The kept question goes to the agent, not the bot.
    verified = await on_telegram(client, fake_telegram, "13521045")
    assert verified == ["Terima kasih, Kak Budi, identitas Anda terverifikasi (mahasiswa).", joined(ticket)]
    question = await Message.get(text="nilai kuis saya belum muncul")
    assert (question.channel, question.ticket_id) == (ChannelKind.TELEGRAM, ticket.id)  # type: ignore[attr-defined]
    assert await Ticket.all().count() == 1

    console = ConsoleSession(client)
    agent = await console.sign_in()
    page = await console.history(ticket)
    assert "nilai kuis saya belum muncul" in page
    assert "· Telegram" in page

    # The agent's reply goes to Telegram, where he wrote last, and not to the web chat.
    taken = await take_ticket(ticket_id=ticket.id, agent=agent, now=IN_HOURS)
    message = await reply(registry=app[REGISTRY], ticket=taken.ticket, agent=agent,
                          text="Nilai kuisnya sudah kami minta dipublikasikan dosen.", now=IN_HOURS)
    assert message.channel == ChannelKind.TELEGRAM
    assert fake_telegram.texts(CHAT)[-1] == "Nilai kuisnya sudah kami minta dipublikasikan dosen."
    assert "Nilai kuisnya sudah kami minta dipublikasikan dosen." not in await web_history()
    # His answer there is filed on the ticket in silence.
    assert await on_telegram(client, fake_telegram, "baik, terima kasih") == []
    assert (await Message.get(text="baik, terima kasih")).ticket_id == ticket.id  # type: ignore[attr-defined]
