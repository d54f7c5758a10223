"""The reply window is asked of handoff.reply_window, and delivery tells the channel the message's purpose
and when the user last wrote, so no channel reads tickets or identities to decide what to send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.channels.base import InboundMessage
from bot.channels.memory import MemoryChannel
from bot.conversation.inline import handle_inbound
from handoff.actions import reply, take_ticket
from handoff.auth import create_user
from handoff.delivery import Purpose
from handoff.reply_window import WHATSAPP, can_send_freely, closes_at, is_open
from models import ChannelKind, Ticket, UserRole
from tests.conftest import FlowHarness

NUMBER = "whatsapp:+6281200000001"
LAST = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def test_whatsapp_declares_a_window_and_other_channels_none() -> None:
    assert closes_at(ChannelKind.WHATSAPP, LAST) == LAST + timedelta(hours=24)
    assert closes_at(ChannelKind.TELEGRAM, LAST) is None
    assert closes_at(ChannelKind.WHATSAPP, None) is None
    late = LAST + WHATSAPP.length - timedelta(minutes=1)
    # The console may still write freely a minute before the end; delivery has switched to the template.
    assert (is_open(ChannelKind.WHATSAPP, LAST, late), can_send_freely(ChannelKind.WHATSAPP, LAST, late)) == (
        True, False
    )
    assert is_open(ChannelKind.WHATSAPP, None, LAST) is False  # never wrote: no window to reply in
    assert is_open(ChannelKind.TELEGRAM, None, LAST + timedelta(days=30)) is True


async def whatsapp(flow: FlowHarness, text: str) -> None:
    flow.counter += 1
    await handle_inbound(
        InboundMessage(channel=ChannelKind.WHATSAPP, external_id=NUMBER, provider_message_id=f"SM{flow.counter}",
                       text=text, received_at=flow.now, phone=NUMBER.removeprefix("whatsapp:")),
        flow.deps,
    )


async def test_delivery_tells_the_channel_the_purpose_and_the_window(flow: FlowHarness) -> None:
    channel = MemoryChannel(kind=ChannelKind.WHATSAPP)
    flow.deps.registry.add(channel)
    flow.now = datetime.now(UTC) - timedelta(hours=25)  # the channel judges by its clock, the wall's
    await whatsapp(flow, "halo")
    assert {(m.purpose, m.can_send_freely(datetime.now(UTC))) for m in channel.sent} == {(Purpose.BOT_ANSWER, False)}

    flow.now = datetime.now(UTC)
    channel.clear()
    await whatsapp(flow, "13521045")
    await whatsapp(flow, "agen")
    assert {(m.purpose, m.can_send_freely(datetime.now(UTC))) for m in channel.sent} == {(Purpose.BOT_ANSWER, True)}

    channel.clear()
    ticket = await Ticket.get(channel=ChannelKind.WHATSAPP)
    agent = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="x" * 12, name="Ana")
    taken = await take_ticket(ticket_id=ticket.id, agent=agent, now=flow.now)
    await reply(registry=flow.deps.registry, ticket=taken.ticket, agent=agent, text="Sedang kami cek.", now=flow.now)
    assert [(m.purpose, m.can_send_freely(datetime.now(UTC))) for m in channel.sent] == [(Purpose.AGENT_REPLY, True)]
