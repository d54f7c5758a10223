"""WhatsApp through Twilio end to end: the real twilio client and validator against a loopback Twilio."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import FLOW, INBOUND, REGISTRY, create_app
from bot.channels.base import CUT_MARK, MAX_STORED_CHARS
from bot.channels.whatsapp import EMPTY_TWIML, WhatsAppChannel, split_body
from bot.config import Settings
from bot.conversation.ingest import FULL_TEXT_POSITION
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from bot.i18n import catalog
from handoff.delivery import DEFAULT_THROTTLE_WAIT, send_text, throttled_until
from handoff.outbox import BASE_DELAY, MAX_ATTEMPTS, drain
from models import (
    Attachment,
    ChannelIdentity,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Direction,
    HandoffReason,
    InboxEntry,
    Message,
    SenderKind,
    Ticket,
)
from tests.complexity import LoopWatch
from tests.conftest import ScriptedClassifier
from tests.conftest import greeting as first_message
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
USER = "whatsapp:+6281200000001"
TEMPLATE = "HX" + "a" * 32


def settings_for(fake: FakeTwilio, db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": db_url,
        "public_url": fake.public_url,
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_whatsapp_from": SENDER.removeprefix("whatsapp:"),
        "twilio_api_base_url": fake.base_url,
    }
    values.update(overrides)
    return Settings(**values)


async def start(aiohttp_client: ClientFactory, settings: Settings) -> TestClient[Any, Any]:
    test_client = await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))
    await import_records(DEMO_DIRECTORY)
    return test_client


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> TestClient[Any, Any]:
    return await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path))


async def settle(client: TestClient[Any, Any]) -> None:
    """Wait for the turns the webhooks queued: the webhook answers once stored, the turn runs after."""
    assert client.app is not None
    await client.app[INBOUND].idle()


async def say(client: TestClient[Any, Any], fake: FakeTwilio, text: str, **extra: str) -> list[str]:
    before = len(fake.bodies(USER))
    response = await fake.user_says(client, USER, text, **extra)
    assert response.status == 200
    await settle(client)
    assert await response.text() == EMPTY_TWIML
    assert response.content_type == "text/xml"
    return fake.bodies(USER)[before:]


async def agent_reply(client: TestClient[Any, Any], text: str) -> Message:
    app = client.app
    assert app is not None
    conversation = await Conversation.filter(channel=ChannelKind.WHATSAPP).order_by("-id").first()
    assert conversation is not None
    message = await send_text(registry=app[REGISTRY], conversation=conversation, text=text,
                              sender_kind=SenderKind.AGENT)
    await message.refresh_from_db()
    return message


async def test_journey_greeting_identity_answer_no_handoff_and_agent_reply(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    greeting = await say(client, fake_twilio, "halo")
    assert greeting == [first_message("id")]  # one billed message: welcome, privacy notice, request
    assert greeting[0].startswith("Halo!")
    assert "NIM (8 digit)" in greeting[0]

    verified = await say(client, fake_twilio, "13521045")
    assert verified[0] == catalog("id").t("identity_noted")

    answer = await say(client, fake_twilio, "saya lupa password edunex")
    # The prompt already names the answers to type, so no numbered list is added to it.
    assert answer[-1] == "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"

    offer = await say(client, fake_twilio, "2")  # not helpful: the next suggestion or a person, numbered
    # The channel lists the buttons; one suggestion left is asked as yes or no, its "no" being a person.
    assert len((await Conversation.get()).last_prediction["options"]) == 1
    assert offer[0].splitlines()[-2:] == [f"1. {catalog('id').t('clarify_one_yes')}",
                                          f"2. {catalog('id').t('clarify_one_no')}"]
    handoff = await say(client, fake_twilio, "2")
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.NOT_HELPFUL
    assert ticket.number is not None
    assert len(handoff) == 1
    assert ticket.number in handoff[0]

    reply = await agent_reply(client, "Halo Budi, password sudah kami reset.")
    assert fake_twilio.bodies(USER)[-1] == "Halo Budi, password sudah kami reset."
    assert reply.delivery_status == DeliveryStatus.SENT
    sent = fake_twilio.messages[-1]
    assert reply.provider_message_id == sent["sid"]
    assert sent["StatusCallback"] == f"{fake_twilio.public_url}/webhooks/twilio/status?m={reply.id}"

    await fake_twilio.play_callbacks(client)
    statuses = await Message.filter(direction=Direction.OUTBOUND).values_list("delivery_status", flat=True)
    assert set(statuses) == {DeliveryStatus.DELIVERED}
    contact_phone = (await ChannelIdentity.get(channel=ChannelKind.WHATSAPP)).external_id
    assert contact_phone == USER


async def test_forged_or_missing_signature_is_refused_and_nothing_stored(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    url = f"{fake_twilio.public_url}/webhooks/twilio/whatsapp"
    form = fake_twilio.inbound_form(USER, "halo")
    forged = await fake_twilio.post_signed(client, url, form, signature="bm90IGEgc2lnbmF0dXJl")
    assert forged.status == 403
    unsigned = await client.post("/webhooks/twilio/whatsapp", data=form)
    assert unsigned.status == 403
    other_url = fake_twilio.sign("https://attacker.example/webhooks/twilio/whatsapp", form)
    assert (await fake_twilio.post_signed(client, url, form, signature=other_url)).status == 403
    tampered = dict(form, Body="hapus akun saya")
    assert (await fake_twilio.post_signed(client, url, tampered, signature=fake_twilio.sign(url, form))).status == 403
    assert await Message.all().count() == 0
    assert fake_twilio.messages == []


async def test_duplicate_delivery_is_stored_once_and_answered_once(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    url = f"{fake_twilio.public_url}/webhooks/twilio/whatsapp"
    form = fake_twilio.inbound_form(USER, "halo")
    fake_twilio.last_inbound[USER] = datetime.now(UTC).timestamp()
    for _ in range(3):
        assert (await fake_twilio.post_signed(client, url, form)).status == 200
    await settle(client)
    assert await Message.filter(direction=Direction.INBOUND).count() == 1
    assert fake_twilio.bodies(USER) == [first_message("id")]


async def test_status_callbacks_never_move_backwards(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    reply = await agent_reply(client, "Sedang kami cek.")
    sent = fake_twilio.messages[-1]
    for status, expected in [
        ("delivered", DeliveryStatus.DELIVERED),
        ("sent", DeliveryStatus.DELIVERED),  # late "sent" after "delivered"
        ("queued", DeliveryStatus.DELIVERED),
        ("read", DeliveryStatus.READ),
        ("delivered", DeliveryStatus.READ),
        ("failed", DeliveryStatus.READ),
    ]:
        response = await fake_twilio.status_callback(client, sent, status)
        assert response.status in (200, 204)
        await reply.refresh_from_db()
        assert reply.delivery_status == expected, status


async def test_forged_status_callback_is_refused(client: TestClient[Any, Any], fake_twilio: FakeTwilio) -> None:
    await say(client, fake_twilio, "halo")
    reply = await agent_reply(client, "Sedang kami cek.")
    sent = fake_twilio.messages[-1]
    form = {"MessageSid": sent["sid"], "MessageStatus": "failed", "AccountSid": ACCOUNT_SID}
    response = await fake_twilio.post_signed(client, sent["StatusCallback"], form, signature="AAAA")
    assert response.status == 403
    await reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.SENT


async def test_outside_the_window_a_configured_template_is_sent(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    settings = settings_for(fake_twilio, db_url, tmp_path, twilio_templates={"agent_reply": TEMPLATE})
    client = await start(aiohttp_client, settings)
    await say(client, fake_twilio, "halo")
    await ChannelIdentity.filter(channel=ChannelKind.WHATSAPP).update(
        last_inbound_at=datetime.now(UTC) - timedelta(hours=25)
    )
    reply = await agent_reply(client, "Halo,\nmasalah Anda\tsudah selesai.")
    sent = fake_twilio.messages[-1]
    assert sent["ContentSid"] == TEMPLATE
    assert json.loads(sent["ContentVariables"]) == {"1": "Halo, masalah Anda sudah selesai."}
    assert "Body" not in sent
    assert reply.delivery_status == DeliveryStatus.SENT


async def test_outside_the_window_without_a_template_fails_clearly(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    await ChannelIdentity.filter(channel=ChannelKind.WHATSAPP).update(
        last_inbound_at=datetime.now(UTC) - timedelta(hours=30)
    )
    before = len(fake_twilio.messages)
    reply = await agent_reply(client, "Halo")
    assert reply.delivery_status == DeliveryStatus.FAILED
    assert reply.delivery_error is not None
    assert "TWILIO_TEMPLATE_AGENT_REPLY" in reply.delivery_error
    assert len(fake_twilio.messages) == before


async def test_a_free_form_message_twilio_fails_with_63016_is_marked_failed(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    reply = await agent_reply(client, "Halo")
    fake_twilio.last_inbound.clear()  # WhatsApp's clock says the window had closed after all
    fake_twilio.messages[-1]["outside_window"] = True
    await fake_twilio.play_callbacks(client)
    await reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.FAILED
    assert reply.delivery_error == "twilio failed 63016"


@pytest.mark.parametrize(
    ("status", "code", "expected", "unreachable", "attempts"),
    [
        (400, 21211, DeliveryStatus.FAILED, True, 1),
        (429, 20429, DeliveryStatus.QUEUED, False, 0),  # throttled: not a try of this message
        (500, 20500, DeliveryStatus.UNKNOWN, False, 1),
        (400, 63016, DeliveryStatus.FAILED, False, 1),
    ],
)
async def test_twilio_errors_map_to_delivery_outcomes(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio, status: int, code: int,
    expected: DeliveryStatus, unreachable: bool, attempts: int,
) -> None:
    await say(client, fake_twilio, "halo")
    fake_twilio.fail(status, code)
    reply = await agent_reply(client, "Halo")
    assert reply.delivery_status == expected
    assert reply.attempts == attempts
    identity = await ChannelIdentity.get(channel=ChannelKind.WHATSAPP)
    assert identity.unreachable is unreachable


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (429, 429)])
async def test_twilio_throttling_never_uses_up_the_tries_and_waits_before_each_retry(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio, status: int, code: int
) -> None:
    app = client.app
    assert app is not None
    await say(client, fake_twilio, "halo")
    sent_before = len(fake_twilio.messages)
    # Throttled on the first send and on more retries than a failing message is allowed.
    fake_twilio.fail(status, code, "Too Many Requests", times=MAX_ATTEMPTS + 1)
    reply = await agent_reply(client, "Halo, ini balasan agen")
    for _ in range(MAX_ATTEMPTS + 1):  # the last retry is taken
        assert (reply.delivery_status, reply.attempts) == (DeliveryStatus.QUEUED, 0)
        until = throttled_until(reply.delivery_error)
        assert until is not None, reply.delivery_error
        # Twilio names no wait: the default pause, never the next sweep.
        assert until - datetime.now(UTC) > DEFAULT_THROTTLE_WAIT - timedelta(seconds=5)
        assert await drain(registry=app[REGISTRY], now=until - timedelta(seconds=1)) == 0
        assert await drain(registry=app[REGISTRY], now=until) == 1
        await reply.refresh_from_db()
    assert (reply.delivery_status, reply.attempts) == (DeliveryStatus.SENT, 1)
    assert fake_twilio.bodies(USER)[sent_before:] == ["Halo, ini balasan agen"]
    assert len(fake_twilio.attempts) - sent_before == MAX_ATTEMPTS + 2


async def test_unreachable_failure_callback_marks_the_identity(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    await agent_reply(client, "Halo")
    await fake_twilio.status_callback(client, fake_twilio.messages[-1], "undelivered", "63003")
    identity = await ChannelIdentity.get(channel=ChannelKind.WHATSAPP)
    assert identity.unreachable


async def test_media_metadata_is_kept_on_the_message(client: TestClient[Any, Any], fake_twilio: FakeTwilio) -> None:
    await say(client, fake_twilio, "halo")
    media_url = fake_twilio.add_media("ME9", b"\x89PNG screenshot", "image/png")
    await say(client, fake_twilio, "ini screenshot error", NumMedia="1", MediaUrl0=media_url,
              MediaContentType0="image/png")
    app = client.app
    assert app is not None
    channel = app[REGISTRY].get(ChannelKind.WHATSAPP)
    assert isinstance(channel, WhatsAppChannel)
    await channel.settle()
    stored = await Message.filter(direction=Direction.INBOUND).order_by("-id").first()
    assert stored is not None
    assert stored.text == "ini screenshot error"
    assert stored.provider_payload is not None
    assert stored.provider_payload["form"]["NumMedia"] == "1"
    (kept,) = stored.provider_payload["media"]
    assert (kept["url"], kept["content_type"]) == (media_url, "image/png")
    (attachment,) = await Attachment.filter(message_id=stored.id)
    assert (attachment.content_type, attachment.size, attachment.refused_reason) == ("image/png", 15, None)


@pytest.mark.parametrize(
    "form",
    [
        {"Body": "no sid, no sender"},
        {"MessageSid": "SM1", "From": "+62812", "Body": "not a WhatsApp address"},
        {"MessageSid": "SM1", "From": USER, "Body": "x", "NumMedia": "many"},
        {"MessageSid": "SM1", "From": USER, "Body": "x", "NumMedia": "99"},
        {"MessageSid": "SM1", "From": USER, "Body": "x", "AccountSid": "AC" + "9" * 32},
    ],
)
async def test_signed_but_malformed_forms_get_400(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio, form: dict[str, str]
) -> None:
    response = await fake_twilio.post_signed(client, f"{fake_twilio.public_url}/webhooks/twilio/whatsapp", form)
    assert response.status == 400
    assert await Message.all().count() == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe%%%=\x00", "application/x-www-form-urlencoded"),
        (b"--x\r\nnot multipart", "multipart/form-data; boundary=x"),
        (b'{"json": true}', "application/json"),
    ],
)
async def test_garbage_bodies_never_get_a_500(client: TestClient[Any, Any], body: bytes, content_type: str) -> None:
    response = await client.post("/webhooks/twilio/whatsapp", data=body, headers={"Content-Type": content_type,
                                                                                  "X-Twilio-Signature": "x"})
    assert response.status in (400, 403, 415)
    assert await Message.all().count() == 0


async def test_oversized_body_is_refused(client: TestClient[Any, Any]) -> None:
    response = await client.post("/webhooks/twilio/whatsapp", data=io.BytesIO(b"Body=" + b"a" * (1024 * 1024 + 10)),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 413


async def test_long_replies_are_split_under_twilios_limit(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    text = "\n".join(f"Langkah {i}: " + "x" * 90 for i in range(40))
    reply = await agent_reply(client, text)
    parts = fake_twilio.bodies(USER)[-3:]
    assert all(len(p) <= 1600 for p in parts)
    assert "\n".join(fake_twilio.bodies(USER)[1:]) == text  # after the one greeting message
    # Only the last part reports its status, so the row follows what the user sees last.
    assert [("StatusCallback" in m) for m in fake_twilio.messages[1:]] == [False, False, True]
    assert reply.provider_message_id == fake_twilio.messages[-1]["sid"]


def test_split_body_keeps_short_text_whole() -> None:
    assert split_body("halo") == ["halo"]


async def test_media_is_fetched_only_from_twilio_within_limits(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio, tmp_path: Path
) -> None:
    app = client.app
    assert app is not None
    channel = app[REGISTRY].get(ChannelKind.WHATSAPP)
    assert isinstance(channel, WhatsAppChannel)
    picture = b"\xff\xd8\xff" + b"j" * 1000
    good = fake_twilio.add_media("ME1", picture, "image/jpeg")
    exe = fake_twilio.add_media("ME2", b"MZ", "application/x-msdownload")
    huge = fake_twilio.add_media("ME3", b"0" * (10 * 1024 * 1024 + 1), "image/png")
    liar = fake_twilio.add_media("ME4", b"<html>", "text/html")
    media = [(good, "image/jpeg"), ("https://evil.example/x.jpg", "image/jpeg"), (exe, "application/x-msdownload"),
             (huge, "image/png"), (liar, "image/png")]
    extra = {"NumMedia": str(len(media))}
    for index, (url, content_type) in enumerate(media):
        extra[f"MediaUrl{index}"] = url
        extra[f"MediaContentType{index}"] = content_type
    await say(client, fake_twilio, "", **extra)
    await channel.settle()
    stored = await Message.get(direction=Direction.INBOUND)
    kept = await Attachment.filter(message_id=stored.id).order_by("position")
    assert kept[0].size == len(picture)
    assert kept[0].storage_key is not None
    assert (tmp_path / "attachments" / kept[0].storage_key[:2] / kept[0].storage_key).read_bytes() == picture
    assert [item.refused_reason for item in kept] == [
        None, "source_not_allowed", "type_not_allowed", "too_big", "type_mismatch"
    ]
    assert [item.storage_key is None for item in kept] == [False, True, True, True, True]
    assert fake_twilio.media_requests == ["ME1", "ME3", "ME4"]  # never the foreign host, never the .exe


async def test_a_63016_refusal_is_resent_as_the_template_by_the_outbox(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    settings = settings_for(fake_twilio, db_url, tmp_path, twilio_templates={"agent_reply": TEMPLATE})
    client = await start(aiohttp_client, settings)
    app = client.app
    assert app is not None
    await say(client, fake_twilio, "halo")
    reply = await agent_reply(client, "Sudah kami reset.")
    fake_twilio.messages[-1]["outside_window"] = True  # WhatsApp's clock closed the window first
    await fake_twilio.status_callback(client, fake_twilio.messages[-1], "failed", "63016")
    await reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.QUEUED
    assert await drain(registry=app[REGISTRY], now=reply.created_at + BASE_DELAY) == 1
    await reply.refresh_from_db()
    resent = fake_twilio.messages[-1]
    assert (resent["ContentSid"], json.loads(resent["ContentVariables"])) == (TEMPLATE, {"1": "Sudah kami reset."})
    assert reply.delivery_status == DeliveryStatus.SENT
    assert reply.provider_message_id == resent["sid"]
    # The template's own delivery report is applied to the same row.
    await fake_twilio.status_callback(client, resent, "delivered")
    await reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.DELIVERED
    assert await drain(registry=app[REGISTRY], now=reply.created_at + BASE_DELAY * 100) == 0


async def test_a_maximal_body_is_stored_cut_kept_whole_answered_and_healthz_keeps_answering(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    """Issue 10: a signed 900,000-character Body stopped the server for over 12 minutes, and again after
    every restart. Now, end to end: the webhook keeps the delivery (the inbox holds the text once, the raw
    form's copy of it is cut), the store step keeps 4,096 characters on the row and the whole text as a
    file, the turn says so once and hands it to a person, and the event loop is never held much longer
    than for a "halo" (CPU time of the loop's thread, same run: tests/complexity.py)."""
    # The baseline takes the same road (a first message handed to a person), once before watching: the
    # first hand-off of a process computes the year's public holidays, a one-off cost unrelated to length.
    await fake_twilio.user_says(client, "whatsapp:+6281200000098", "agent")
    async with LoopWatch() as usual:
        await fake_twilio.user_says(client, "whatsapp:+6281200000099", "agent")
    body = ("mohon bantuan kuis saya error " * 30_000)[:900_000]
    before = len(fake_twilio.bodies(USER))
    async with LoopWatch() as watch:
        posted, health = await asyncio.gather(fake_twilio.user_says(client, USER, body), client.get("/healthz"))
    assert posted.status == 200
    assert health.status == 200
    assert watch.longest <= 10 * usual.longest + 0.25, (watch.longest, usual.longest)

    stored = await Message.filter(direction=Direction.INBOUND).order_by("-id").first()
    assert stored is not None
    assert stored.text == body[:MAX_STORED_CHARS]
    assert stored.provider_payload is not None
    assert stored.provider_payload["form"]["Body"] == body[:MAX_STORED_CHARS] + CUT_MARK
    receipt = await InboxEntry.get(provider_message_id=stored.provider_message_id)
    kept = json.loads(receipt.payload)
    assert kept["text"] == body  # the one whole copy until it is stored
    assert kept["raw"]["form"]["Body"] == body[:MAX_STORED_CHARS] + CUT_MARK
    whole = await Attachment.get(message_id=stored.id, position=FULL_TEXT_POSITION)
    assert client.app is not None
    assert whole.storage_key is not None
    store = client.app[FLOW].attachments
    assert store is not None
    assert (await store.read(whole.storage_key)).decode() == body

    replies = fake_twilio.bodies(USER)[before:]
    assert replies[0] == catalog("id").t("long_message")
    ticket = await Ticket.get(conversation_id=stored.conversation_id)  # type: ignore[attr-defined]
    assert ticket.number is not None
    assert ticket.number in replies[1]
