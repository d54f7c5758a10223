"""The end of the journey on each channel: the agent's reply reaches the user, the agent closes the ticket,
the survey reaches the user and their rating lands on the ticket. Real clients against the stand-ins."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import REGISTRY, create_app
from bot.channels.mail import EmailChannel
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from bot.i18n import catalog
from handoff.actions import categorize, close_ticket, reply, take_ticket
from handoff.auth import create_user
from models import (
    Category,
    ChannelKind,
    DeliveryStatus,
    Direction,
    Message,
    SenderKind,
    Ticket,
    TicketStatus,
    UserRole,
)
from tests.bot.channels.conftest import poll
from tests.bot.channels.test_mail import CARE, USER
from tests.bot.channels.test_mail import settings_for as mail_settings
from tests.bot.channels.test_telegram import CHAT, post_update
from tests.bot.channels.test_telegram import say as telegram_says
from tests.bot.channels.test_telegram import settings_for as telegram_settings
from tests.bot.channels.test_whatsapp import USER as PHONE
from tests.bot.channels.test_whatsapp import say as whatsapp_says
from tests.bot.channels.test_whatsapp import settings_for as whatsapp_settings
from tests.conftest import ScriptedClassifier
from tests.fakes.mail import Dovecot, SmtpSink, mail_bytes
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
REPLY = "Halo Budi, password Anda sudah kami reset. Silakan coba masuk lagi."
THANKS = catalog("id").t("survey_thanks")
# After a rating the bot asks once for an optional comment (handoff.survey).
COMMENT_ASK = catalog("id").t("survey_comment_ask")


async def start(aiohttp_client: ClientFactory, app: web.Application) -> TestClient[Any, Any]:
    client = await aiohttp_client(app)
    await import_records(DEMO_DIRECTORY)
    return client


async def agent_answers_and_closes(client: TestClient[Any, Any]) -> Ticket:
    app = client.app
    assert app is not None
    ticket = await Ticket.get()
    agent = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="x" * 12, name="Ana")
    now = datetime.now(UTC)
    taken = await take_ticket(ticket_id=ticket.id, agent=agent, now=now)
    sent = await reply(registry=app[REGISTRY], ticket=taken.ticket, agent=agent, text=REPLY, now=now)
    await sent.refresh_from_db()
    assert sent.delivery_status == DeliveryStatus.SENT
    await categorize(ticket=taken.ticket, category=await Category.get(slug="reset-password"), agent=agent)
    await close_ticket(registry=app[REGISTRY], ticket=taken.ticket, agent=agent, now=now,
                       translate=lambda lang, key, /, **values: catalog(lang).t(key, **values))
    await ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED
    return ticket


def survey_text(ticket: Ticket) -> str:
    return catalog("id").t("survey_ask", ticket=ticket.number or "")


async def rated(ticket: Ticket, rating: int) -> None:
    await ticket.refresh_from_db()
    assert ticket.survey_rating == rating
    assert await Message.filter(sender_kind=SenderKind.SYSTEM).count() == 1  # one survey, never two


async def test_telegram_journey_ends_with_the_reply_the_survey_and_the_rating(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_telegram: FakeTelegram
) -> None:
    client = await start(aiohttp_client, create_app(telegram_settings(fake_telegram, db_url, tmp_path),
                                                    classifier=ScriptedClassifier(), scheduler=False))
    for text in ("halo", "13521045", "saya lupa password edunex", "2", "2"):
        await telegram_says(client, fake_telegram, text)
    ticket = await agent_answers_and_closes(client)
    texts = fake_telegram.texts(CHAT)
    assert texts[-2:] == [REPLY, survey_text(ticket)]
    survey = fake_telegram.last_message_with_keyboard(CHAT)
    buttons = json.loads(survey.params["reply_markup"])["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["1", "2", "3", "4", "5"]
    press = fake_telegram.callback_update(CHAT, "5", message_id=survey.result["message_id"])
    assert await post_update(client, press) == 200
    assert await post_update(client, press) == 200  # a second press is not a second rating
    assert fake_telegram.texts(CHAT)[-2:] == [THANKS, COMMENT_ASK]
    assert fake_telegram.texts(CHAT).count(THANKS) == 1
    await rated(ticket, 5)


async def test_whatsapp_journey_ends_with_the_reply_the_survey_and_the_rating(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    client = await start(aiohttp_client, create_app(whatsapp_settings(fake_twilio, db_url, tmp_path),
                                                    classifier=ScriptedClassifier(), scheduler=False))
    for text in ("halo", "13521045", "saya lupa password edunex", "2", "2"):
        await whatsapp_says(client, fake_twilio, text)
    ticket = await agent_answers_and_closes(client)
    bodies = fake_twilio.bodies(PHONE)
    assert bodies[-2] == REPLY
    assert bodies[-1].startswith(survey_text(ticket))
    assert await whatsapp_says(client, fake_twilio, "5") == [THANKS, COMMENT_ASK]
    await fake_twilio.play_callbacks(client)
    statuses = await Message.filter(direction=Direction.OUTBOUND).values_list("delivery_status", flat=True)
    assert set(statuses) == {DeliveryStatus.DELIVERED}
    await rated(ticket, 5)


async def test_email_journey_ends_with_the_reply_the_survey_and_the_rating(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, smtp_sink: SmtpSink, dovecot: Dovecot
) -> None:
    client = await start(aiohttp_client, create_app(mail_settings(db_url, tmp_path, smtp_sink, dovecot.port),
                                                    classifier=ScriptedClassifier(), scheduler=False))
    app = client.app
    assert app is not None
    channel = app[REGISTRY].get(ChannelKind.EMAIL)
    assert isinstance(channel, EmailChannel)

    async def write(body: str, number: int) -> list[str]:
        before = len(smtp_sink.texts(USER))
        last = str(smtp_sink.received[-1]["Message-ID"]) if smtp_sink.received else None
        raw = mail_bytes(sender=f"Budi <{USER}>", to=CARE, subject="Re: Edunex" if last else "Edunex", body=body,
                         message_id=f"<r{number}@std.itb.ac.id>", in_reply_to=last)
        await asyncio.to_thread(dovecot.append, raw)
        await poll(app, channel)
        return smtp_sink.texts(USER)[before:]

    for number, text in enumerate(("halo", "13521045", "saya lupa password edunex", "2", "2")):
        await write(text, number)
    ticket = await agent_answers_and_closes(client)
    texts = smtp_sink.texts(USER)
    assert texts[-2] == REPLY
    assert texts[-1].startswith(survey_text(ticket))
    agent_mail = smtp_sink.received[-2]
    assert agent_mail["Auto-Submitted"] is None  # a person wrote it: the user's auto-reply may answer
    assert await write("5", 10) == [THANKS, COMMENT_ASK]
    await rated(ticket, 5)
