"""WhatsApp files out: MediaUrl at a signed, expiring URL of ours that Twilio fetches without a session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient

from bot.app import REGISTRY
from bot.channels.whatsapp import MEDIA_PATH, MEDIA_URL_TTL, WhatsAppChannel
from handoff.attachments import NewFile
from handoff.delivery import send_text
from models import Conversation, DeliveryStatus, SenderKind
from models.enums import ChannelKind
from tests.bot.channels.test_whatsapp import TEMPLATE, ClientFactory, say, settings_for, start
from tests.fakes.twilio import FakeTwilio

PDF = b"%PDF-1.4 jadwal" + b"." * 200


def channel_of(client: TestClient[Any, Any]) -> WhatsAppChannel:
    assert client.app is not None
    channel = client.app[REGISTRY].get(ChannelKind.WHATSAPP)
    assert isinstance(channel, WhatsAppChannel)
    return channel


async def reply_with_file(client: TestClient[Any, Any], text: str = "Jadwalnya terlampir.") -> Any:
    assert client.app is not None
    conversation = await Conversation.get(channel=ChannelKind.WHATSAPP)
    message = await send_text(
        registry=client.app[REGISTRY], conversation=conversation, text=text, sender_kind=SenderKind.AGENT,
        files=[NewFile("Jadwal UTS.pdf", "application/pdf", PDF)], store=channel_of(client).store,
    )
    await message.refresh_from_db()
    return message


async def test_a_file_goes_as_its_own_media_message_that_twilio_can_fetch_until_it_expires(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    client = await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path))
    await say(client, fake_twilio, "halo")
    before = len(fake_twilio.messages)
    message = await reply_with_file(client)
    assert message.delivery_status == DeliveryStatus.SENT
    text, media = fake_twilio.messages[before:]
    assert text["Body"] == "Jadwalnya terlampir."
    assert "MediaUrl" not in text
    assert "StatusCallback" not in text
    assert "Body" not in media
    assert media["StatusCallback"].endswith(f"?m={message.id}")
    assert message.provider_message_id == media["sid"]
    url = urlsplit(media["MediaUrl"])
    assert f"{url.scheme}://{url.netloc}" == fake_twilio.public_url
    assert url.path.startswith(MEDIA_PATH + "/")
    assert url.path.endswith("/Jadwal%20UTS.pdf")

    # What Twilio does next: fetch it, with no cookie and no header of ours.
    fetched = await client.get(url.path)
    assert fetched.status == 200
    assert await fetched.read() == PDF
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert fetched.headers["X-Content-Type-Options"] == "nosniff"

    attachment_id, expires, signature, name = url.path.removeprefix(MEDIA_PATH + "/").split("/")
    forged = f"{MEDIA_PATH}/{attachment_id}/{int(expires) + 3600}/{signature}/{name}"
    assert (await client.get(forged)).status == 404  # a later expiry is not what was signed
    other = f"{MEDIA_PATH}/{int(attachment_id) + 1}/{expires}/{signature}/{name}"
    assert (await client.get(other)).status == 404  # nor another file
    channel = channel_of(client)
    channel.clock = lambda: datetime.now(UTC) + MEDIA_URL_TTL + timedelta(minutes=1)
    assert (await client.get(url.path)).status == 404  # and the link dies


async def test_outside_the_window_the_template_goes_and_the_files_are_reported_unsent(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    client = await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path,
                                                      twilio_templates={"agent_reply": TEMPLATE}))
    await say(client, fake_twilio, "halo")
    channel = channel_of(client)
    channel.clock = lambda: datetime.now(UTC) + timedelta(hours=25)
    before = len(fake_twilio.messages)
    message = await reply_with_file(client)
    (sent,) = fake_twilio.messages[before:]
    assert sent["ContentSid"] == TEMPLATE
    assert "MediaUrl" not in sent
    assert message.delivery_status == DeliveryStatus.SENT
    assert message.delivery_error == "1 file(s) not sent: outside the WhatsApp 24-hour window"


async def test_without_a_public_url_files_cannot_be_offered_to_twilio(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    client = await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path))
    await say(client, fake_twilio, "halo")
    channel_of(client).public_url = ""
    before = len(fake_twilio.messages)
    message = await reply_with_file(client)
    assert message.delivery_status == DeliveryStatus.FAILED
    assert "PUBLIC_URL" in (message.delivery_error or "")
    assert fake_twilio.messages[before:] == []
