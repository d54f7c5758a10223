"""The outbox: queued messages retried with backoff, unknown ones never resent, restarts pick up the rest."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from handoff.delivery import (
    Capabilities,
    ChannelRegistry,
    DeliveryError,
    OutboundMessage,
    SendResult,
    deliver,
    send_text,
)
from handoff.outbox import BASE_DELAY, MAX_ATTEMPTS, UNTRIED_GRACE, drain, due_at
from models import ChannelKind, Conversation, DeliveryStatus, Direction, Message, SenderKind
from tests.conftest import FlowHarness


@dataclass
class FlakyChannel:
    """Fails the first ``failures`` sends with a transient error, then takes everything."""

    failures: int = 0
    delay: float = 0.0
    kind: ChannelKind = ChannelKind.TELEGRAM
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(buttons=True))
    sent: list[OutboundMessage] = field(default_factory=list)

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryError("provider down")
        self.sent.append(message)
        return SendResult(provider_message_id=f"flaky-{message.message_id}")


async def queued_reply(flow: FlowHarness, channel: FlakyChannel) -> tuple[ChannelRegistry, Message]:
    await flow.send("halo")
    registry = ChannelRegistry()
    registry.add(channel)
    conversation = await Conversation.get()
    message = await send_text(registry=registry, conversation=conversation, text="Balasan agen",
                              sender_kind=SenderKind.AGENT)
    await message.refresh_from_db()
    return registry, message


async def test_a_failed_send_is_retried_after_the_backoff(flow: FlowHarness) -> None:
    channel = FlakyChannel(failures=1)
    registry, message = await queued_reply(flow, channel)
    assert (message.delivery_status, message.attempts) == (DeliveryStatus.QUEUED, 1)
    assert await drain(registry=registry, now=message.created_at + BASE_DELAY / 2) == 0
    assert await drain(registry=registry, now=message.created_at + BASE_DELAY) == 1
    await message.refresh_from_db()
    assert (message.delivery_status, message.attempts) == (DeliveryStatus.SENT, 2)
    assert [m.text for m in channel.sent] == ["Balasan agen"]
    assert await drain(registry=registry, now=message.created_at + BASE_DELAY * 100) == 0


def test_backoff_doubles() -> None:
    flow_time = datetime(2026, 11, 24, tzinfo=UTC)
    message = Message(attempts=0)
    message.created_at = flow_time
    assert due_at(message) == flow_time + UNTRIED_GRACE
    gaps = []
    for attempts in range(1, 5):
        message.attempts = attempts
        gaps.append(due_at(message) - flow_time)
    assert gaps == [BASE_DELAY, BASE_DELAY * 3, BASE_DELAY * 7, BASE_DELAY * 15]


async def test_an_unknown_outcome_is_never_resent(flow: FlowHarness) -> None:
    channel = FlakyChannel(failures=1)
    registry, message = await queued_reply(flow, channel)
    await Message.filter(id=message.id).update(delivery_status=DeliveryStatus.UNKNOWN)
    assert await drain(registry=registry, now=message.created_at + BASE_DELAY * 100) == 0
    await deliver(registry=registry, message=message)  # even a direct call does not resend it
    assert channel.sent == []


async def test_after_a_restart_untried_rows_are_sent_once(flow: FlowHarness) -> None:
    await flow.send("halo")
    conversation = await Conversation.get()
    # The process died between writing the row and trying it.
    message = await Message.create(conversation=conversation, channel=ChannelKind.TELEGRAM,
                                   direction=Direction.OUTBOUND, sender_kind=SenderKind.AGENT, text="Halo lagi",
                                   delivery_status=DeliveryStatus.QUEUED)
    channel = FlakyChannel()
    registry = ChannelRegistry()
    registry.add(channel)
    assert await drain(registry=registry, now=message.created_at) == 0  # maybe still being sent
    assert await drain(registry=registry, now=message.created_at + UNTRIED_GRACE) == 1
    assert await drain(registry=registry, now=message.created_at + UNTRIED_GRACE * 100) == 0
    assert [m.text for m in channel.sent] == ["Halo lagi"]


async def test_two_workers_never_send_the_same_row(flow: FlowHarness) -> None:
    channel = FlakyChannel(failures=1)
    registry, message = await queued_reply(flow, channel)
    channel.delay = 0.2
    later = message.created_at + BASE_DELAY
    await asyncio.gather(drain(registry=registry, now=later), drain(registry=registry, now=later))
    assert [m.text for m in channel.sent] == ["Balasan agen"]


async def test_gives_up_after_the_last_attempt(flow: FlowHarness) -> None:
    channel = FlakyChannel(failures=100)
    registry, message = await queued_reply(flow, channel)
    now = message.created_at
    for _ in range(MAX_ATTEMPTS + 2):
        now += BASE_DELAY * 2**MAX_ATTEMPTS
        await drain(registry=registry, now=now)
    await message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.attempts == MAX_ATTEMPTS
    assert message.delivery_error is not None
    assert message.delivery_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")


async def test_a_channel_that_is_not_configured_keeps_its_rows(flow: FlowHarness) -> None:
    channel = FlakyChannel(failures=1)
    _registry, message = await queued_reply(flow, channel)
    empty = ChannelRegistry()
    assert await drain(registry=empty, now=message.created_at + BASE_DELAY * 100) == 0
    await message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.QUEUED
