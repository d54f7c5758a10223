"""Replies lost in flight (issue 10, defect 7): a WhatsApp row left ``unknown`` by a send cut off mid-way is
asked about on Twilio's Messages list by the outbox, and ends sent exactly once.

The real twilio client against the loopback fake; the fake ``stall``s a create (after creating the message,
or before) and the test cancels the sending task there, as a SIGKILL between the claim and Twilio's answer
would leave it. Each test fails on the build before reconcile, where such a row stayed ``unknown``.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import REGISTRY
from bot.channels.whatsapp import WhatsAppChannel
from handoff.delivery import ChannelRegistry, LooksUpSent, send_text
from handoff.outbox import BASE_DELAY, RECONCILE_GRACE, THROTTLE_DEADLINE, UNCONFIRMED_EVENT, drain, reconcile
from models import (
    ChannelIdentity,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    SenderKind,
    TicketEvent,
)
from tests.bot.channels.test_whatsapp import (
    TEMPLATE,
    USER,
    ClientFactory,
    say,
    settings_for,
    start,
)
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio

TEXT = "Halo Budi, password sudah kami reset."


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> TestClient[Any, Any]:
    return await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path))


def registry_of(client: TestClient[Any, Any]) -> ChannelRegistry:
    assert client.app is not None
    registry: ChannelRegistry = client.app[REGISTRY]
    return registry


async def cut_off_reply(client: TestClient[Any, Any], fake: FakeTwilio, *, created: bool, text: str = TEXT) -> Message:
    """An agent's reply whose send is killed while Twilio holds the request: ``created`` says whether
    Twilio had created the message by then. Returns the row, left ``unknown``."""
    conversation = await Conversation.get(channel=ChannelKind.WHATSAPP)
    fake.stalled.clear()
    fake.stall(created=created)
    task = asyncio.create_task(send_text(registry=registry_of(client), conversation=conversation, text=text,
                                         sender_kind=SenderKind.AGENT))
    await asyncio.wait_for(fake.stalled.wait(), 10)
    task.cancel()  # the process dies here: nothing after the claim runs
    with suppress(asyncio.CancelledError):
        await task
    row = await Message.filter(direction=Direction.OUTBOUND).order_by("-id").first()
    assert row is not None
    assert row.text == text
    assert row.delivery_status == DeliveryStatus.UNKNOWN
    assert row.claimed_at is not None
    return row


def past_grace(row: Message) -> datetime:
    assert row.claimed_at is not None
    return row.claimed_at + RECONCILE_GRACE + timedelta(seconds=1)


async def test_a_reply_twilio_took_before_the_kill_is_marked_sent_and_never_sent_again(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    row = await cut_off_reply(client, fake_twilio, created=True)
    took = fake_twilio.messages[-1]
    await drain(registry=registry_of(client), now=past_grace(row))
    await row.refresh_from_db()
    assert (row.delivery_status, row.provider_message_id, row.attempts) == (DeliveryStatus.SENT, took["sid"], 1)
    # Asked by recipient and sender, not by DateSent: Twilio had not sent it yet (date_sent empty).
    assert fake_twilio.list_requests[-1]["To"] == USER
    assert fake_twilio.list_requests[-1]["From"] == SENDER
    assert "DateSent>" not in fake_twilio.list_requests[-1]
    for later in (BASE_DELAY, BASE_DELAY * 100, THROTTLE_DEADLINE * 2):
        await drain(registry=registry_of(client), now=past_grace(row) + later)
    assert fake_twilio.bodies(USER).count(TEXT) == 1
    # Its status callbacks apply to it as to any sent row.
    took["StatusCallback"] = f"{fake_twilio.public_url}/webhooks/twilio/status?m={row.id}"
    await fake_twilio.status_callback(client, took, "delivered")
    await row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.DELIVERED


async def test_a_reply_twilio_never_received_is_sent_exactly_once(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    row = await cut_off_reply(client, fake_twilio, created=False)
    assert fake_twilio.bodies(USER).count(TEXT) == 0
    await drain(registry=registry_of(client), now=past_grace(row))
    await row.refresh_from_db()
    assert fake_twilio.bodies(USER).count(TEXT) == 1
    assert row.delivery_status == DeliveryStatus.SENT
    assert row.provider_message_id == fake_twilio.messages[-1]["sid"]
    assert row.attempts == 2  # the killed claim counts as a try, then the one that went
    for later in (BASE_DELAY, BASE_DELAY * 100):
        await drain(registry=registry_of(client), now=past_grace(row) + later)
    assert fake_twilio.bodies(USER).count(TEXT) == 1


async def test_a_claim_younger_than_the_grace_is_not_touched(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    """A send still in flight (a slow Twilio) must not be judged: it would look "never received"."""
    await say(client, fake_twilio, "halo")
    row = await cut_off_reply(client, fake_twilio, created=False)
    assert row.claimed_at is not None
    asked = len(fake_twilio.list_requests)
    young = row.claimed_at + RECONCILE_GRACE - timedelta(seconds=1)
    assert await reconcile(registry=registry_of(client), now=young) == 0
    await drain(registry=registry_of(client), now=young)
    await row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.UNKNOWN
    assert len(fake_twilio.list_requests) == asked
    assert fake_twilio.bodies(USER).count(TEXT) == 0
    # Past the grace it is asked about, and goes.
    await drain(registry=registry_of(client), now=past_grace(row))
    assert len(fake_twilio.list_requests) == asked + 1
    assert fake_twilio.bodies(USER).count(TEXT) == 1


async def test_when_twilio_cannot_answer_the_row_stays_unknown_and_is_asked_again(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    row = await cut_off_reply(client, fake_twilio, created=False)
    fake_twilio.fail_list(500, 20500, "Internal Server Error")
    asked = len(fake_twilio.list_requests)
    await drain(registry=registry_of(client), now=past_grace(row))
    await row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.UNKNOWN
    assert len(fake_twilio.list_requests) == asked + 1
    assert fake_twilio.bodies(USER).count(TEXT) == 0
    await drain(registry=registry_of(client), now=past_grace(row) + timedelta(seconds=10))
    await row.refresh_from_db()
    assert len(fake_twilio.list_requests) == asked + 2
    assert row.delivery_status == DeliveryStatus.SENT
    assert fake_twilio.bodies(USER).count(TEXT) == 1


async def test_a_row_twilio_never_confirms_fails_at_the_deadline_with_a_ticket_event(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    await say(client, fake_twilio, "agen")  # a ticket, so the agent can be told
    row = await cut_off_reply(client, fake_twilio, created=False)
    fake_twilio.fail_list(503, 20503, "Service Unavailable", times=2)
    await reconcile(registry=registry_of(client), now=row.created_at + THROTTLE_DEADLINE - timedelta(minutes=1))
    await row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.UNKNOWN
    await reconcile(registry=registry_of(client), now=row.created_at + THROTTLE_DEADLINE)
    await row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.FAILED
    assert row.delivery_error is not None
    assert "could not confirm" in row.delivery_error
    assert await TicketEvent.filter(kind=UNCONFIRMED_EVENT).count() == 1
    assert fake_twilio.bodies(USER).count(TEXT) == 0


async def test_a_twilio_5xx_on_create_is_asked_about_and_sent_once(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    """Twilio's 5xx leaves the row ``unknown`` in a process that lives on (deliver saved its try)."""
    await say(client, fake_twilio, "halo")
    conversation = await Conversation.get(channel=ChannelKind.WHATSAPP)
    fake_twilio.fail(500, 20500)
    row = await send_text(registry=registry_of(client), conversation=conversation, text=TEXT,
                          sender_kind=SenderKind.AGENT)
    await row.refresh_from_db()
    assert (row.delivery_status, row.attempts) == (DeliveryStatus.UNKNOWN, 1)
    await drain(registry=registry_of(client), now=past_grace(row))
    await row.refresh_from_db()
    assert (row.delivery_status, row.attempts) == (DeliveryStatus.SENT, 2)
    assert fake_twilio.bodies(USER).count(TEXT) == 1


@pytest.mark.parametrize("created", [True, False])
async def test_two_workers_reconciling_at_once_send_once(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio, created: bool
) -> None:
    await say(client, fake_twilio, "halo")
    row = await cut_off_reply(client, fake_twilio, created=created)
    # A second worker process: its own channel and twilio client, the same database.
    other = WhatsAppChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=SENDER,
                            api_base_url=fake_twilio.base_url, public_url=fake_twilio.public_url)
    await other.start()
    try:
        second = ChannelRegistry()
        second.add(other)
        await asyncio.gather(drain(registry=registry_of(client), now=past_grace(row)),
                             drain(registry=second, now=past_grace(row)))
        await asyncio.gather(drain(registry=registry_of(client), now=past_grace(row) + BASE_DELAY * 100),
                             drain(registry=second, now=past_grace(row) + BASE_DELAY * 100))
    finally:
        await other.stop()
    await row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.SENT
    assert fake_twilio.bodies(USER).count(TEXT) == 1


async def test_later_replies_wait_for_the_cut_off_one_and_the_person_gets_them_in_order(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    row = await cut_off_reply(client, fake_twilio, created=False)
    conversation = await Conversation.get(channel=ChannelKind.WHATSAPP)
    later = await send_text(registry=registry_of(client), conversation=conversation, text="Ada lagi yang bisa dibantu?",
                            sender_kind=SenderKind.AGENT)
    await later.refresh_from_db()
    assert (later.delivery_status, later.attempts) == (DeliveryStatus.QUEUED, 0)  # held, not a try
    await drain(registry=registry_of(client), now=past_grace(row) - timedelta(seconds=2))
    assert TEXT not in fake_twilio.bodies(USER)
    assert "Ada lagi yang bisa dibantu?" not in fake_twilio.bodies(USER)
    await drain(registry=registry_of(client), now=past_grace(row))
    assert fake_twilio.bodies(USER)[-2:] == [TEXT, "Ada lagi yang bisa dibantu?"]


async def test_a_template_send_is_found_by_its_rendered_text(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    """The list has no ContentSid: a template send is told by the variable we filled in its text."""
    client = await start(aiohttp_client, settings_for(fake_twilio, db_url, tmp_path,
                                                      twilio_templates={"agent_reply": TEMPLATE}))
    await say(client, fake_twilio, "halo")
    await ChannelIdentity.filter(channel=ChannelKind.WHATSAPP).update(
        last_inbound_at=datetime.now(UTC) - timedelta(hours=25)
    )
    row = await cut_off_reply(client, fake_twilio, created=True, text="Halo,\nsudah selesai.")
    took = fake_twilio.messages[-1]
    assert json.loads(took["ContentVariables"]) == {"1": "Halo, sudah selesai."}
    await drain(registry=registry_of(client), now=past_grace(row))
    await row.refresh_from_db()
    assert (row.delivery_status, row.provider_message_id) == (DeliveryStatus.SENT, took["sid"])
    assert len([m for m in fake_twilio.messages if m.get("ContentSid") == TEMPLATE]) == 1


async def test_a_reply_sent_twice_before_is_not_taken_for_the_cut_off_one(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    """The same words sent earlier belong to their own row (its SID): the cut-off one is still sent."""
    await say(client, fake_twilio, "halo")
    conversation = await Conversation.get(channel=ChannelKind.WHATSAPP)
    await send_text(registry=registry_of(client), conversation=conversation, text=TEXT, sender_kind=SenderKind.AGENT)
    row = await cut_off_reply(client, fake_twilio, created=False)
    await drain(registry=registry_of(client), now=past_grace(row))
    await row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.SENT
    assert fake_twilio.bodies(USER).count(TEXT) == 2


def test_whatsapp_can_be_asked_and_the_grace_outlasts_its_http_timeout() -> None:
    from bot.channels.whatsapp import TWILIO_TIMEOUT

    assert issubclass(WhatsAppChannel, LooksUpSent)
    assert timedelta(seconds=TWILIO_TIMEOUT * 2) < RECONCILE_GRACE


async def test_a_row_left_unknown_before_claims_were_timed_counts_from_when_it_was_written(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    """Rows an older build left ``unknown`` have no claimed_at: they are reconciled too, once."""
    await say(client, fake_twilio, "halo")
    row = await cut_off_reply(client, fake_twilio, created=False)
    await Message.filter(id=row.id).update(claimed_at=None)
    await row.refresh_from_db()
    grace_ends = row.created_at + RECONCILE_GRACE
    assert await reconcile(registry=registry_of(client), now=grace_ends - timedelta(seconds=1)) == 0
    await drain(registry=registry_of(client), now=grace_ends + timedelta(seconds=1))
    await row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.SENT
    assert fake_twilio.bodies(USER).count(TEXT) == 1


async def test_a_long_reply_cut_off_after_its_first_part_is_failed_as_partly_sent_not_repeated(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    await say(client, fake_twilio, "halo")
    long_text = " ".join(["kata"] * 500)  # 2,499 characters: two parts under Twilio's 1,600
    row = await cut_off_reply(client, fake_twilio, created=True, text=long_text)
    first = fake_twilio.messages[-1]
    await drain(registry=registry_of(client), now=past_grace(row))
    await row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.FAILED
    assert row.delivery_error is not None
    assert row.delivery_error.startswith("partly sent: twilio has 1 of its 2 parts")
    assert row.provider_message_id == first["sid"]
    await drain(registry=registry_of(client), now=past_grace(row) + BASE_DELAY * 100)
    assert [m["sid"] for m in fake_twilio.messages if m.get("Body", "").startswith("kata")] == [first["sid"]]
