"""Telegram end to end: the real python-telegram-bot inside our app, against a loopback Bot API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import INBOUND, REGISTRY, create_app
from bot.channels.telegram import SECRET_HEADER, TelegramChannel, derived_secret, split_text
from bot.config import Settings
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from bot.i18n import catalog
from handoff.delivery import send_text
from handoff.outbox import BASE_DELAY, drain
from models import (
    Category,
    ChannelIdentity,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Direction,
    FlowStep,
    HandoffReason,
    Message,
    SenderKind,
    Ticket,
)
from tests.conftest import ScriptedClassifier
from tests.conftest import greeting as first_message
from tests.fakes.telegram import FakeTelegram

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuv"
SECRET = "webhook-secret_42"
PUBLIC_URL = "https://care.example.ac.id"
CHAT = 5550001


def settings_for(fake: FakeTelegram, db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": db_url,
        "public_url": PUBLIC_URL,
        "telegram_bot_token": TOKEN,
        "telegram_webhook_secret": SECRET,
        "telegram_api_base_url": fake.base_url,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_telegram: FakeTelegram
) -> TestClient[Any, Any]:
    app = create_app(settings_for(fake_telegram, db_url, tmp_path), classifier=ScriptedClassifier(),
                     scheduler=False)
    test_client = await aiohttp_client(app)
    await import_records(DEMO_DIRECTORY)
    return test_client


async def post_update(client: TestClient[Any, Any], update: Any, *, secret: str | None = SECRET) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    response = await client.post("/webhooks/telegram", data=json.dumps(update),
                                 headers={"Content-Type": "application/json", **headers})
    assert client.app is not None
    await client.app[INBOUND].idle()  # the webhook answers once stored; the turn runs after it
    return response.status


async def say(client: TestClient[Any, Any], fake: FakeTelegram, text: str, chat: int = CHAT) -> list[str]:
    before = len(fake.texts(chat))
    assert await post_update(client, fake.message_update(chat, text)) == 200
    return fake.texts(chat)[before:]


async def test_start_up_sets_the_webhook_with_the_secret(client: TestClient[Any, Any],
                                                          fake_telegram: FakeTelegram) -> None:
    assert [c.method for c in fake_telegram.calls[:2]] == ["getMe", "setWebhook"]
    assert fake_telegram.webhook["url"] == f"{PUBLIC_URL}/webhooks/telegram"
    assert fake_telegram.webhook["secret_token"] == SECRET
    assert json.loads(fake_telegram.webhook["allowed_updates"]) == ["message", "callback_query"]


async def test_journey_greeting_identity_answer_no_then_handoff_and_agent_reply(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    greeting = await say(client, fake_telegram, "halo")
    assert greeting == [first_message("id")]  # one message: welcome, privacy notice, request
    assert greeting[0].startswith("Halo!")
    assert "NIM (8 digit)" in greeting[0]

    verified = await say(client, fake_telegram, "13521045")
    assert verified[0] == catalog("id").t("identity_noted")

    answer = await say(client, fake_telegram, "saya lupa password edunex")
    assert answer[-1] == "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"
    prompt = fake_telegram.last_message_with_keyboard(CHAT)
    keyboard = json.loads(prompt.params["reply_markup"])["inline_keyboard"]
    assert [b["callback_data"] for b in keyboard[0]] == ["1", "2"]

    prompt_id = prompt.result["message_id"]
    before = len(fake_telegram.texts(CHAT))
    first_press = fake_telegram.callback_update(CHAT, "2", message_id=prompt_id)
    assert await post_update(client, first_press) == 200
    # Not helpful: the next suggestion or a person, as buttons; the second is "something else / a person".
    offer = fake_telegram.last_message_with_keyboard(CHAT)
    rows = json.loads(offer.params["reply_markup"])["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in rows] == [["1"], ["2"]]  # named choices: one per row
    before = len(fake_telegram.texts(CHAT))
    press = fake_telegram.callback_update(CHAT, "2", message_id=offer.result["message_id"])
    assert await post_update(client, press) == 200
    handoff = fake_telegram.texts(CHAT)[before:]
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.NOT_HELPFUL
    assert ticket.number is not None
    assert len(handoff) == 1
    assert ticket.number in handoff[0]
    answered = fake_telegram.ok_calls("answerCallbackQuery")
    assert [c.params["callback_query_id"] for c in answered] == [first_press["callback_query"]["id"],
                                                                  press["callback_query"]["id"]]
    edited = fake_telegram.ok_calls("editMessageReplyMarkup")
    assert [int(c.params["message_id"]) for c in edited] == [prompt_id, offer.result["message_id"]]

    conversation = await Conversation.get(id=ticket.conversation_id)  # type: ignore[attr-defined]
    app = client.app
    assert app is not None
    reply = await send_text(registry=app[REGISTRY], conversation=conversation,
                            text="Halo Budi, password sudah kami reset.", sender_kind=SenderKind.AGENT,
                            ticket=ticket)
    assert fake_telegram.texts(CHAT)[-1] == "Halo Budi, password sudah kami reset."
    await reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.SENT
    assert reply.provider_message_id is not None
    assert reply.provider_message_id.startswith(f"{CHAT}:")


async def test_wrong_or_missing_secret_is_refused_and_nothing_is_stored(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.message_update(CHAT, "halo")
    assert await post_update(client, update, secret="wrong") == 403
    assert await post_update(client, update, secret=None) == 403
    assert await Message.all().count() == 0
    assert fake_telegram.texts() == []


async def test_duplicate_delivery_is_stored_once_and_answered_once(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.message_update(CHAT, "halo")
    assert await post_update(client, update) == 200
    answered = len(fake_telegram.texts(CHAT))
    again = dict(update, update_id=update["update_id"] + 77)  # Telegram may renumber a re-delivery
    assert await post_update(client, update) == 200
    assert await post_update(client, again) == 200
    assert await Message.filter(direction=Direction.INBOUND).count() == 1
    assert len(fake_telegram.texts(CHAT)) == answered == 1


async def test_a_repeated_button_press_is_counted_once(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    await say(client, fake_telegram, "halo")
    await say(client, fake_telegram, "13521045")
    await say(client, fake_telegram, "lupa password")
    press = fake_telegram.callback_update(CHAT, "1", message_id=1)
    fake_telegram.fail("answerCallbackQuery", 400, "Bad Request: query is too old")
    assert await post_update(client, press) == 200  # the answer failing does not lose the press
    assert await post_update(client, press) == 200
    assert await Message.filter(provider_message_id=f"cb:{press['callback_query']['id']}").count() == 1
    assert await Conversation.filter(status="resolved").count() == 1


@pytest.mark.parametrize(
    "edit_failure",
    [
        None,
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the "
        "same as a current content and reply markup of the message",
        "Bad Request: message can't be edited",  # older than 48 hours
    ],
)
async def test_a_button_press_is_acknowledged_before_any_other_request_and_a_failed_edit_is_harmless(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram, edit_failure: str | None
) -> None:
    await say(client, fake_telegram, "halo")
    await say(client, fake_telegram, "13521045")
    await say(client, fake_telegram, "lupa password")
    prompt_id = fake_telegram.last_message_with_keyboard(CHAT).result["message_id"]
    if edit_failure is not None:
        fake_telegram.fail("editMessageReplyMarkup", 400, edit_failure)
    before = len(fake_telegram.calls)
    press = fake_telegram.callback_update(CHAT, "2", message_id=prompt_id)
    assert await post_update(client, press) == 200
    requests = [(c.method, c.status) for c in fake_telegram.calls[before:]]
    # Telegram shows a spinner on the button until the answer: it goes before the keyboard edit and the turn.
    assert requests[0] == ("answerCallbackQuery", 200)
    assert ("editMessageReplyMarkup", 400 if edit_failure else 200) in requests[1:]
    assert ("sendMessage", 200) in requests[1:]
    # A failed edit changes nothing else: the press counted once and its turn ran (the "not helpful" offer).
    (offered,) = (await Conversation.get()).last_prediction["options"]
    name = (await Category.get(slug=offered)).name_id
    assert fake_telegram.texts(CHAT)[-1] == catalog("id").t("clarify_not_helpful_one", name=name)
    assert (await Conversation.get()).step == FlowStep.AWAITING_CLARIFICATION
    assert await Message.filter(provider_message_id=f"cb:{press['callback_query']['id']}").count() == 1


async def test_blocked_bot_marks_the_identity_unreachable(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", times=3)
    assert await post_update(client, fake_telegram.message_update(CHAT, "halo")) == 200
    identity = await ChannelIdentity.get(channel=ChannelKind.TELEGRAM, external_id=str(CHAT))
    assert identity.unreachable
    failed = await Message.filter(direction=Direction.OUTBOUND).values_list("delivery_status", flat=True)
    assert set(failed) == {DeliveryStatus.FAILED}


async def test_429_retry_after_is_waited_out_then_sent(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    assert await post_update(client, fake_telegram.message_update(CHAT, "halo")) == 200
    attempts = [c for c in fake_telegram.calls if c.method == "sendMessage"]
    assert [c.status for c in attempts[:2]] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert fake_telegram.texts(CHAT) == [first_message("id")]
    statuses = await Message.filter(direction=Direction.OUTBOUND).values_list("delivery_status", flat=True)
    assert set(statuses) == {DeliveryStatus.SENT}


async def test_long_retry_after_leaves_the_message_queued(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 600", retry_after=600)
    assert await post_update(client, fake_telegram.message_update(CHAT, "halo")) == 200
    first = await Message.filter(direction=Direction.OUTBOUND).order_by("id").first()
    assert first is not None
    assert first.delivery_status == DeliveryStatus.QUEUED
    assert first.delivery_error is not None
    assert "retry after 600" in first.delivery_error


async def test_timeout_is_recorded_as_unknown_not_resent(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    app = client.app
    assert app is not None
    channel = app[REGISTRY].get(ChannelKind.TELEGRAM)
    assert isinstance(channel, TelegramChannel)
    await say(client, fake_telegram, "halo")
    conversation = await Conversation.get()
    fake_telegram.fail("sendMessage", 200, "slow", delay=0.5)
    bot = channel.application.bot
    bot._request[1]._client.timeout = bot._request[1]._client.timeout.__class__(0.2)
    message = await send_text(registry=app[REGISTRY], conversation=conversation, text="Balasan",
                              sender_kind=SenderKind.AGENT)
    await message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.UNKNOWN
    assert message.attempts == 1


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[" * 100_000])
async def test_bodies_that_are_not_json_get_400_never_500(client: TestClient[Any, Any], body: bytes) -> None:
    response = await client.post("/webhooks/telegram", data=body,
                                 headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"})
    assert response.status == 400
    assert await Message.all().count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b'{"update_id": "x"}',
        b'{"update_id": 5, "message": {"text": "no chat, no date"}}',
        b'{"update_id": 6, "message": "hello"}',
        b'{"update_id": 7, "callback_query": "x"}',
    ],
)
async def test_json_that_is_no_update_is_acknowledged_so_telegram_stops_sending_it(
    client: TestClient[Any, Any], body: bytes
) -> None:
    # Telegram re-delivers anything it did not get a 2xx for; with the secret right, it is Telegram.
    response = await client.post("/webhooks/telegram", data=body,
                                 headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"})
    assert response.status == 200
    assert await Message.all().count() == 0


async def test_unsupported_updates_are_acknowledged_and_ignored(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    updates = [
        fake_telegram.message_update(CHAT, "diedit", kind="edited_message"),
        fake_telegram.message_update(-100123, "halo grup", chat_type="supergroup"),
        fake_telegram.message_update(-100123, "/start", chat_type="group"),
        fake_telegram.message_update(-100999, "pengumuman", chat_type="channel", kind="channel_post"),
        {"update_id": 2},
        {"update_id": 3, "an_update_type_from_a_future_bot_api": {"id": 1}},
    ]
    statuses = [await post_update(client, update) for update in updates]
    assert statuses == [200] * len(updates)
    assert await Message.all().count() == 0
    assert fake_telegram.texts() == []


async def test_a_sticker_is_stored_and_politely_answered(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    sticker = {"sticker": {"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 512,
                           "height": 512, "is_animated": False, "is_video": False}}
    await say(client, fake_telegram, "halo")
    replies = await say_update(client, fake_telegram, fake_telegram.message_update(CHAT, None, extra=sticker))
    assert replies == ["Pesan Anda kosong. Silakan tuliskan pertanyaan Anda."]
    stored = await Message.filter(direction=Direction.INBOUND).order_by("-id").first()
    assert stored is not None
    assert stored.provider_payload is not None
    assert "sticker" in stored.provider_payload["message"]


async def say_update(client: TestClient[Any, Any], fake: FakeTelegram, update: dict[str, Any]) -> list[str]:
    before = len(fake.texts(CHAT))
    assert await post_update(client, update) == 200
    return fake.texts(CHAT)[before:]


async def test_without_a_configured_secret_a_derived_one_guards_the_webhook(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_telegram: FakeTelegram
) -> None:
    settings = settings_for(fake_telegram, db_url, tmp_path, telegram_webhook_secret="")
    test_client = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    update = fake_telegram.message_update(CHAT, "halo")
    assert await post_update(test_client, update, secret="") == 403
    assert fake_telegram.webhook["secret_token"] == derived_secret(TOKEN)
    assert await post_update(test_client, update, secret=derived_secret(TOKEN)) == 200


def test_long_texts_are_split_at_line_breaks_under_the_limit() -> None:
    text = ("a" * 3000 + "\n") * 3
    parts = split_text(text)
    assert parts == ["a" * 3000, "a" * 3000, "a" * 3000 + "\n"]


async def test_without_public_url_the_bot_long_polls_for_development(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_telegram: FakeTelegram
) -> None:
    settings = settings_for(fake_telegram, db_url, tmp_path, public_url="")
    await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    update = fake_telegram.message_update(CHAT, "halo")
    fake_telegram.pending_updates.extend([update, update])  # a re-fetched update is still handled once
    for _ in range(100):
        if len(fake_telegram.texts(CHAT)) >= 1:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # a doubled update would answer by now
    assert fake_telegram.texts(CHAT) == [first_message("id")]
    assert fake_telegram.webhook == {}
    assert fake_telegram.ok_calls("deleteWebhook")
    assert await Message.filter(direction=Direction.INBOUND).count() == 1


async def test_provider_down_then_back_nothing_lost_nothing_doubled(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    app = client.app
    assert app is not None
    fake_telegram.fail("sendMessage", 502, "Bad Gateway", times=1)
    assert await post_update(client, fake_telegram.message_update(CHAT, "halo")) == 200
    queued = await Message.filter(direction=Direction.OUTBOUND).order_by("id")
    assert [m.delivery_status for m in queued] == [DeliveryStatus.QUEUED]  # the one greeting message
    assert fake_telegram.texts(CHAT) == []
    later = max(m.created_at for m in queued) + BASE_DELAY
    assert await drain(registry=app[REGISTRY], now=later) == 1
    assert await drain(registry=app[REGISTRY], now=later + BASE_DELAY * 100) == 0
    texts = fake_telegram.texts(CHAT)
    assert texts == [first_message("id")]
    statuses = await Message.filter(direction=Direction.OUTBOUND).values_list("delivery_status", flat=True)
    assert set(statuses) == {DeliveryStatus.SENT}


async def test_a_restart_sends_what_was_left_in_the_outbox_once(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_telegram: FakeTelegram
) -> None:
    settings = settings_for(fake_telegram, db_url, tmp_path)
    first = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 600", retry_after=600)
    assert await post_update(first, fake_telegram.message_update(CHAT, "halo")) == 200
    await first.close()
    assert fake_telegram.texts(CHAT) == []
    assert [c.status for c in fake_telegram.calls if c.method == "sendMessage"] == [429]

    second = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    app = second.app
    assert app is not None
    rows = await Message.filter(direction=Direction.OUTBOUND)
    later = max(m.created_at for m in rows) + BASE_DELAY * 100
    assert await drain(registry=app[REGISTRY], now=later) == 1
    assert await drain(registry=app[REGISTRY], now=later) == 0
    assert fake_telegram.texts(CHAT) == [first_message("id")]
