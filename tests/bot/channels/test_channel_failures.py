"""Failure cases the per-channel suites did not cover: a provider down and the process restarted with the
replies still in the outbox (WhatsApp, e-mail), concurrent and repeated deliveries, oversized Telegram posts."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from bot.app import REGISTRY, create_app
from bot.channels.mail import EmailChannel
from bot.channels.telegram import SECRET_HEADER
from bot.config import Settings
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from handoff.outbox import drain
from models import ChannelKind, DeliveryStatus, Direction, Message
from tests.bot.channels.conftest import poll, settle
from tests.bot.channels.test_mail import CARE, USER
from tests.bot.channels.test_mail import settings_for as mail_settings
from tests.bot.channels.test_telegram import CHAT, SECRET
from tests.bot.channels.test_telegram import settings_for as telegram_settings
from tests.bot.channels.test_whatsapp import USER as PHONE
from tests.bot.channels.test_whatsapp import settings_for as whatsapp_settings
from tests.conftest import ScriptedClassifier
from tests.conftest import greeting as first_message
from tests.fakes.mail import Dovecot, SmtpSink, mail_bytes
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start(aiohttp_client: ClientFactory, settings: Settings) -> TestClient[Any, Any]:
    client = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    await import_records(DEMO_DIRECTORY)
    return client


async def sent_after_restart(client: TestClient[Any, Any]) -> int:
    """What the new process's outbox sends, once everything is due; a second sweep must find nothing."""
    app = client.app
    assert app is not None
    rows = await Message.filter(direction=Direction.OUTBOUND)
    later = max(m.created_at for m in rows) + timedelta(hours=1)
    tried = await drain(registry=app[REGISTRY], now=later)
    assert await drain(registry=app[REGISTRY], now=later + timedelta(days=1)) == 0
    return tried


async def test_whatsapp_down_then_a_restart_sends_the_queued_replies_once(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    down = whatsapp_settings(fake_twilio, db_url, tmp_path, twilio_api_base_url=f"http://127.0.0.1:{closed_port()}")
    first = await start(aiohttp_client, down)
    assert (await fake_twilio.user_says(first, PHONE, "halo")).status == 200
    queued = await Message.filter(direction=Direction.OUTBOUND).order_by("id")
    assert [m.delivery_status for m in queued] == [DeliveryStatus.QUEUED]  # the one greeting message
    assert all("twilio unreachable" in (m.delivery_error or "") for m in queued)
    await first.close()

    second = await start(aiohttp_client, whatsapp_settings(fake_twilio, db_url, tmp_path))
    assert await sent_after_restart(second) == 1
    bodies = fake_twilio.bodies(PHONE)
    assert bodies == [first_message("id")]
    assert await Message.filter(direction=Direction.INBOUND).count() == 1  # the user's message is not re-run
    statuses = await Message.filter(direction=Direction.OUTBOUND).values_list("delivery_status", flat=True)
    assert set(statuses) == {DeliveryStatus.SENT}


async def test_smtp_down_then_a_restart_sends_the_queued_replies_once(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, smtp_sink: SmtpSink, dovecot: Dovecot
) -> None:
    sink_port = smtp_sink.port
    smtp_sink.port = closed_port()
    first = await start(aiohttp_client, mail_settings(db_url, tmp_path, smtp_sink, dovecot.port))
    smtp_sink.port = sink_port
    app = first.app
    assert app is not None
    channel = app[REGISTRY].get(ChannelKind.EMAIL)
    assert isinstance(channel, EmailChannel)
    raw = mail_bytes(sender=f"Budi <{USER}>", to=CARE, subject="Halo", body="Selamat pagi",
                     message_id="<down1@std.itb.ac.id>")
    await asyncio.to_thread(dovecot.append, raw)
    assert await poll(app, channel) == 1
    queued = await Message.filter(direction=Direction.OUTBOUND).values_list("delivery_status", flat=True)
    assert queued == [DeliveryStatus.QUEUED]  # the one greeting message
    await first.close()

    second = await start(aiohttp_client, mail_settings(db_url, tmp_path, smtp_sink, dovecot.port))
    assert await sent_after_restart(second) == 1
    texts = smtp_sink.texts(USER)
    assert len(texts) == 1
    assert texts[0].replace("\r\n", "\n").startswith(first_message("id"))  # mail lines end in CRLF
    assert smtp_sink.received[0]["In-Reply-To"] == "<down1@std.itb.ac.id>"  # still threaded after the restart


async def test_the_same_mail_delivered_twice_is_stored_once_and_answered_once(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, smtp_sink: SmtpSink, dovecot: Dovecot
) -> None:
    client = await start(aiohttp_client, mail_settings(db_url, tmp_path, smtp_sink, dovecot.port))
    app = client.app
    assert app is not None
    channel = app[REGISTRY].get(ChannelKind.EMAIL)
    assert isinstance(channel, EmailChannel)
    raw = mail_bytes(sender=f"Budi <{USER}>", to=CARE, subject="Halo", body="Selamat pagi",
                     message_id="<twice@std.itb.ac.id>")
    await asyncio.to_thread(dovecot.append, raw)
    await asyncio.to_thread(dovecot.append, raw)  # a mail relay delivered it twice
    await poll(app, channel)
    await poll(app, channel)
    assert await Message.filter(direction=Direction.INBOUND).count() == 1
    assert len(smtp_sink.texts(USER)) == 1  # the one greeting message


async def test_concurrent_deliveries_of_one_whatsapp_message_are_answered_once(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    client = await start(aiohttp_client, whatsapp_settings(fake_twilio, db_url, tmp_path))
    url = f"{fake_twilio.public_url}/webhooks/twilio/whatsapp"
    form = fake_twilio.inbound_form(PHONE, "halo")
    responses = await asyncio.gather(*(fake_twilio.post_signed(client, url, form) for _ in range(4)))
    await settle(client)
    assert [r.status for r in responses] == [200] * 4
    assert await Message.filter(direction=Direction.INBOUND).count() == 1
    assert await Message.filter(direction=Direction.OUTBOUND).values_list("text", flat=True) == [first_message("id")]


async def test_concurrent_deliveries_of_one_telegram_update_are_answered_once(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_telegram: FakeTelegram
) -> None:
    client = await start(aiohttp_client, telegram_settings(fake_telegram, db_url, tmp_path))
    body = json.dumps(fake_telegram.message_update(CHAT, "halo"))
    headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
    responses = await asyncio.gather(*(client.post("/webhooks/telegram", data=body, headers=headers)
                                       for _ in range(4)))
    await settle(client)
    assert [r.status for r in responses] == [200] * 4
    assert await Message.filter(direction=Direction.INBOUND).count() == 1
    assert fake_telegram.texts(CHAT) == [first_message("id")]


async def test_a_telegram_post_over_1_mib_is_refused_and_nothing_stored(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_telegram: FakeTelegram
) -> None:
    client = await start(aiohttp_client, telegram_settings(fake_telegram, db_url, tmp_path))
    update = fake_telegram.message_update(CHAT, "a" * (1024 * 1024 + 10))
    response = await client.post("/webhooks/telegram", data=io.BytesIO(json.dumps(update).encode()),
                                 headers={"Content-Type": "application/json", SECRET_HEADER: SECRET})
    assert response.status == 413
    assert await Message.all().count() == 0
    assert fake_telegram.texts() == []
