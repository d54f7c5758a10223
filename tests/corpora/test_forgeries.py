"""The forgery corpus (forgeries.txt) against every secret a stranger might guess at: Twilio's webhook signature
(messages and status callbacks), the Telegram webhook secret, the survey link token and the token in the
media URLs Twilio fetches our files from. Each forgery is refused and changes nothing; the valid value, the
control, is accepted."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from bot.app import INBOUND, REGISTRY, create_app
from bot.channels.telegram import SECRET_HEADER, derived_secret
from bot.channels.whatsapp import STATUS_PATH, WhatsAppChannel
from bot.config import Settings
from handoff.attachments import NewFile
from handoff.delivery import OutboundAttachment
from handoff.survey import make_link_token
from models import (
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    Direction,
    HandoffReason,
    InboxEntry,
    Message,
    SenderKind,
    Ticket,
)
from tests.conftest import ScriptedClassifier
from tests.corpora import corpus
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
FORGERIES = corpus("forgeries.txt")
TELEGRAM_TOKEN = "7000001:forgery-test-token"
TELEGRAM_SECRET = "telegram-webhook-secret-for-the-forgery-corpus"
SURVEY_SECRET = "survey-secret-for-the-forgery-corpus-" + "x" * 16
USER = "whatsapp:+6281299990002"


def forge(valid: str, how: str, *, other: str) -> str:
    """``valid`` forged the way ``how`` names; ``other`` is the value made the right way with another secret."""
    flip = {"A": "B"}
    forged = {
        "empty": "",
        "drop-last": valid[:-1],
        "drop-first": valid[1:],
        "first-half": valid[: len(valid) // 2],
        "append-A": valid + "A",
        "append-=": valid + "=",
        "flip-first": flip.get(valid[0], "A") + valid[1:],
        "flip-last": valid[:-1] + flip.get(valid[-1], "A"),
        "swap-case": valid.swapcase(),
        "reverse": valid[::-1],
        "repeat": valid * 2,
        "zeros": re.sub(r"[A-Za-z0-9]", "0", valid),
        "other-key": other,
        "other-key-truncated": other[:-2],
    }
    return forged[how]


def forgeries(valid: str, *, other: str) -> dict[str, str]:
    """Every forgery of the corpus that differs from the valid value (swap-case of a value without letters
    does not, for one)."""
    assert set(FORGERIES) <= {"empty", "drop-last", "drop-first", "first-half", "append-A", "append-=", "flip-first",
                              "flip-last", "swap-case", "reverse", "repeat", "zeros", "other-key",
                              "other-key-truncated"}
    made = {how: forge(valid, how, other=other) for how in FORGERIES}
    return {how: value for how, value in made.items() if value != valid}


@pytest.fixture
async def client(aiohttp_client: ClientFactory, tmp_path: Path, fake_twilio: FakeTwilio,
                 fake_telegram: FakeTelegram) -> TestClient[Any, Any]:
    settings = Settings(
        data_dir=tmp_path, public_url=fake_twilio.public_url, secret_key=SURVEY_SECRET,
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
        twilio_whatsapp_from=SENDER.removeprefix("whatsapp:"), twilio_api_base_url=fake_twilio.base_url,
        telegram_bot_token=TELEGRAM_TOKEN, telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base_url=fake_telegram.base_url,
    )
    return await aiohttp_client(create_app(settings, classifier=ScriptedClassifier(), scheduler=False))


async def test_forged_twilio_signatures_are_refused(client: TestClient[Any, Any], fake_twilio: FakeTwilio) -> None:
    inbound_url = f"{fake_twilio.public_url}/webhooks/twilio/whatsapp"
    form = fake_twilio.inbound_form(USER, "halo")
    status_url = f"{fake_twilio.public_url}{STATUS_PATH}?m=1"
    status_form = {"MessageSid": "SM" + "5" * 32, "MessageStatus": "failed", "ErrorCode": "63003",
                   "AccountSid": ACCOUNT_SID}
    other = RequestValidator("e" * 32)
    statuses = {}
    for url, body in ((inbound_url, form), (status_url, status_form)):
        valid = fake_twilio.sign(url, body)
        for how, forged in forgeries(valid, other=other.compute_signature(url, body)).items():
            response = await fake_twilio.post_signed(client, url, body, signature=forged)
            statuses[(urlsplit(url).path, how)] = response.status
    assert len(statuses) >= 2 * (len(FORGERIES) - 1)
    assert set(statuses.values()) == {403}
    assert await InboxEntry.all().count() == 0
    assert await Message.all().count() == 0
    # The control: the same post, signed with the auth token, is taken.
    assert (await fake_twilio.post_signed(client, inbound_url, form)).status == 200


async def test_forged_telegram_webhook_secrets_are_refused(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.message_update(5550003, "halo")
    made = forgeries(TELEGRAM_SECRET, other=derived_secret(TELEGRAM_TOKEN))
    statuses = {how: (await client.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: forged})).status
                for how, forged in made.items()}
    assert len(statuses) >= len(FORGERIES) - 1
    assert set(statuses.values()) == {403}
    assert (await client.post("/webhooks/telegram", json=update)).status == 403  # no header at all
    assert await InboxEntry.all().count() == 0
    # The control: the configured secret is let in.
    accepted = await client.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET})
    assert accepted.status == 200


async def test_forged_survey_tokens_are_refused(client: TestClient[Any, Any]) -> None:
    now = datetime.now(UTC)
    contact = await Contact.create(name="Ana")
    identity = await ChannelIdentity.create(contact=contact, channel=ChannelKind.TELEGRAM, external_id="5550004")
    conversation = await Conversation.create(contact=contact, identity=identity, channel=ChannelKind.TELEGRAM)
    ticket = await Ticket.create(number="CC-2612-000009", conversation=conversation, contact=contact,
                                 channel=ChannelKind.TELEGRAM, reason=HandoffReason.USER_REQUEST, opened_at=now,
                                 due_at=now + timedelta(hours=24), survey_sent_at=now)
    valid = make_link_token(ticket_id=ticket.id, secret=SURVEY_SECRET)
    other = make_link_token(ticket_id=ticket.id, secret="another-secret-" + "y" * 32)
    statuses = {}
    for how, forged in forgeries(valid, other=other).items():
        page = await client.get(f"/survey/{quote(forged, safe='')}")
        submitted = await client.post(f"/survey/{quote(forged, safe='')}", data={"rating": "1"})
        statuses[how] = (page.status, submitted.status)
    assert len(statuses) >= len(FORGERIES) - 1
    assert set(statuses.values()) == {(404, 404)}
    await ticket.refresh_from_db()
    assert (ticket.survey_rating, ticket.flagged) == (None, False)
    # The control: the real link opens the survey.
    assert (await client.get(f"/survey/{valid}")).status == 200


async def test_forged_media_url_tokens_are_refused(client: TestClient[Any, Any]) -> None:
    assert client.app is not None
    channel = client.app[REGISTRY].get(ChannelKind.WHATSAPP)
    assert isinstance(channel, WhatsAppChannel)
    assert channel.store is not None
    contact = await Contact.create(name="Ana")
    identity = await ChannelIdentity.create(contact=contact, channel=ChannelKind.WHATSAPP, external_id=USER)
    conversation = await Conversation.create(contact=contact, identity=identity, channel=ChannelKind.WHATSAPP)
    message = await Message.create(conversation=conversation, channel=ChannelKind.WHATSAPP,
                                   direction=Direction.OUTBOUND, sender_kind=SenderKind.AGENT, text="")
    (row,) = await channel.store.keep_all(message=message, files=[NewFile("jadwal.pdf", "application/pdf",
                                                                           b"%PDF-1.4 jadwal")])
    item = OutboundAttachment(id=row.id, filename=row.filename, content_type=row.content_type, size=row.size,
                              storage_key=row.storage_key or "")
    path = urlsplit(channel.media_url(item)).path
    prefix, signature, name = path.rsplit("/", 2)
    expires = int(prefix.rsplit("/", 1)[1])
    stranger = WhatsAppChannel(account_sid=ACCOUNT_SID, auth_token="e" * 32, from_number=SENDER)
    made = forgeries(signature, other=stranger._media_signature(row.id, expires))
    statuses = {how: (await client.get(f"{prefix}/{quote(forged, safe='')}/{name}")).status
                for how, forged in made.items()}
    assert len(statuses) >= len(FORGERIES) - 1
    assert set(statuses.values()) == {404}
    # The control: the link we made serves the file.
    assert (await client.get(path)).status == 200
    await client.app[INBOUND].idle()
