"""WhatsApp webhooks and malformed input: a 400 (never a 500) for what cannot be read, before and apart from
the signature; what can be read is still checked against the signature before anything is done."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.channels.whatsapp import INBOUND_PATH, STATUS_PATH
from bot.cli import _configure_logging
from handoff.webinput import PROVIDER_KEY_CHARS
from models import DeliveryStatus, Direction, InboxEntry, Message
from tests.bot.channels.test_whatsapp import USER, say, settings_for, settle, start
from tests.conftest import greeting as first_message
from tests.databases import sqlite_url
from tests.fakes.twilio import FakeTwilio

__all__ = ["sqlite_url"]

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> TestClient[Any, Any]:
    return await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path))


@pytest.fixture
async def sqlite_client(
    aiohttp_client: ClientFactory, sqlite_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> TestClient[Any, Any]:
    """For checks that end before anything is stored, or are about logging: the same on any database."""
    return await start(aiohttp_client, settings_for(fake_twilio, sqlite_url, tmp_path))


@pytest.mark.parametrize("path", [INBOUND_PATH, STATUS_PATH])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded; charset=nope", b"a=1"),  # LookupError in request.post()
        ("application/x-www-form-urlencoded; charset=utf-8", b"Body=\xff\xfe"),
        ("application/x-www-form-urlencoded; charset=utf-16", b"a=1"),
    ],
)
async def test_an_unreadable_body_is_a_400_whoever_signed_it(
    sqlite_client: TestClient[Any, Any], path: str, content_type: str, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    client = sqlite_client
    for headers in ({}, {"X-Twilio-Signature": "forged"}):
        response = await client.post(path, data=body, headers={"Content-Type": content_type, **headers})
        assert response.status == 400
        text = await response.text()
        assert "nope" not in text
        assert "\\xff" not in text
    assert await InboxEntry.all().count() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_readable_body_is_still_refused_without_the_signature(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    form = fake_twilio.inbound_form(USER, "halo")
    response = await fake_twilio.post_signed(client, f"{fake_twilio.public_url}{INBOUND_PATH}", form,
                                             signature="forged")
    assert response.status == 403
    assert await InboxEntry.all().count() == 0


async def test_a_message_id_longer_than_the_column_is_stored_once_and_answered(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    long_sid = "SM" + "a" * 300  # over the 191-character key: a 500 on every retry on PostgreSQL before
    form = fake_twilio.inbound_form(USER, "halo", MessageSid=long_sid, SmsMessageSid=long_sid)
    url = f"{fake_twilio.public_url}{INBOUND_PATH}"
    assert (await fake_twilio.post_signed(client, url, form)).status == 200
    await settle(client)
    assert (await fake_twilio.post_signed(client, url, form)).status == 200  # Twilio's retry
    await settle(client)
    stored = await Message.filter(direction=Direction.INBOUND).all()
    assert len(stored) == 1
    assert len(stored[0].provider_message_id or "") <= PROVIDER_KEY_CHARS
    assert stored[0].provider_payload is not None
    assert stored[0].provider_payload["form"]["MessageSid"] == long_sid  # the full id, for audit
    assert fake_twilio.bodies(USER) == [first_message("id")]  # greeted once, in one message


@pytest.mark.parametrize("sender", ["whatsapp:+62" + "1" * 200, "whatsapp:budi", "whatsapp:+62 812"])
async def test_a_sender_that_is_no_whatsapp_number_is_refused_not_failed_later(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio, sender: str
) -> None:
    form = fake_twilio.inbound_form(sender, "halo")
    response = await fake_twilio.post_signed(client, f"{fake_twilio.public_url}{INBOUND_PATH}", form)
    assert response.status == 400
    assert await InboxEntry.all().count() == 0


@pytest.mark.parametrize(("query", "error_code"), [
    ("?m=99999999999999999999", None),  # a row id no column holds
    ("?m=%C2%B2", None),  # "²": passes str.isdigit(), then int() refuses it
    ("", "²"),
    ("", "٣"),
])
async def test_status_callback_with_unusable_numbers_is_a_400(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio, query: str, error_code: str | None
) -> None:
    await say(client, fake_twilio, "halo")
    sent = fake_twilio.messages[-1]
    form = {"MessageSid": sent["sid"], "AccountSid": sent.get("AccountSid", ""), "MessageStatus": "failed"}
    if error_code is not None:
        form["ErrorCode"] = error_code
    response = await fake_twilio.post_signed(client, f"{fake_twilio.public_url}{STATUS_PATH}{query}", form)
    assert response.status == 400
    assert not await Message.filter(delivery_status=DeliveryStatus.FAILED).exists()


async def test_sending_adds_no_twilio_lines_to_an_info_log(
    sqlite_client: TestClient[Any, Any], fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = sqlite_client
    # serve's own logging set-up, on loggers restored after the test
    for name in ("twilio", "twilio.http_client", "twilio.async_http_client", "httpx", "aiohttp.access",
                 "apscheduler.executors.default", "tortoise"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    _configure_logging("INFO")
    caplog.set_level(logging.INFO)
    for text in ("halo", "13521045", "lupa password", "2"):
        await say(client, fake_twilio, text)
    assert len(fake_twilio.messages) >= 6  # a busy log: every reply went through the twilio client
    assert [r.name for r in caplog.records if r.name.startswith("twilio")] == []
    assert [r for r in caplog.records if r.name.startswith("bot.")]  # the log itself was on


async def test_a_signed_body_with_nul_is_stored_without_it(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    form = fake_twilio.inbound_form(USER, "ha\x00lo", ProfileName="A\x00na")
    response = await fake_twilio.post_signed(client, f"{fake_twilio.public_url}{INBOUND_PATH}", form)
    assert response.status == 200  # signed over the NUL Twilio sent; stored without it
    await settle(client)
    assert [m.text for m in await Message.filter(direction=Direction.INBOUND)] == ["halo"]
    assert await InboxEntry.filter(error__not_isnull=True).count() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
