"""Telegram files: photos and documents in through getFile, agent files out through sendPhoto/sendDocument."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import REGISTRY, create_app
from bot.channels.telegram import TelegramChannel
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from handoff.attachments import NewFile
from handoff.delivery import send_text
from handoff.outbox import drain
from models import Attachment, ChannelKind, Conversation, DeliveryStatus, Direction, Message, SenderKind
from tests.bot.channels.test_telegram import CHAT, post_update, settings_for
from tests.conftest import ScriptedClassifier
from tests.fakes.telegram import FakeTelegram

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
PDF = b"%PDF-1.4 formulir cuti akademik" + b"." * 500
PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 300


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_telegram: FakeTelegram
) -> TestClient[Any, Any]:
    # A small limit, so "too big" is tested with small files.
    settings = settings_for(fake_telegram, db_url, tmp_path, max_attachment_bytes=4096)
    test_client = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    await import_records(DEMO_DIRECTORY)
    return test_client


def channel_of(client: TestClient[Any, Any]) -> TelegramChannel:
    assert client.app is not None
    channel = client.app[REGISTRY].get(ChannelKind.TELEGRAM)
    assert isinstance(channel, TelegramChannel)
    return channel


async def test_a_photo_and_a_document_are_downloaded_and_kept(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    photo_small = fake_telegram.add_file(b"small", name="s.jpg")
    photo_big = fake_telegram.add_file(b"\xff\xd8\xff" + b"j" * 900, name="b.jpg")
    document = fake_telegram.add_file(PDF, name="cuti.pdf")
    photo_update = fake_telegram.message_update(CHAT, None, extra={"caption": "ini errornya", "photo": [
        {"file_id": photo_small, "file_unique_id": "us", "width": 90, "height": 90, "file_size": 5},
        {"file_id": photo_big, "file_unique_id": "ub", "width": 800, "height": 600, "file_size": 903},
    ]})
    document_update = fake_telegram.message_update(CHAT, None, extra={"document": {
        "file_id": document, "file_unique_id": "ud", "file_name": "../../Formulir Cuti.pdf",
        "mime_type": "application/pdf", "file_size": len(PDF)}})
    assert await post_update(client, photo_update) == 200
    assert await post_update(client, document_update) == 200
    await channel_of(client).settle()

    photo_message = await Message.get(channel=ChannelKind.TELEGRAM, direction=Direction.INBOUND,
                                      text="ini errornya")
    (photo,) = await Attachment.filter(message_id=photo_message.id)
    assert (photo.content_type, photo.size, photo.refused_reason) == ("image/jpeg", 903, None)
    assert photo.storage_key is not None
    assert (tmp_path / "attachments" / photo.storage_key[:2] / photo.storage_key).read_bytes() == (
        b"\xff\xd8\xff" + b"j" * 900
    )
    (pdf,) = await Attachment.filter(message__text="")
    assert (pdf.filename, pdf.content_type, pdf.size) == ("Formulir Cuti.pdf", "application/pdf", len(PDF))
    # The largest photo size only, and every download through getFile's file_path.
    assert [c.params["file_id"] for c in fake_telegram.ok_calls("getFile")] == [photo_big, document]
    assert fake_telegram.downloads == [fake_telegram.files[photo_big][1], fake_telegram.files[document][1]]


async def test_disallowed_and_oversized_files_are_refused_without_download(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    exe = fake_telegram.add_file(b"MZ" * 10, name="setup.exe")
    big = fake_telegram.add_file(b"%PDF" + b"0" * 5000, name="big.pdf")
    for file_id, mime, size in ((exe, "application/x-msdownload", 20), (big, "application/pdf", 5004)):
        update = fake_telegram.message_update(CHAT, None, extra={"document": {
            "file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": "x", "mime_type": mime,
            "file_size": size}})
        assert await post_update(client, update) == 200
    await channel_of(client).settle()

    rows = await Attachment.all().order_by("id")
    assert [(r.refused_reason, r.storage_key) for r in rows] == [("type_not_allowed", None), ("too_big", None)]
    assert [r.size for r in rows] == [20, 5004]
    assert fake_telegram.ok_calls("getFile") == []
    # The messages themselves are kept: the user's turn is not lost because a file was.
    assert await Message.filter(direction=Direction.INBOUND).count() == 2


async def test_agent_files_go_out_as_photo_and_document_after_the_text(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    assert await post_update(client, fake_telegram.message_update(CHAT, "halo")) == 200
    conversation = await Conversation.get(channel=ChannelKind.TELEGRAM)
    assert client.app is not None
    store = channel_of(client).store
    message = await send_text(
        registry=client.app[REGISTRY], conversation=conversation, text="Ini formulirnya.",
        sender_kind=SenderKind.AGENT, store=store,
        files=[NewFile("tangkapan layar.png", "image/png", PNG), NewFile("Formulir Cuti.pdf", "application/pdf", PDF)],
    )
    await message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert fake_telegram.texts(CHAT)[-1] == "Ini formulirnya."
    (photo,) = fake_telegram.uploads("sendPhoto")
    (document,) = fake_telegram.uploads("sendDocument")
    assert (photo.filename, photo.data) == ("tangkapan layar.png", PNG)
    assert (document.filename, document.data) == ("Formulir Cuti.pdf", PDF)
    last = fake_telegram.ok_calls("sendDocument")[-1]
    assert message.provider_message_id == f"{CHAT}:{last.result['message_id']}"


async def test_a_file_refused_after_the_text_went_is_not_sent_again(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    assert await post_update(client, fake_telegram.message_update(CHAT, "halo")) == 200
    conversation = await Conversation.get(channel=ChannelKind.TELEGRAM)
    assert client.app is not None
    fake_telegram.fail("sendDocument", 500, "Internal Server Error: upload failed")
    message = await send_text(
        registry=client.app[REGISTRY], conversation=conversation, text="Ini formulirnya.",
        sender_kind=SenderKind.AGENT, store=channel_of(client).store,
        files=[NewFile("Formulir.pdf", "application/pdf", PDF)],
    )
    await message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    assert (message.delivery_error or "").startswith("partly sent")
    texts_before = len(fake_telegram.texts(CHAT))
    assert await drain(registry=client.app[REGISTRY], now=message.created_at.replace(year=2100)) == 0
    assert len(fake_telegram.texts(CHAT)) == texts_before
