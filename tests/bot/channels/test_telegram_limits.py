"""Telegram's flood limits on outbound messages, against the loopback Bot API that records when each call came.

Only lower bounds on spacing are asserted (what Telegram enforces); nothing here asserts that anything is fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_limits import CHAT_BURST, CHAT_RATE
from handoff.delivery import Capabilities, ChannelRegistry, DeliveryError, OutboundMessage, SendResult, throttled_until
from handoff.outbox import MAX_ATTEMPTS, THROTTLE_DEADLINE, THROTTLE_EVENT, drain
from handoff.tickets import open_ticket
from models import (
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    DeliveryStatus,
    Direction,
    HandoffReason,
    Message,
    SenderKind,
    TicketEvent,
)
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuv"
SLACK = 0.05  # aiolimiter and the fake read the same monotonic clock; this covers rounding only


@pytest.fixture
async def channel(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    telegram = TelegramChannel(token=TOKEN, api_base_url=fake_telegram.base_url, public_url="https://x.example")
    await telegram.application.initialize()
    try:
        yield telegram
    finally:
        await telegram.stop()


def outbound(chat: int, text: str, message_id: int = 1) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, channel=ChannelKind.TELEGRAM, recipient=str(chat), text=text)


def send_times(fake: FakeTelegram, chat: int) -> list[float]:
    return [c.at for c in fake.calls if c.method == "sendMessage" and int(c.params["chat_id"]) == chat]


async def test_one_private_chat_gets_a_short_burst_then_about_one_message_a_second(
    channel: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    busy, other = 5550001, 5550002
    texts = [f"bagian {n}" for n in range(CHAT_BURST + 3)]
    await asyncio.gather(
        *(channel.send(outbound(busy, text)) for text in texts),
        channel.send(outbound(other, "untuk chat lain")),
    )
    times = send_times(fake_telegram, busy)
    assert fake_telegram.texts(busy) == texts  # in order, each once
    for n in range(CHAT_BURST, len(times)):
        # The bucket holds CHAT_BURST and drains CHAT_RATE per second.
        assert times[n] - times[0] >= (n - CHAT_BURST + 1) / CHAT_RATE - SLACK
    # Another chat is not queued behind the busy one.
    assert send_times(fake_telegram, other)[0] < times[-1]
    assert fake_telegram.texts(other) == ["untuk chat lain"]


async def test_a_429_pauses_every_chat_for_retry_after_and_nothing_is_doubled(
    channel: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    first_task = asyncio.create_task(channel.send(outbound(1001, "pertama")))
    for _ in range(500):
        if fake_telegram.calls and fake_telegram.calls[-1].status == 429:
            break
        await asyncio.sleep(0.01)
    # Chat 1002 asks while chat 1001 is waiting out Telegram's 429.
    second = await channel.send(outbound(1002, "kedua"))
    first = await first_task
    calls = [c for c in fake_telegram.calls if c.method == "sendMessage"]
    assert calls[0].status == 429
    assert sorted((int(c.params["chat_id"]), c.status) for c in calls[1:]) == [(1001, 200), (1002, 200)]
    assert all(c.at - calls[0].at >= 1.0 - SLACK for c in calls[1:])
    assert sorted(fake_telegram.texts()) == ["kedua", "pertama"]
    assert first.status == second.status == DeliveryStatus.SENT


async def test_a_long_retry_after_keeps_every_chat_off_telegram_until_it_is_over(
    channel: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 600", retry_after=600)
    with pytest.raises(DeliveryError, match="retry after 600") as first:
        await channel.send(outbound(1001, "pertama"))
    with pytest.raises(DeliveryError, match="retry after") as second:
        await channel.send(outbound(1002, "kedua"))
    assert not first.value.permanent
    assert not second.value.permanent
    # The second message never reached Telegram: it waits in the outbox, as the first does.
    assert [c.status for c in fake_telegram.calls if c.method == "sendMessage"] == [429]


@dataclass
class TimedChannel:
    """Another channel whose sends are stamped with the loop's clock, the one aiolimiter and the fake use."""

    kind: ChannelKind = ChannelKind.WHATSAPP
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(buttons=False))
    sent_at: list[float] = field(default_factory=list)

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent_at.append(asyncio.get_running_loop().time())
        return SendResult(provider_message_id=f"timed-{message.message_id}")


async def queued(channel: ChannelKind, external_id: str, texts: list[str]) -> list[Message]:
    contact = await Contact.create()
    identity = await ChannelIdentity.create(contact=contact, channel=channel, external_id=external_id)
    conversation = await Conversation.create(contact=contact, identity=identity, channel=channel)
    return [
        await Message.create(conversation=conversation, channel=channel, direction=Direction.OUTBOUND,
                             sender_kind=SenderKind.AGENT, text=text, delivery_status=DeliveryStatus.QUEUED)
        for text in texts
    ]


async def test_a_throttled_telegram_chat_does_not_hold_up_other_channels_in_the_outbox(
    db: str, channel: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    chat = 5550003
    telegram_rows = await queued(ChannelKind.TELEGRAM, str(chat), [f"antrean {n}" for n in range(CHAT_BURST + 2)])
    whatsapp_rows = await queued(ChannelKind.WHATSAPP, "whatsapp:+6281200000009", ["balasan WhatsApp"])
    other = TimedChannel()
    registry = ChannelRegistry()
    registry.add(channel)
    registry.add(other)
    later = max(m.created_at for m in telegram_rows + whatsapp_rows) + timedelta(hours=1)
    assert await drain(registry=registry, now=later) == len(telegram_rows) + 1
    times = send_times(fake_telegram, chat)
    assert fake_telegram.texts(chat) == [m.text for m in telegram_rows]
    assert times[-1] - times[0] >= 2 / CHAT_RATE - SLACK  # the chat really was throttled...
    assert len(other.sent_at) == 1
    assert other.sent_at[0] < times[-1]  # ...and WhatsApp did not wait for it
    statuses = await Message.all().values_list("delivery_status", flat=True)
    assert set(statuses) == {DeliveryStatus.SENT}
    assert await drain(registry=registry, now=later + timedelta(days=1)) == 0
    assert len(fake_telegram.texts(chat)) == len(telegram_rows)


def registry_of(channel: TelegramChannel) -> ChannelRegistry:
    registry = ChannelRegistry()
    registry.add(channel)
    return registry


def next_try(message: Message) -> datetime:
    until = throttled_until(message.delivery_error)
    assert until is not None, message.delivery_error
    return until


async def test_a_429_and_the_pause_it_starts_cost_no_try_and_the_rows_go_after_retry_after(
    db: str, fake_telegram: FakeTelegram
) -> None:
    # No waiting in place: every 429 goes back to the outbox, whose bookkeeping is what is tested here.
    channel = TelegramChannel(token=TOKEN, api_base_url=fake_telegram.base_url, public_url="https://x.example",
                              max_inline_wait=0)
    await channel.application.initialize()
    try:
        worn, fresh = await queued(ChannelKind.TELEGRAM, "5550004", ["sudah dicoba 7 kali", "belum dicoba"])
        # Written two hours ago, with seven real failures since (Telegram down): one more failed try and the
        # outbox gives the first row up. Real time, as Telegram's retry_after is.
        await Message.filter(id__in=[worn.id, fresh.id]).update(created_at=datetime.now(UTC) - timedelta(hours=2))
        await Message.filter(id=worn.id).update(attempts=MAX_ATTEMPTS - 1, delivery_error="telegram unavailable")
        fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        assert await drain(registry=registry_of(channel), now=datetime.now(UTC)) == 2
        # The first got the 429; the second, in the same lane after it, was held back by the pause.
        assert [c.status for c in fake_telegram.calls if c.method == "sendMessage"] == [429]
        await worn.refresh_from_db()
        await fresh.refresh_from_db()
        assert (worn.delivery_status, worn.attempts) == (DeliveryStatus.QUEUED, MAX_ATTEMPTS - 1)
        assert (fresh.delivery_status, fresh.attempts) == (DeliveryStatus.QUEUED, 0)
        assert worn.delivery_error is not None
        assert "retry after 1" in worn.delivery_error
        # Rescheduled at Telegram's retry_after, not at the backoff: nothing goes before it.
        until = max(next_try(worn), next_try(fresh))
        assert until - datetime.now(UTC) <= timedelta(seconds=3)
        assert await drain(registry=registry_of(channel), now=until - timedelta(seconds=1)) == 0
        await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()))
        assert await drain(registry=registry_of(channel), now=until) == 2
        await worn.refresh_from_db()
        await fresh.refresh_from_db()
        assert (worn.delivery_status, worn.attempts) == (DeliveryStatus.SENT, MAX_ATTEMPTS)
        assert (fresh.delivery_status, fresh.attempts) == (DeliveryStatus.SENT, 1)
        assert fake_telegram.texts(5550004) == ["sudah dicoba 7 kali", "belum dicoba"]
    finally:
        await channel.stop()


@pytest.mark.parametrize(
    ("retry_after", "checked_after"),
    [
        (600, THROTTLE_DEADLINE),  # a row throttled again and again is still waiting when the deadline comes
        # Telegram's own retry_after ends past the deadline: given up at once, not left waiting for a day.
        (int(THROTTLE_DEADLINE.total_seconds()) + 60, timedelta(minutes=3)),
    ],
)
async def test_a_message_throttled_past_the_deadline_fails_with_the_reason_on_its_ticket(
    db: str, channel: TelegramChannel, fake_telegram: FakeTelegram, retry_after: int, checked_after: timedelta
) -> None:
    (reply,) = await queued(ChannelKind.TELEGRAM, "5550005", ["balasan agen"])
    conversation = await Conversation.get(id=reply.conversation_id)  # type: ignore[attr-defined]
    ticket = await open_ticket(conversation=conversation, reason=HandoffReason.USER_REQUEST, now=reply.created_at)
    fake_telegram.fail("sendMessage", 429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
    assert await drain(registry=registry_of(channel), now=reply.created_at + timedelta(minutes=2)) == 1
    await reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.QUEUED
    assert await drain(registry=registry_of(channel), now=reply.created_at + checked_after) == 0
    await reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.FAILED
    assert reply.attempts == 0
    assert reply.delivery_error is not None
    assert reply.delivery_error.startswith("gave up: provider throttling kept it from going out within 24 h")
    assert f"retry after {retry_after}" in reply.delivery_error
    events = await TicketEvent.filter(ticket=ticket, kind=THROTTLE_EVENT).values_list("data", flat=True)
    assert len(events) == 1
    assert events[0]["message_id"] == reply.id
    assert events[0]["channel"] == "telegram"
    assert [c.status for c in fake_telegram.calls if c.method == "sendMessage"] == [429]  # never sent after
    assert await drain(registry=registry_of(channel), now=reply.created_at + timedelta(days=2)) == 0
