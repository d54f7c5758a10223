"""What agents see about a ticket's channels: the WhatsApp window and its warning, and an unreachable user."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bot.app import FLOW, REGISTRY
from bot.channels.base import InboundMessage
from bot.channels.memory import MemoryChannel
from bot.conversation.inline import handle_inbound
from handoff.auth import create_api_token
from handoff.delivery import Capabilities, DeliveryError, OutboundMessage, SendResult
from handoff.reachability import EVENT as UNREACHABLE
from handoff.whatsapp_window import LIVE_EVENT, sweep
from models import (
    ChannelIdentity,
    ChannelKind,
    DeliveryStatus,
    Message,
    Ticket,
    TicketEvent,
    UserRole,
)
from tests.conftest import prove_address
from tests.handoff.console.conftest import Console, Served

NUMBER = "whatsapp:+6281200000001"


async def wa_say(served: Served, text: str) -> None:
    served.counter += 1
    await handle_inbound(
        InboundMessage(channel=ChannelKind.WHATSAPP, external_id=NUMBER, provider_message_id=f"SM{served.counter}",
                       text=text, received_at=datetime.now(UTC), phone=NUMBER.removeprefix("whatsapp:")),
        served.app[FLOW],
    )


@dataclass
class BlockedTelegram:
    """Telegram after the user blocked the bot: every send is refused with 403."""

    kind: ChannelKind = ChannelKind.TELEGRAM
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(buttons=True))
    tried: list[OutboundMessage] = field(default_factory=list)

    async def send(self, message: OutboundMessage) -> SendResult:
        self.tried.append(message)
        raise DeliveryError("forbidden: bot was blocked by the user", permanent=True, unreachable=True)


async def api_ticket(served: Served, token: str, ticket_id: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(
        f"{served.url}/api/v1/tickets/{ticket_id}", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def page(console: Console, path: str) -> str:
    response = await console.http.get(f"{console.url}{path}")
    assert response.status == 200
    return await response.text()


async def test_a_blocked_bot_shows_on_the_ticket_with_the_other_channels_until_the_user_writes_again(
    served: Served, console: Console
) -> None:
    whatsapp = MemoryChannel(kind=ChannelKind.WHATSAPP)
    served.app[REGISTRY].add(whatsapp)
    await wa_say(served, "halo")
    await wa_say(served, "13521045")
    await prove_address(ChannelKind.WHATSAPP, NUMBER)  # proven on WhatsApp first...
    ticket = await served.hand_off(user="777")  # ...then the same student on Telegram asks for a person
    blocked = BlockedTelegram()
    served.app[REGISTRY].add(blocked)
    await console.login("ana@cc.test")
    await console.post(f"/console/t/{ticket.id}/take", {})
    await console.post(f"/console/t/{ticket.id}/reply", {"text": "Halo Budi, kami cek dulu."})

    # The reply went to Telegram, where the user wrote last, and was refused.
    assert [m.text for m in blocked.tried] == ["Halo Budi, kami cek dulu."]
    telegram = await ChannelIdentity.get(channel=ChannelKind.TELEGRAM, external_id="777")
    assert telegram.unreachable
    events = await TicketEvent.filter(ticket_id=ticket.id, kind=UNREACHABLE).values_list("data", flat=True)
    assert events == [{"channel": "telegram", "reason": "forbidden: bot was blocked by the user"}]
    conversation = await page(console, f"/console/t/{ticket.id}")
    assert "Tidak terjangkau di Telegram" in conversation
    assert "Saluran lain: WhatsApp" in conversation
    assert "Pesan tidak lagi sampai ke pengguna di saluran ini" in conversation  # the event in the history
    assert "Tidak terjangkau di Telegram" in await page(console, "/console/queue?view=mine")
    _, token = await create_api_token(name="crm", role=UserRole.AGENT)
    body = await api_ticket(served, token, ticket.id)
    assert (body["unreachable_on"], body["reachable_on"]) == (["telegram"], ["whatsapp"])

    # The next reply takes the channel that still reaches them; the ticket is not told twice.
    await console.post(f"/console/t/{ticket.id}/reply", {"text": "Sudah kami reset."})
    assert whatsapp.texts(NUMBER)[-1] == "Sudah kami reset."
    assert len(blocked.tried) == 1
    sent = await Message.filter(text="Sudah kami reset.").first()
    assert sent is not None
    assert (sent.channel, sent.delivery_status, sent.ticket_id) == (  # type: ignore[attr-defined]
        ChannelKind.WHATSAPP, DeliveryStatus.SENT, ticket.id
    )
    assert await TicketEvent.filter(ticket_id=ticket.id, kind=UNREACHABLE).count() == 1

    # Writing on Telegram again (they unblocked the bot) clears it.
    await served.say("sudah saya buka blokirnya", user="777")
    assert not (await ChannelIdentity.get(id=telegram.id)).unreachable
    assert "Tidak terjangkau" not in await page(console, f"/console/t/{ticket.id}")
    body = await api_ticket(served, token, ticket.id)
    assert (body["unreachable_on"], sorted(body["reachable_on"])) == ([], ["telegram", "whatsapp"])


async def test_a_closing_window_is_pushed_live_and_shown_in_the_queue_and_the_conversation(
    served: Served, console: Console
) -> None:
    served.app[REGISTRY].add(MemoryChannel(kind=ChannelKind.WHATSAPP))
    await wa_say(served, "halo")
    await wa_say(served, "13521045")
    await wa_say(served, "agen")
    ticket = await Ticket.get(channel=ChannelKind.WHATSAPP)
    await console.login("bayu@cc.test")
    queue = await page(console, "/console/queue?view=unassigned")
    assert "wa-window wa-open" in queue
    assert 'badge warn">segera tertutup' not in queue

    # The user wrote 23 hours ago: the window closes in an hour, inside the default two-hour lead.
    await ChannelIdentity.filter(channel=ChannelKind.WHATSAPP).update(
        last_inbound_at=datetime.now(UTC) - timedelta(hours=23)
    )
    async with console.http.ws_connect(f"{console.url}/console/ws") as ws:
        warned = await sweep(now=datetime.now(UTC), notify=served.app[FLOW].notify)
        assert [w.ticket_id for w in warned] == [ticket.id]
        frame = await asyncio.wait_for(ws.receive_json(), 10)
    assert frame == {"type": "event", "name": LIVE_EVENT,
                     "data": {"ticket_id": ticket.id, "assignee_id": None,
                              "closes_at": warned[0].closes_at.astimezone(UTC).isoformat()}}
    queue = await page(console, "/console/queue?view=unassigned")
    assert "wa-window wa-closing" in queue
    assert 'badge warn">segera tertutup' in queue
    assert "terbuka, sisa 0h 5" in queue  # 59 or 58 minutes left, depending on the second
    conversation = await page(console, f"/console/t/{ticket.id}")
    assert "wa-closing" in conversation
    assert "Jendela WhatsApp segera tertutup: pengguna menunggu balasan" in conversation
