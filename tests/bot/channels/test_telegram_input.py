"""Telegram updates of unexpected shapes (PTB checks no types): a message is stored and answered as far as
it can be read, anything else is acknowledged and logged without personal data; nothing fails later in the
worker, where the update would never be stored."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from models import Direction, InboxEntry, Message
from tests.bot.channels.test_telegram import CHAT, post_update, settings_for
from tests.conftest import ScriptedClassifier
from tests.fakes.telegram import FakeTelegram

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_telegram: FakeTelegram
) -> TestClient[Any, Any]:
    app = create_app(settings_for(fake_telegram, db_url, tmp_path), classifier=ScriptedClassifier(),
                     scheduler=False)
    test_client = await aiohttp_client(app)
    await import_records(DEMO_DIRECTORY)
    return test_client


async def stored_and_answered(client: TestClient[Any, Any], fake: FakeTelegram, update: dict[str, Any],
                              caplog: pytest.LogCaptureFixture, *, replies: int = 1, chat: int = CHAT) -> Message:
    assert await post_update(client, update) == 200
    inbound = await Message.filter(direction=Direction.INBOUND, conversation__identity__external_id=str(chat))
    assert len(inbound) == 1
    assert await InboxEntry.filter(error__not_isnull=True).count() == 0  # nothing failed in the worker
    assert len(fake.texts(chat)) == replies  # the one greeting: welcome, privacy notice, identity request
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    return inbound[0]


async def test_a_first_name_that_is_not_text_still_gets_the_message_stored_and_answered(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    for chat, first_name in enumerate([123, {"a": 1}, ["Ana"], None, True], start=CHAT):
        update = fake_telegram.message_update(chat, "halo")
        update["message"]["from"]["first_name"] = first_name
        update["message"]["chat"]["first_name"] = first_name
        message = await stored_and_answered(client, fake_telegram, update, caplog, chat=chat)
        assert message.text == "halo"


async def test_a_message_without_its_chat_is_answered_in_the_senders_private_chat(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    update = fake_telegram.message_update(CHAT, "halo")
    del update["message"]["chat"]
    message = await stored_and_answered(client, fake_telegram, update, caplog)
    assert message.provider_message_id == f"{CHAT}:{update['message']['message_id']}"


async def test_text_that_is_not_text_is_read_as_none_and_the_bot_asks_for_words(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    update = fake_telegram.message_update(CHAT, None, extra={"text": 5})
    message = await stored_and_answered(client, fake_telegram, update, caplog, replies=1)
    assert message.text == ""


MALFORMED_PARTS = [
    {"photo": [{"file_id": 1}]},  # a photo size PTB cannot build
    {"entities": [{"type": "bold"}]},
    {"date": 10**20},  # OverflowError in PTB: a 500 before
    {"date": "yesterday"},
]


async def test_a_message_with_a_malformed_part_is_read_without_that_part(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    for chat, odd in enumerate(MALFORMED_PARTS, start=CHAT):
        update = fake_telegram.message_update(chat, "halo", extra=odd)
        await stored_and_answered(client, fake_telegram, update, caplog, chat=chat)


UNANSWERABLE = [
    {"update_id": 1, "message": {"message_id": 2, "date": 1, "text": "no chat, no sender"}},
    {"update_id": 1, "message": {"message_id": "x", "chat": {"id": CHAT, "type": "private"}, "text": "halo"}},
    {"update_id": 1, "message": {"message_id": 2, "date": 1, "chat": {"id": "abc", "type": "private"},
                                 "from": {"id": "abc", "is_bot": False, "first_name": "A"}, "text": "halo"}},
    {"update_id": 1, "message": "halo"},
    {"update_id": 1, "callback_query": {"id": 5, "data": "1"}},
]


async def test_what_cannot_be_answered_is_acknowledged_and_logged_without_its_content(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for update in UNANSWERABLE:
        assert await post_update(client, update) == 200, update
    assert await Message.all().count() == 0
    assert await InboxEntry.all().count() == 0
    assert fake_telegram.texts() == []
    assert "halo" not in caplog.text
    assert "abc" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_button_press_with_an_overlong_id_is_stored(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    await post_update(client, fake_telegram.message_update(CHAT, "halo"))
    update = fake_telegram.callback_update(CHAT, "1", message_id=1)
    update["callback_query"]["id"] = "q" * 400
    assert await post_update(client, update) == 200
    assert await Message.filter(direction=Direction.INBOUND).count() == 2
    assert await InboxEntry.filter(error__not_isnull=True).count() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_nul_in_the_text_and_name_is_dropped_not_failed_on(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    update = fake_telegram.message_update(CHAT, "ha\x00lo", first_name="A\x00na")
    message = await stored_and_answered(client, fake_telegram, update, caplog)
    assert message.text == "halo"
