"""Provider files come from the provider only: WhatsApp media and Telegram getFile, end to end through the
real clients against the loopback stand-ins, with a listener that records anything that reaches it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import REGISTRY, create_app
from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp import WhatsAppChannel
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from models import Attachment, ChannelKind, Direction, Message
from tests.bot.channels import test_telegram
from tests.bot.channels.test_whatsapp import USER, ClientFactory, settings_for
from tests.conftest import ScriptedClassifier
from tests.fakes.listener import Listener
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import ACCOUNT_SID, FakeTwilio

PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 400


def media_path(media_sid: str) -> str:
    return f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'0' * 32}/Media/{media_sid}"


@pytest.fixture
async def whatsapp(aiohttp_client: ClientFactory, db_url: str, tmp_path: Path,
                   fake_twilio: FakeTwilio) -> TestClient[Any, Any]:
    client = await aiohttp_client(create_app(settings_for(fake_twilio, db_url, tmp_path),
                                             classifier=ScriptedClassifier(), scheduler=False))
    await import_records(DEMO_DIRECTORY)
    return client


async def media_sent(client: TestClient[Any, Any], fake: FakeTwilio, *urls: str) -> list[Attachment]:
    """A WhatsApp message carrying ``urls`` as its PNG media; the attachment rows once fetching is over."""
    extra = {"NumMedia": str(len(urls))}
    for index, url in enumerate(urls):
        extra[f"MediaUrl{index}"] = url
        extra[f"MediaContentType{index}"] = "image/png"
    response = await fake.user_says(client, USER, "", **extra)
    assert response.status == 200
    assert client.app is not None
    channel = client.app[REGISTRY].get(ChannelKind.WHATSAPP)
    assert isinstance(channel, WhatsAppChannel)
    await channel.settle()
    stored = await Message.filter(direction=Direction.INBOUND).order_by("-id").first()
    assert stored is not None
    return list(await Attachment.filter(message_id=stored.id).order_by("position"))


async def test_media_on_another_port_of_the_api_host_is_refused(
    whatsapp: TestClient[Any, Any], fake_twilio: FakeTwilio, listener: Listener
) -> None:
    # Same host as the configured API, another port: once compared by host alone, and fetched.
    (row,) = await media_sent(whatsapp, fake_twilio, f"http://127.0.0.1:{listener.port}{media_path('ME1')}")
    assert (row.refused_reason, row.storage_key) == ("source_not_allowed", None)
    assert listener.hits == []


async def test_a_redirect_off_the_provider_is_not_followed(
    whatsapp: TestClient[Any, Any], fake_twilio: FakeTwilio, listener: Listener
) -> None:
    url = fake_twilio.add_media("ME2", PNG, "image/png")
    fake_twilio.redirects["ME2"] = f"http://127.0.0.1:{listener.port}/latest/meta-data/"
    (row,) = await media_sent(whatsapp, fake_twilio, url)
    assert (row.refused_reason, row.storage_key) == ("source_not_allowed", None)
    assert fake_twilio.media_requests == ["ME2"]
    assert listener.hits == []


async def test_a_redirect_to_the_cdn_is_followed_without_the_credentials(
    whatsapp: TestClient[Any, Any], fake_twilio: FakeTwilio, tmp_path: Path
) -> None:
    url = fake_twilio.add_media("ME3", PNG, "image/png")
    fake_twilio.redirects["ME3"] = fake_twilio.cdn_url("ME3")
    (row,) = await media_sent(whatsapp, fake_twilio, url)
    assert (row.refused_reason, row.size) == (None, len(PNG))
    assert row.storage_key is not None
    assert (tmp_path / "attachments" / row.storage_key[:2] / row.storage_key).read_bytes() == PNG
    # The API got the account's credentials (it refuses without them); the redirect target did not.
    assert fake_twilio.media_requests == ["ME3"]
    assert fake_twilio.cdn_requests == [("ME3", "")]


async def test_a_url_with_user_information_is_refused_and_still_recorded(
    whatsapp: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    good = fake_twilio.add_media("ME4", PNG, "image/png")
    with_user = good.replace("http://", "http://user:secret@")
    rows = await media_sent(whatsapp, fake_twilio, with_user, good)
    # The bad one gets its row like any refusal, and does not stop the next item of the message.
    assert [(r.position, r.refused_reason) for r in rows] == [(0, "source_not_allowed"), (1, None)]
    assert fake_twilio.media_requests == ["ME4"]


# -- Telegram -------------------------------------------------------------------------------------------


@pytest.fixture
async def telegram(aiohttp_client: ClientFactory, db_url: str, tmp_path: Path,
                   fake_telegram: FakeTelegram) -> TestClient[Any, Any]:
    settings = test_telegram.settings_for(fake_telegram, db_url, tmp_path)
    client = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    await import_records(DEMO_DIRECTORY)
    return client


def from_working_directory(path: Path) -> str:
    """``path`` relative to where the process runs, the way PTB resolves a file_path: ../../tmp/..."""
    return os.path.relpath(path, Path.cwd())


async def document_sent(client: TestClient[Any, Any], fake: FakeTelegram, file_id: str) -> Attachment:
    update = fake.message_update(test_telegram.CHAT, None, extra={"document": {
        "file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": "catatan.txt", "mime_type": "text/plain",
        "file_size": 64}})
    assert await test_telegram.post_update(client, update) == 200
    assert client.app is not None
    channel = client.app[REGISTRY].get(ChannelKind.TELEGRAM)
    assert isinstance(channel, TelegramChannel)
    await channel.settle()
    message = await Message.filter(direction=Direction.INBOUND).order_by("-id").first()
    assert message is not None
    (row,) = await Attachment.filter(message_id=message.id)
    return row


@pytest.mark.parametrize("form", ["relative", "absolute"])
async def test_a_file_path_naming_a_file_on_this_machine_is_never_read(
    telegram: TestClient[Any, Any], fake_telegram: FakeTelegram, tmp_path: Path, form: str
) -> None:
    secret = tmp_path / "server-secret.txt"
    secret.write_bytes(b"DATABASE_URL=postgres://care:hunter2@db/care\n")
    # What a Bot API server (or something posing as one) may answer: ../../../etc/passwd and the like.
    path = from_working_directory(secret) if form == "relative" else str(secret)
    file_id = fake_telegram.add_file(b"unused", name="catatan.txt", file_path=path)
    row = await document_sent(telegram, fake_telegram, file_id)
    assert (row.refused_reason, row.storage_key, row.sha256) == ("source_not_allowed", None, None)
    assert fake_telegram.downloads == []


async def test_the_telegram_client_is_never_in_local_mode(telegram: TestClient[Any, Any]) -> None:
    # In local mode PTB sends and reads files by path on this machine; this product never asks for it.
    assert telegram.app is not None
    channel = telegram.app[REGISTRY].get(ChannelKind.TELEGRAM)
    assert isinstance(channel, TelegramChannel)
    assert channel.application.bot.local_mode is False
